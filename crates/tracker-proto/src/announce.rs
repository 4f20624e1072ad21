//! [`AnnounceRequest`]: what a client tells a tracker, with its HTTP query form in both
//! directions (the client writes it, the tracker parses it).

use std::net::IpAddr;

use torrentkit_metainfo::InfoHash;
use torrentkit_wire::PeerId;

use crate::error::RequestError;
use crate::query;
use crate::Event;

/// An announce, as a client sends it over HTTP or UDP and as a tracker reads it.
///
/// The fields the two protocols or the two sides disagree on are settled here on purpose:
/// - `left` is an `Option`: a tracker must cope with an HTTP announce that leaves it out (such a
///   peer counts as a leecher), so the parsed request says so rather than invent a number. A
///   client always knows it ([`AnnounceRequest::new`] takes a `u64`). UDP has no "absent", so
///   `None` goes over UDP as `u64::MAX` (still a leecher).
/// - `key` is an `Option` for the same reason: absent over HTTP is not the key 0. Over UDP,
///   `None` goes as 0, and a UDP announce always parses with `Some`.
/// - `compact` and `no_peer_id` are the client's HTTP wishes (BEP 23); [`AnnounceRequest::new`]
///   sets both, as torrentkit's client reads only compact replies. UDP replies are always compact.
/// - `tracker_id` is what a previous HTTP reply's `tracker id` said; UDP has none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnounceRequest {
    /// The swarm.
    pub info_hash: InfoHash,
    /// The client's self-chosen id.
    pub peer_id: PeerId,
    /// The port the client accepts peer connections on (a tracker refuses 0).
    pub port: u16,
    /// Bytes uploaded this session (statistics only).
    pub uploaded: u64,
    /// Bytes downloaded this session (statistics only).
    pub downloaded: u64,
    /// Bytes still to download; `Some(0)` makes the peer a seeder, `None` (not sent) a leecher.
    pub left: Option<u64>,
    /// The event.
    pub event: Event,
    /// How many peers the client wants; `None` means the tracker's default.
    pub numwant: Option<u32>,
    /// Whether the client asks for compact peer lists (BEP 23, `compact=1`).
    pub compact: bool,
    /// Whether the client asks to leave peer ids out of dictionary peer lists.
    pub no_peer_id: bool,
    /// The client's `key`, proof of identity should its address change. Parsed from HTTP,
    /// hexadecimal keys of up to 8 digits (what libtorrent and most clients send, and what
    /// [`write_query`](Self::write_query) writes) are read as their value, so that an HTTP key
    /// equals the same client's UDP key; others are hashed.
    pub key: Option<u32>,
    /// The `ip=` parameter: the address the client wants announced instead of the one the
    /// tracker sees (a tracker should use it only when configured to trust it). Over UDP only
    /// an IPv4 address can be sent. BEP 7's `ipv4=` and `ipv6=` are not read.
    pub ip: Option<IpAddr>,
    /// The `trackerid` a previous reply from this tracker gave (HTTP only). A tracker that
    /// issues none ignores it, so a badly encoded one is dropped rather than refused.
    pub tracker_id: Option<Vec<u8>>,
    /// `supportcrypto=1`: the client speaks protocol encryption (MSE/PE), so the tracker may
    /// prefer it in lists for clients that require it (HTTP only).
    pub supportcrypto: bool,
    /// `requirecrypto=1`: the client accepts only encrypted connections (HTTP only).
    pub requirecrypto: bool,
}

impl AnnounceRequest {
    /// A regular announce from a client: zero counters, compact replies without peer ids, no
    /// key, event or options.
    pub fn new(info_hash: InfoHash, peer_id: PeerId, port: u16, left: u64) -> Self {
        AnnounceRequest {
            info_hash,
            peer_id,
            port,
            uploaded: 0,
            downloaded: 0,
            left: Some(left),
            event: Event::None,
            numwant: None,
            compact: true,
            no_peer_id: true,
            key: None,
            ip: None,
            tracker_id: None,
            supportcrypto: false,
            requirecrypto: false,
        }
    }

    /// Appends the HTTP query parameters to `target`: a URL or request target such as
    /// `/announce?passkey=x` (joined with `?` or `&` as it needs), or an empty string (giving a
    /// bare query).
    /// `info_hash`, `peer_id` and `trackerid` are percent-encoded; the key is 8 hex digits.
    ///
    /// ```
    /// use torrentkit_metainfo::InfoHash;
    /// use torrentkit_tracker_proto::{AnnounceRequest, Event};
    /// use torrentkit_wire::PeerId;
    ///
    /// let mut req = AnnounceRequest::new(InfoHash([0xab; 20]), PeerId(*b"-TK0100-abcdefghijkl"), 6881, 0);
    /// req.event = Event::Completed;
    /// let mut target = String::from("/announce");
    /// req.write_query(&mut target);
    /// assert!(target.starts_with("/announce?info_hash=%AB%AB"));
    /// assert!(target.ends_with("&peer_id=-TK0100-abcdefghijkl&port=6881&uploaded=0&downloaded=0&left=0&compact=1&no_peer_id=1&event=completed"));
    ///
    /// // The tracker's side reads it back.
    /// let query = target.split_once('?').unwrap().1;
    /// assert_eq!(AnnounceRequest::parse(query.as_bytes(), 4096)?, req);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_query(&self, target: &mut String) {
        let mut q = query::QueryWriter::new(target);
        q.bytes("info_hash", &self.info_hash.0);
        q.bytes("peer_id", &self.peer_id.0);
        q.plain("port", self.port);
        q.plain("uploaded", self.uploaded);
        q.plain("downloaded", self.downloaded);
        if let Some(left) = self.left {
            q.plain("left", left);
        }
        if self.compact {
            q.plain("compact", 1);
        }
        if self.no_peer_id {
            q.plain("no_peer_id", 1);
        }
        if let Some(key) = self.key {
            q.plain("key", format_args!("{key:08X}"));
        }
        if let Some(event) = self.event.as_http() {
            q.plain("event", event);
        }
        if let Some(n) = self.numwant {
            q.plain("numwant", n);
        }
        if let Some(ip) = self.ip {
            q.plain("ip", ip);
        }
        if let Some(id) = &self.tracker_id {
            q.bytes("trackerid", id);
        }
        if self.supportcrypto {
            q.plain("supportcrypto", 1);
        }
        if self.requirecrypto {
            q.plain("requirecrypto", 1);
        }
    }

    /// Parses the raw query string of `/announce` (the part after `?`), refusing queries longer
    /// than `max_len` bytes. Unknown parameters (`supportcrypto`, BEP 7's `ipv4=`, ...) are
    /// ignored; every malformed known one is an error naming it.
    ///
    /// ```
    /// use torrentkit_tracker_proto::{AnnounceRequest, Event};
    /// let q = b"info_hash=%01%02%03%04%05%06%07%08%09%0A%0B%0C%0D%0E%0F%10%11%12%13%14\
    ///           &peer_id=-XX0001-abcdefghijkl&port=6881&left=0&event=completed&compact=1";
    /// let req = AnnounceRequest::parse(q, 4096)?;
    /// assert_eq!(req.info_hash.0[19], 0x14);
    /// assert_eq!((req.port, req.left, req.event, req.compact), (6881, Some(0), Event::Completed, true));
    ///
    /// let err = AnnounceRequest::parse(b"info_hash=abc&peer_id=x&port=1", 4096).unwrap_err();
    /// assert_eq!(err.to_string(), "bad info_hash length 3 (expected 20 bytes)");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parse(raw: &[u8], max_len: usize) -> Result<AnnounceRequest, RequestError> {
        query::check_len(raw, max_len)?;
        let mut info_hash = None;
        let mut peer_id = None;
        let mut port = None;
        let mut req = AnnounceRequest {
            info_hash: InfoHash([0; 20]),
            peer_id: PeerId([0; 20]),
            port: 0,
            uploaded: 0,
            downloaded: 0,
            left: None,
            event: Event::None,
            numwant: None,
            compact: false,
            no_peer_id: false,
            key: None,
            ip: None,
            tracker_id: None,
            supportcrypto: false,
            requirecrypto: false,
        };
        for (name, value) in query::pairs(raw) {
            match name {
                b"info_hash" => query::set_once(
                    &mut info_hash,
                    query::decode_20(value, "info_hash")?,
                    "info_hash",
                )?,
                b"peer_id" => {
                    query::set_once(&mut peer_id, query::decode_20(value, "peer_id")?, "peer_id")?
                }
                b"port" => query::set_once(&mut port, query::port(value)?, "port")?,
                b"uploaded" => req.uploaded = query::number(value, "uploaded")?,
                b"downloaded" => req.downloaded = query::number(value, "downloaded")?,
                b"left" => req.left = Some(query::number(value, "left")?),
                b"event" => req.event = query::event(value)?,
                b"numwant" | b"num_want" => req.numwant = query::numwant(value)?,
                b"compact" => req.compact = query::flag(value),
                b"no_peer_id" => req.no_peer_id = query::flag(value),
                b"key" => req.key = Some(query::key(value)?),
                b"ip" if !value.is_empty() => req.ip = Some(query::parse_ip(value, "ip")?),
                b"trackerid" => req.tracker_id = query::opaque(value),
                b"supportcrypto" => req.supportcrypto = query::flag(value),
                b"requirecrypto" => req.requirecrypto = query::flag(value),
                // BEP 7's `ipv4=`/`ipv6=` hints (libtorrent and Transmission send them) are not
                // used, like other unknown parameters, and so never fail an announce.
                _ => {}
            }
        }
        req.info_hash = InfoHash(info_hash.ok_or(RequestError::Missing("info_hash"))?);
        req.peer_id = PeerId(peer_id.ok_or(RequestError::Missing("peer_id"))?);
        req.port = port.ok_or(RequestError::Missing("port"))?;
        Ok(req)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    const HASH: &str = "%01%02%03%04%05%06%07%08%09%0A%0B%0C%0D%0E%0F%10%11%12%13%14";

    fn announce(rest: &str) -> Result<AnnounceRequest, RequestError> {
        let q = format!("info_hash={HASH}&peer_id=-TK0001-123456789012&{rest}");
        AnnounceRequest::parse(q.as_bytes(), 4096)
    }

    #[test]
    fn crypto_flags_are_written_only_when_set_and_read_back() {
        let mut r = AnnounceRequest::new(InfoHash([1; 20]), PeerId([2; 20]), 6881, 0);
        let mut plain = String::new();
        r.write_query(&mut plain);
        assert!(!plain.contains("crypto"), "{plain}");
        (r.supportcrypto, r.requirecrypto) = (true, true);
        let mut q = String::new();
        r.write_query(&mut q);
        assert!(q.ends_with("&supportcrypto=1&requirecrypto=1"), "{q}");
        assert_eq!(AnnounceRequest::parse(q.as_bytes(), 4096).unwrap(), r);
    }

    #[test]
    fn parses_every_field() {
        let r = announce(
            "port=51413&uploaded=10&downloaded=20&left=30&event=started&numwant=80\
             &compact=1&no_peer_id=1&key=DEADBEEF&ip=10.0.0.1&trackerid=x&supportcrypto=1",
        )
        .unwrap();
        assert_eq!(
            r.info_hash.0,
            core::array::from_fn::<u8, 20, _>(|i| i as u8 + 1)
        );
        assert_eq!(&r.peer_id.0, b"-TK0001-123456789012");
        assert_eq!(
            (r.port, r.uploaded, r.downloaded, r.left),
            (51413, 10, 20, Some(30))
        );
        assert_eq!(
            (r.event, r.numwant, r.compact, r.no_peer_id),
            (Event::Started, Some(80), true, true)
        );
        assert_eq!(r.key, Some(0xDEAD_BEEF));
        assert_eq!(r.ip, Some("10.0.0.1".parse().unwrap()));
        assert_eq!(r.tracker_id.as_deref(), Some(&b"x"[..]));
        assert_eq!((r.supportcrypto, r.requirecrypto), (true, false));
        // A badly encoded trackerid is dropped, not refused.
        assert_eq!(announce("port=1&trackerid=%zz").unwrap().tracker_id, None);
    }

    #[test]
    fn raw_unencoded_bytes_and_plus_decode() {
        // 20 raw bytes, some of them not UTF-8, some not encoded at all.
        let mut q = b"info_hash=abcdefghijklmnopqr%FF%FE&peer_id=".to_vec();
        q.extend_from_slice(b"ABCDEFGHIJKLMNOPQR+S&port=1");
        let r = AnnounceRequest::parse(&q, 4096).unwrap();
        assert_eq!(&r.info_hash.0[18..], &[0xFF, 0xFE]);
        assert_eq!(&r.peer_id.0[18..], b" S");
        assert_eq!(r.left, None);
        assert!(!r.compact);
    }

    #[test]
    fn every_failure_names_the_problem() {
        let cases: &[(&str, &str)] = &[
            (
                "info_hash=abc&peer_id=-TK0001-123456789012&port=1",
                "bad info_hash length 3 (expected 20 bytes)",
            ),
            ("peer_id=-TK0001-123456789012&port=1", "missing info_hash"),
            ("info_hash=%zz", "bad percent-encoding in info_hash"),
        ];
        for (q, want) in cases {
            let err = AnnounceRequest::parse(q.as_bytes(), 4096).unwrap_err();
            assert_eq!(err.to_string(), *want, "query {q}");
        }
        let cases: &[(&str, &str)] = &[
            ("", "missing port"),
            ("port=0", "bad port `0`"),
            ("port=65536", "bad port `65536`"),
            ("port=x1", "bad port `x1`"),
            ("port=1&port=2", "duplicate port"),
            ("port=1&left=-5", "bad left `-5`"),
            (
                "port=1&uploaded=99999999999999999999999",
                "bad uploaded `99999999999999999999999`",
            ),
            (
                "port=1&event=begun",
                "bad event `begun` (expected started, completed, stopped, paused or empty)",
            ),
            ("port=1&ip=not-an-ip", "bad ip `not-an-ip`"),
            ("port=1&numwant=many", "bad numwant `many`"),
        ];
        for (rest, want) in cases {
            assert_eq!(
                announce(rest).unwrap_err().to_string(),
                *want,
                "rest {rest}"
            );
        }
        let q = format!("peer_id=-TK0001-123456789012&port=1&info_hash={HASH}&info_hash={HASH}");
        assert_eq!(
            AnnounceRequest::parse(q.as_bytes(), 4096).unwrap_err(),
            RequestError::Duplicate("info_hash")
        );
        let q = format!("info_hash={HASH}&port=1");
        assert_eq!(
            AnnounceRequest::parse(q.as_bytes(), 4096).unwrap_err(),
            RequestError::Missing("peer_id")
        );
        let q = format!("info_hash={HASH}&peer_id=short&port=1");
        assert_eq!(
            AnnounceRequest::parse(q.as_bytes(), 4096)
                .unwrap_err()
                .to_string(),
            "bad peer_id length 5 (expected 20 bytes)"
        );
        assert_eq!(
            AnnounceRequest::parse(&[b'a'; 5000], 4096)
                .unwrap_err()
                .to_string(),
            "request too long (5000 bytes, limit 4096)"
        );
    }

    #[test]
    fn escaped_and_general_paths_fail_alike() {
        // Sixty bytes that are not twenty escapes take the general path and its errors.
        let mixed: String = (0u8..20).map(|i| format!("%{i:02x}")).collect();
        let bad = format!("%zz{}", &mixed[3..]);
        assert_eq!(
            query::decode_20(bad.as_bytes(), "info_hash"),
            Err(RequestError::BadEncoding("info_hash"))
        );
        let plain = "a".repeat(60);
        assert_eq!(
            query::decode_20(plain.as_bytes(), "info_hash"),
            Err(RequestError::BadLength {
                field: "info_hash",
                len: 60
            })
        );
        assert_eq!(
            query::decode_20(mixed.as_bytes(), "info_hash"),
            Ok(core::array::from_fn(|i| i as u8))
        );
    }

    #[test]
    fn bep7_address_hints_are_ignored() {
        let r = announce("port=1&ipv6=fe80::1%25eth0&ipv4=nonsense").unwrap();
        assert_eq!(r.ip, None);
    }

    #[test]
    fn numwant_minus_one_and_key_hashing() {
        let r = announce("port=1&numwant=-1&key=not-hex-key").unwrap();
        assert_eq!(r.numwant, None);
        let other = announce("port=1&key=not-hex-kez").unwrap();
        assert_ne!(r.key, other.key);
        assert!(r.key.is_some());
    }

    #[test]
    fn the_client_query_has_every_field_in_order() {
        let mut r = AnnounceRequest::new(
            InfoHash([0xAB; 20]),
            PeerId(*b"-TK0001-abcdefghijkl"),
            6881,
            1000,
        );
        r.event = Event::Started;
        r.key = Some(0xDEADBEEF);
        r.numwant = Some(50);
        r.tracker_id = Some(b"id 1".to_vec());
        let mut t = String::from("/announce?passkey=p");
        r.write_query(&mut t);
        assert_eq!(
            t,
            format!(
                "/announce?passkey=p&info_hash={}&peer_id=-TK0001-abcdefghijkl&port=6881&uploaded=0&downloaded=0\
                 &left=1000&compact=1&no_peer_id=1&key=DEADBEEF&event=started&numwant=50&trackerid=id%201",
                "%AB".repeat(20)
            )
        );
        let mut plain = String::from("/announce");
        AnnounceRequest::new(InfoHash([0; 20]), PeerId([1; 20]), 1, 0).write_query(&mut plain);
        assert!(
            plain.starts_with("/announce?info_hash=%00") && !plain.contains("event="),
            "{plain}"
        );
    }

    pub(crate) fn request() -> impl Strategy<Value = AnnounceRequest> {
        let event = prop_oneof![
            Just(Event::None),
            Just(Event::Started),
            Just(Event::Completed),
            Just(Event::Stopped),
            Just(Event::Paused),
        ];
        let ip = proptest::option::of(prop_oneof![
            any::<[u8; 4]>().prop_map(IpAddr::from),
            any::<[u8; 16]>().prop_map(IpAddr::from),
        ]);
        (
            any::<([u8; 20], [u8; 20], u16, u64, u64, Option<u64>)>(),
            (event, any::<Option<u32>>(), any::<(bool, bool)>()),
            (
                any::<Option<u32>>(),
                ip,
                proptest::option::of(proptest::collection::vec(any::<u8>(), 0..30)),
            ),
        )
            .prop_map(
                |((h, p, port, up, down, left), (event, numwant, (c, n)), (key, ip, id))| {
                    AnnounceRequest {
                        info_hash: InfoHash(h),
                        peer_id: PeerId(p),
                        port: port.max(1),
                        uploaded: up,
                        downloaded: down,
                        left,
                        event,
                        numwant,
                        compact: c,
                        no_peer_id: n,
                        key,
                        ip,
                        tracker_id: id,
                        supportcrypto: false,
                        requirecrypto: false,
                    }
                },
            )
    }

    proptest! {
        #[test]
        fn http_query_round_trips(req in request(), passkey in "[a-z]{0,8}") {
            let mut target = if passkey.is_empty() {
                String::from("/announce")
            } else {
                format!("/announce?passkey={passkey}")
            };
            req.write_query(&mut target);
            let (_, query) = target.split_once('?').unwrap();
            prop_assert_eq!(AnnounceRequest::parse(query.as_bytes(), 1 << 16), Ok(req.clone()));
            let mut bare = String::new();
            req.write_query(&mut bare);
            prop_assert_eq!(AnnounceRequest::parse(bare.as_bytes(), 1 << 16), Ok(req.clone()));
            let mut url = String::from("http://t.example:80/announce");
            req.write_query(&mut url);
            let (_, query) = url.split_once('?').unwrap();
            prop_assert_eq!(AnnounceRequest::parse(query.as_bytes(), 1 << 16), Ok(req));
        }

        #[test]
        fn arbitrary_queries_never_panic(q in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = AnnounceRequest::parse(&q, 4096);
        }
    }
}
