//! The bencoded HTTP tracker replies in both directions: a tracker writes announce (compact or
//! dictionary peers), scrape and failure replies; a client parses them into
//! [`AnnounceResponse`] and [`ScrapeStats`].
//!
//! The compact announce, a tracker's common case, is written straight into the caller's buffer
//! in canonical key order without building a tree; the others go through
//! [`torrentkit_bencode::Value`]. Tests check that the fast path's bytes equal the encoder's.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use torrentkit_bencode::{decode_with, encode_to, DecodeOptions, Dict, Value};
use torrentkit_metainfo::InfoHash;
use torrentkit_wire::PeerId;

use crate::compact;
use crate::error::ReplyError;
use crate::scrape::ScrapeStats;

/// What a tracker answers to an announce, as a client reads it (HTTP or UDP).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AnnounceResponse {
    /// How long to wait before the next regular announce.
    pub interval: Duration,
    /// The tracker's minimum time between announces, if it says (HTTP only).
    pub min_interval: Option<Duration>,
    /// An id to send back in later announces (HTTP only).
    pub tracker_id: Option<Vec<u8>>,
    /// Peers with the complete file, if the tracker says.
    pub seeders: Option<u32>,
    /// Peers still downloading, if the tracker says.
    pub leechers: Option<u32>,
    /// Completed downloads the tracker has counted (`downloaded`, HTTP only), if it says.
    pub completed: Option<u64>,
    /// Peer addresses, IPv4 and IPv6.
    pub peers: Vec<SocketAddr>,
    /// A warning the tracker wants shown to the user.
    pub warning: Option<String>,
}

/// The counts and intervals a tracker puts in every announce reply it writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AnnounceCounts {
    /// `complete`: peers with nothing left to download.
    pub seeders: u32,
    /// `incomplete`: peers still downloading.
    pub leechers: u32,
    /// `downloaded`: how many `completed` events the torrent has seen.
    pub completed: u64,
    /// `interval`.
    pub interval: Duration,
    /// `min interval`.
    pub min_interval: Duration,
}

/// One peer of a dictionary-style peer list (the original BEP 3 form).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DictionaryPeer {
    /// Its address.
    pub addr: SocketAddr,
    /// Its id, or `None` when the client asked for `no_peer_id`.
    pub peer_id: Option<PeerId>,
}

fn push_int(out: &mut Vec<u8>, n: impl itoa::Integer) {
    out.push(b'i');
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    out.push(b'e');
}

fn push_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(itoa::Buffer::new().format(bytes.len()).as_bytes());
    out.push(b':');
    out.extend_from_slice(bytes);
}

/// Writes a compact announce reply into `out` without allocating beyond `out`'s growth:
/// `complete`, `downloaded`, `incomplete`, `interval`, `min interval`, `peers` (BEP 23, 6 bytes
/// each) and, when there are IPv6 peers, `peers6` (BEP 7, 18 bytes each).
pub fn write_compact_announce(
    out: &mut Vec<u8>,
    counts: &AnnounceCounts,
    peers_v4: &[u8],
    peers_v6: &[u8],
) {
    out.reserve(110 + peers_v4.len() + peers_v6.len());
    out.extend_from_slice(b"d8:complete");
    push_int(out, counts.seeders);
    out.extend_from_slice(b"10:downloaded");
    push_int(out, counts.completed);
    out.extend_from_slice(b"10:incomplete");
    push_int(out, counts.leechers);
    out.extend_from_slice(b"8:interval");
    push_int(out, counts.interval.as_secs());
    out.extend_from_slice(b"12:min interval");
    push_int(out, counts.min_interval.as_secs());
    out.extend_from_slice(b"5:peers");
    push_bytes(out, peers_v4);
    if !peers_v6.is_empty() {
        out.extend_from_slice(b"6:peers6");
        push_bytes(out, peers_v6);
    }
    out.push(b'e');
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

fn counts_dict(seeders: u32, leechers: u32, completed: u64) -> Dict<'static> {
    let mut d = Dict::new();
    d.insert(b"complete", Value::Int(i64::from(seeders)));
    d.insert(
        b"downloaded",
        Value::Int(i64::try_from(completed).unwrap_or(i64::MAX)),
    );
    d.insert(b"incomplete", Value::Int(i64::from(leechers)));
    d
}

/// Writes an announce reply whose `peers` is a list of dictionaries (`ip`, `port` and, when
/// known, `peer id`), IPv4 and IPv6 peers alike, as the original protocol has it.
pub fn write_dictionary_announce(
    out: &mut Vec<u8>,
    counts: &AnnounceCounts,
    peers: &[DictionaryPeer],
) {
    let ips: Vec<String> = peers.iter().map(|p| p.addr.ip().to_string()).collect();
    let mut list = Vec::with_capacity(peers.len());
    for (p, ip) in peers.iter().zip(&ips) {
        let mut d = Dict::new();
        d.insert(b"ip", Value::Bytes(ip.as_bytes()));
        d.insert(b"port", Value::Int(i64::from(p.addr.port())));
        if let Some(id) = &p.peer_id {
            d.insert(b"peer id", Value::Bytes(&id.0));
        }
        list.push(Value::Dict(d));
    }
    let mut d = counts_dict(counts.seeders, counts.leechers, counts.completed);
    d.insert(b"interval", Value::Int(secs(counts.interval)));
    d.insert(b"min interval", Value::Int(secs(counts.min_interval)));
    d.insert(b"peers", Value::List(list));
    encode_to(&Value::Dict(d), out);
}

/// Writes a scrape reply (BEP 48): `files`, a dictionary from info-hash to its counts.
pub fn write_scrape_reply(out: &mut Vec<u8>, files: &[ScrapeStats]) {
    let mut inner = Dict::new();
    for s in files {
        inner.insert(
            &s.info_hash.0,
            Value::Dict(counts_dict(s.seeders, s.leechers, s.completed)),
        );
    }
    let mut d = Dict::new();
    d.insert(b"files", Value::Dict(inner));
    encode_to(&Value::Dict(d), out);
}

/// Writes a failure reply: `failure reason` with the message.
pub fn write_failure(out: &mut Vec<u8>, reason: &str) {
    let mut d = Dict::new();
    d.insert(b"failure reason", Value::Bytes(reason.as_bytes()));
    encode_to(&Value::Dict(d), out);
}

fn malformed(m: impl Into<String>) -> ReplyError {
    ReplyError::Malformed(m.into())
}

fn failure_or_warning(d: &Dict<'_>) -> Result<Option<String>, ReplyError> {
    if let Some(reason) = d.get(b"failure reason") {
        let text = reason
            .as_bytes()
            .map(String::from_utf8_lossy)
            .unwrap_or_default();
        return Err(ReplyError::Failure(text.into_owned()));
    }
    Ok(d.get(b"warning message")
        .and_then(Value::as_bytes)
        .map(|w| String::from_utf8_lossy(w).into_owned()))
}

fn count<T: TryFrom<i64>>(d: &Dict<'_>, key: &str) -> Option<T> {
    d.get(key.as_bytes())
        .and_then(Value::as_int)
        .and_then(|n| T::try_from(n).ok())
}

fn dictionary<'a>(body: &'a [u8], what: &str) -> Result<Value<'a>, ReplyError> {
    let value =
        decode_with(body, &DecodeOptions::lenient()).map_err(|e| malformed(e.to_string()))?;
    if value.as_dict().is_none() {
        return Err(malformed(format!(
            "{what} is a {}, not a dictionary",
            value.type_name()
        )));
    }
    Ok(value)
}

impl AnnounceResponse {
    /// Parses the bencoded body of an HTTP announce reply. A `failure reason` becomes
    /// [`ReplyError::Failure`]; compact (`peers` as bytes), dictionary (`peers` as a list) and
    /// `peers6` peer lists are all read. Dictionary peers whose `ip` is a host name, not an
    /// address, are skipped (resolving is the caller's business).
    pub fn parse(body: &[u8]) -> Result<AnnounceResponse, ReplyError> {
        let value = dictionary(body, "reply")?;
        let Some(d) = value.as_dict() else {
            return Err(malformed("reply is not a dictionary"));
        };
        let warning = failure_or_warning(d)?;
        let secs = |key: &str| -> Result<Option<Duration>, ReplyError> {
            match d.get(key.as_bytes()) {
                None => Ok(None),
                Some(v) => match v.as_int() {
                    Some(n) if n >= 0 => Ok(Some(Duration::from_secs(n as u64))),
                    _ => Err(malformed(format!("`{key}` is not a non-negative integer"))),
                },
            }
        };
        let interval = secs("interval")?.ok_or_else(|| malformed("no `interval`"))?;
        let min_interval = secs("min interval")?;
        let tracker_id = d
            .get(b"tracker id")
            .and_then(Value::as_bytes)
            .map(<[u8]>::to_vec);
        let mut peers = Vec::new();
        match d.get(b"peers") {
            None => {}
            Some(Value::Bytes(b)) => {
                peers.extend(compact::decode_v4(b, "peers").map_err(|e| malformed(e.to_string()))?)
            }
            Some(Value::List(list)) => {
                for (i, p) in list.iter().enumerate() {
                    let pd = p
                        .as_dict()
                        .ok_or_else(|| malformed(format!("`peers[{i}]` is not a dictionary")))?;
                    let ip = pd
                        .get(b"ip")
                        .and_then(Value::as_str)
                        .ok_or_else(|| malformed(format!("`peers[{i}]` has no `ip` string")))?;
                    let port = pd
                        .get(b"port")
                        .and_then(Value::as_int)
                        .and_then(|p| u16::try_from(p).ok())
                        .ok_or_else(|| malformed(format!("`peers[{i}]` has no valid `port`")))?;
                    if let Ok(ip) = ip.parse::<IpAddr>() {
                        peers.push(SocketAddr::new(ip, port));
                    }
                }
            }
            Some(other) => return Err(malformed(format!("`peers` is a {}", other.type_name()))),
        }
        match d.get(b"peers6") {
            None => {}
            Some(Value::Bytes(b)) => {
                peers.extend(compact::decode_v6(b, "peers6").map_err(|e| malformed(e.to_string()))?)
            }
            Some(other) => return Err(malformed(format!("`peers6` is a {}", other.type_name()))),
        }
        Ok(AnnounceResponse {
            interval,
            min_interval,
            tracker_id,
            seeders: count(d, "complete"),
            leechers: count(d, "incomplete"),
            completed: count(d, "downloaded"),
            peers,
            warning,
        })
    }
}

/// Parses the bencoded body of an HTTP scrape reply, one [`ScrapeStats`] per `files` entry.
pub fn parse_scrape_reply(body: &[u8]) -> Result<Vec<ScrapeStats>, ReplyError> {
    let value = dictionary(body, "scrape reply")?;
    let Some(d) = value.as_dict() else {
        return Err(malformed("scrape reply is not a dictionary"));
    };
    failure_or_warning(d)?;
    let files = d
        .get(b"files")
        .and_then(Value::as_dict)
        .ok_or_else(|| malformed("no `files` dictionary"))?;
    let mut out = Vec::new();
    for (hash, stats) in files.iter() {
        let info_hash: [u8; 20] = hash
            .try_into()
            .map_err(|_| malformed(format!("`files` key of {} bytes, not 20", hash.len())))?;
        let s = stats
            .as_dict()
            .ok_or_else(|| malformed("`files` entry is not a dictionary"))?;
        out.push(ScrapeStats {
            info_hash: InfoHash(info_hash),
            seeders: count(s, "complete").unwrap_or(0),
            completed: count(s, "downloaded").unwrap_or(0),
            leechers: count(s, "incomplete").unwrap_or(0),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::Ipv6Addr;

    fn counts() -> AnnounceCounts {
        AnnounceCounts {
            seeders: 3,
            leechers: 12,
            completed: 7,
            interval: Duration::from_secs(1800),
            min_interval: Duration::from_secs(900),
        }
    }

    #[test]
    fn compact_fast_path_equals_the_encoder() {
        let v4 = [127, 0, 0, 1, 0x1a, 0xe1, 10, 0, 0, 2, 0, 80];
        for v6 in [&[][..], &[0xfe; 18][..]] {
            let mut fast = Vec::new();
            write_compact_announce(&mut fast, &counts(), &v4, v6);
            let mut d = counts_dict(3, 12, 7);
            d.insert(b"interval", Value::Int(1800));
            d.insert(b"min interval", Value::Int(900));
            d.insert(b"peers", Value::Bytes(&v4));
            if !v6.is_empty() {
                d.insert(b"peers6", Value::Bytes(v6));
            }
            assert_eq!(fast, torrentkit_bencode::encode(&Value::Dict(d)));
            // And it is strict, canonical bencode.
            torrentkit_bencode::decode(&fast).unwrap();
        }
    }

    #[test]
    fn dictionary_peers_carry_ip_port_and_id() {
        let peers = [
            DictionaryPeer {
                addr: "10.0.0.2:80".parse().unwrap(),
                peer_id: Some(PeerId([b'a'; 20])),
            },
            DictionaryPeer {
                addr: "[::1]:6881".parse().unwrap(),
                peer_id: Some(PeerId([b'b'; 20])),
            },
        ];
        let mut out = Vec::new();
        write_dictionary_announce(&mut out, &AnnounceCounts::default(), &peers);
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("d2:ip8:10.0.0.27:peer id20:aaaaaaaaaaaaaaaaaaaa4:porti80ee"),
            "{text}"
        );
        assert!(
            text.contains("d2:ip3:::17:peer id20:bbbbbbbbbbbbbbbbbbbb4:porti6881ee"),
            "{text}"
        );
    }

    #[test]
    fn failure_and_scrape_shapes() {
        let mut out = Vec::new();
        write_failure(&mut out, "missing port");
        assert_eq!(out, b"d14:failure reason12:missing porte");
        out.clear();
        write_scrape_reply(
            &mut out,
            &[ScrapeStats {
                info_hash: InfoHash([b'x'; 20]),
                seeders: 1,
                leechers: 2,
                completed: 3,
            }],
        );
        assert_eq!(
            out,
            b"d5:filesd20:xxxxxxxxxxxxxxxxxxxxd8:completei1e10:downloadedi3e10:incompletei2eeee"
        );
    }

    #[test]
    fn compact_and_v6_peers_with_intervals_and_tracker_id() {
        let mut body =
            b"d8:completei3e10:incompletei5e8:intervali1800e12:min intervali60e5:peers12:".to_vec();
        body.extend_from_slice(&[10, 0, 0, 1, 0x1A, 0xE1, 127, 0, 0, 1, 0, 80]);
        body.extend_from_slice(b"6:peers618:");
        body.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
        body.extend_from_slice(&[0x1A, 0xE2]);
        body.extend_from_slice(b"10:tracker id3:xyz15:warning message4:warne");
        let r = AnnounceResponse::parse(&body).unwrap();
        assert_eq!(r.interval, Duration::from_secs(1800));
        assert_eq!(r.min_interval, Some(Duration::from_secs(60)));
        assert_eq!((r.seeders, r.leechers), (Some(3), Some(5)));
        assert_eq!(r.tracker_id.as_deref(), Some(&b"xyz"[..]));
        assert_eq!(r.warning.as_deref(), Some("warn"));
        let want: Vec<SocketAddr> = vec![
            "10.0.0.1:6881".parse().unwrap(),
            "127.0.0.1:80".parse().unwrap(),
            "[::1]:6882".parse().unwrap(),
        ];
        assert_eq!(r.peers, want);
    }

    #[test]
    fn dictionary_peers_are_read() {
        let body = b"d8:intervali900e5:peersld2:ip8:10.1.2.37:peer id20:aaaaaaaaaaaaaaaaaaaa4:porti51413eed2:ip3:::14:porti1eed2:ip9:host.name4:porti2eeee";
        let r = AnnounceResponse::parse(body).unwrap();
        assert_eq!(
            r.peers,
            vec![
                "10.1.2.3:51413".parse().unwrap(),
                "[::1]:1".parse().unwrap()
            ]
        );
        assert_eq!(r.seeders, None);
    }

    #[test]
    fn failures_and_malformed_replies_are_clear() {
        let err = AnnounceResponse::parse(b"d14:failure reason12:unregisterede").unwrap_err();
        assert_eq!(err, ReplyError::Failure("unregistered".into()));
        for (body, needle) in [
            (&b"d5:peers0:e"[..], "no `interval`"),
            (
                b"d8:intervali-1ee",
                "`interval` is not a non-negative integer",
            ),
            (b"d8:intervali1e5:peers5:abcdee", "not a multiple of 6"),
            (b"d8:intervali1e6:peers67:abcdefge", "not a multiple of 18"),
            (b"d8:intervali1e5:peersi3ee", "`peers` is a integer"),
            (
                b"d8:intervali1e5:peersli1eee",
                "`peers[0]` is not a dictionary",
            ),
            (b"d8:intervali1e5:peerslde1:xee", "`peers[0]` has no `ip`"),
            (b"le", "not a dictionary"),
            (b"<html>", "bencode"),
        ] {
            let err = AnnounceResponse::parse(body).unwrap_err().to_string();
            assert!(
                err.starts_with("malformed reply: ") && err.contains(needle),
                "{err} lacks {needle}"
            );
        }
    }

    #[test]
    fn scrape_reply() {
        let body = format!(
            "d5:filesd20:{}d8:completei2e10:downloadedi9e10:incompletei4eeee",
            "h".repeat(20)
        );
        let s = parse_scrape_reply(body.as_bytes()).unwrap();
        assert_eq!(
            s,
            vec![ScrapeStats {
                info_hash: InfoHash([b'h'; 20]),
                seeders: 2,
                completed: 9,
                leechers: 4
            }]
        );
        assert!(parse_scrape_reply(b"d5:filesd3:abcdeee")
            .unwrap_err()
            .to_string()
            .contains("3 bytes, not 20"));
    }

    fn any_counts() -> impl Strategy<Value = AnnounceCounts> {
        any::<(u32, u32, u32, u32, u32)>().prop_map(|(s, l, c, i, m)| AnnounceCounts {
            seeders: s,
            leechers: l,
            completed: u64::from(c),
            interval: Duration::from_secs(u64::from(i)),
            min_interval: Duration::from_secs(u64::from(m)),
        })
    }

    fn peers() -> impl Strategy<Value = Vec<SocketAddr>> {
        proptest::collection::vec(compact::tests::addr(), 0..30)
    }

    fn expected(counts: &AnnounceCounts, peers: Vec<SocketAddr>) -> AnnounceResponse {
        AnnounceResponse {
            interval: counts.interval,
            min_interval: Some(counts.min_interval),
            tracker_id: None,
            seeders: Some(counts.seeders),
            leechers: Some(counts.leechers),
            completed: Some(counts.completed),
            peers,
            warning: None,
        }
    }

    proptest! {
        #[test]
        fn compact_announce_round_trips(c in any_counts(), peers in peers()) {
            let (mut v4, mut v6) = (Vec::new(), Vec::new());
            compact::encode(&peers, &mut v4, &mut v6);
            let mut out = Vec::new();
            write_compact_announce(&mut out, &c, &v4, &v6);
            let mut want: Vec<SocketAddr> = peers.iter().copied().filter(SocketAddr::is_ipv4).collect();
            want.extend(peers.iter().copied().filter(SocketAddr::is_ipv6));
            prop_assert_eq!(AnnounceResponse::parse(&out), Ok(expected(&c, want)));
        }

        #[test]
        fn dictionary_announce_round_trips(c in any_counts(), peers in peers(), ids in any::<bool>()) {
            let list: Vec<DictionaryPeer> = peers
                .iter()
                .map(|&addr| DictionaryPeer { addr, peer_id: ids.then_some(PeerId([7; 20])) })
                .collect();
            let mut out = Vec::new();
            write_dictionary_announce(&mut out, &c, &list);
            prop_assert_eq!(AnnounceResponse::parse(&out), Ok(expected(&c, peers)));
        }

        #[test]
        fn scrape_and_failure_round_trip(
            files in proptest::collection::btree_map(any::<[u8; 20]>(), any::<(u32, u32, u32)>(), 0..20),
            reason in "[ -~]{0,40}",
        ) {
            let stats: Vec<ScrapeStats> = files
                .iter()
                .map(|(h, &(s, c, l))| ScrapeStats { info_hash: InfoHash(*h), seeders: s, completed: u64::from(c), leechers: l })
                .collect();
            let mut out = Vec::new();
            write_scrape_reply(&mut out, &stats);
            prop_assert_eq!(parse_scrape_reply(&out), Ok(stats));
            out.clear();
            write_failure(&mut out, &reason);
            prop_assert_eq!(AnnounceResponse::parse(&out), Err(ReplyError::Failure(reason)));
        }

        #[test]
        fn arbitrary_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = AnnounceResponse::parse(&body);
            let _ = parse_scrape_reply(&body);
        }
    }
}
