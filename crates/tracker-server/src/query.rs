//! Parsing announce and scrape query strings from their raw bytes: [`AnnounceRequest::parse`]
//! and [`ScrapeRequest::parse`].
//!
//! `info_hash` and `peer_id` are 20 arbitrary bytes, percent-encoded, and usually not UTF-8, so the
//! query is read as bytes and decoded here, never through a UTF-8 query extractor.

use std::net::IpAddr;

use crate::error::RequestError;
use crate::id::{hex_digit, InfoHash, PeerId};

/// What an announce says, as sent by an HTTP client or read from a UDP packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnnounceRequest {
    /// The swarm.
    pub info_hash: InfoHash,
    /// The client's self-chosen id.
    pub peer_id: PeerId,
    /// The port the client accepts peer connections on (never 0).
    pub port: u16,
    /// Bytes uploaded so far (statistics only).
    pub uploaded: u64,
    /// Bytes downloaded so far (statistics only).
    pub downloaded: u64,
    /// Bytes still to download; `0` makes the peer a seeder. Absent counts as a leecher.
    pub left: Option<u64>,
    /// The announce event.
    pub event: Event,
    /// How many peers the client wants; `None` means the tracker's default.
    pub numwant: Option<u32>,
    /// Whether the client asked for compact peer lists (BEP 23, `compact=1`).
    pub compact: bool,
    /// Whether the client asked to leave peer ids out of dictionary peer lists.
    pub no_peer_id: bool,
    /// The client's `key`, proof of identity should its address change. Hexadecimal keys of up
    /// to 8 digits (what libtorrent and most clients send) are read as their value, so that an HTTP
    /// key equals the same client's UDP key; others are hashed.
    pub key: Option<u32>,
    /// The `ip=` parameter, when present (malformed, it fails the request). It is used only when
    /// the tracker is configured to trust it. BEP 7's `ipv4=` and `ipv6=` are ignored.
    pub ip: Option<IpAddr>,
}

/// The `event` of an announce.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Event {
    /// A regular re-announce.
    #[default]
    None,
    /// The first announce of a download.
    Started,
    /// The download just finished; counted once in the torrent's `downloaded` total.
    Completed,
    /// The client leaves the swarm.
    Stopped,
    /// BEP 21: a partial seed that does not want to download more.
    Paused,
}

/// The info-hashes of a scrape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScrapeRequest {
    /// The torrents asked about, in request order.
    pub info_hashes: Vec<InfoHash>,
}

/// One `key=value` pair of a query, both still percent-encoded.
fn pairs(query: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    query
        .split(|&b| b == b'&')
        .filter(|p| !p.is_empty())
        .map(|pair| match pair.iter().position(|&b| b == b'=') {
            Some(eq) => (&pair[..eq], &pair[eq + 1..]),
            None => (pair, &b""[..]),
        })
}

/// Percent-decodes `raw` into `out`, returning the decoded length; `out` may be too short, in which
/// case the full length is still returned and only what fits is written.
fn decode_into(raw: &[u8], out: &mut [u8], field: &'static str) -> Result<usize, RequestError> {
    let mut n = 0;
    let mut i = 0;
    while i < raw.len() {
        let b = match raw[i] {
            b'%' => {
                let hi = raw.get(i + 1).copied().and_then(hex_digit);
                let lo = raw.get(i + 2).copied().and_then(hex_digit);
                match (hi, lo) {
                    (Some(hi), Some(lo)) => {
                        i += 3;
                        (hi << 4) | lo
                    }
                    _ => return Err(RequestError::BadEncoding(field)),
                }
            }
            b'+' => {
                i += 1;
                b' '
            }
            b => {
                i += 1;
                b
            }
        };
        if let Some(slot) = out.get_mut(n) {
            *slot = b;
        }
        n += 1;
    }
    Ok(n)
}

/// Hexadecimal digit values, 0xff for bytes that are not digits.
const HEX: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut c = 0;
    while c < 256 {
        t[c] = match c as u8 {
            b'0'..=b'9' => c as u8 - b'0',
            b'a'..=b'f' => c as u8 - b'a' + 10,
            b'A'..=b'F' => c as u8 - b'A' + 10,
            _ => 0xff,
        };
        c += 1;
    }
    t
};

/// The common case: twenty `%XX` escapes, as clients send info-hashes and random peer ids.
fn decode_20_escaped(raw: &[u8]) -> Option<[u8; 20]> {
    if raw.len() != 60 {
        return None;
    }
    let mut out = [0u8; 20];
    for (slot, c) in out.iter_mut().zip(raw.chunks_exact(3)) {
        let (hi, lo) = (HEX[usize::from(c[1])], HEX[usize::from(c[2])]);
        if c[0] != b'%' || (hi | lo) > 15 {
            return None;
        }
        *slot = (hi << 4) | lo;
    }
    Some(out)
}

fn decode_20(raw: &[u8], field: &'static str) -> Result<[u8; 20], RequestError> {
    if let Some(out) = decode_20_escaped(raw) {
        return Ok(out);
    }
    let mut out = [0u8; 20];
    let len = decode_into(raw, &mut out, field)?;
    if len != 20 {
        return Err(RequestError::BadLength { field, len });
    }
    Ok(out)
}

/// Decodes a short value (numbers, event names, addresses) into a stack buffer.
fn decode_short<'b>(
    raw: &[u8],
    buf: &'b mut [u8; 64],
    field: &'static str,
) -> Result<&'b [u8], RequestError> {
    let len = decode_into(raw, buf, field)?;
    if len > buf.len() {
        return Err(RequestError::BadNumber {
            field,
            value: shorten(&buf[..]),
        });
    }
    Ok(&buf[..len])
}

fn shorten(value: &[u8]) -> String {
    let mut s = value[..value.len().min(24)].escape_ascii().to_string();
    if value.len() > 24 {
        s.push_str("...");
    }
    s
}

fn number(raw: &[u8], field: &'static str) -> Result<u64, RequestError> {
    let mut buf = [0u8; 64];
    let value = decode_short(raw, &mut buf, field)?;
    let bad = || RequestError::BadNumber {
        field,
        value: shorten(value),
    };
    if value.is_empty() || value.len() > 20 {
        return Err(bad());
    }
    let mut n: u64 = 0;
    for &c in value {
        if !c.is_ascii_digit() {
            return Err(bad());
        }
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(c - b'0')))
            .ok_or_else(bad)?;
    }
    Ok(n)
}

/// Reads `numwant`, where some clients send `-1` for "the default".
fn numwant(raw: &[u8]) -> Result<Option<u32>, RequestError> {
    if raw == b"-1" {
        return Ok(None);
    }
    let n = number(raw, "numwant")?;
    Ok(Some(u32::try_from(n).unwrap_or(u32::MAX)))
}

fn flag(raw: &[u8]) -> bool {
    raw == b"1"
}

fn key(raw: &[u8]) -> Result<u32, RequestError> {
    let mut buf = [0u8; 64];
    let len = decode_into(raw, &mut buf, "key")?;
    let value = &buf[..len.min(buf.len())];
    if (1..=8).contains(&len) {
        if let Some(v) = value
            .iter()
            .try_fold(0u32, |acc, &c| Some(acc << 4 | u32::from(hex_digit(c)?)))
        {
            return Ok(v);
        }
    }
    // FNV-1a over the decoded bytes (only the first 64 are kept, which is plenty for an id).
    Ok(value.iter().fold(0x811c_9dc5u32, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    }))
}

pub(crate) fn parse_ip(raw: &[u8], field: &'static str) -> Result<IpAddr, RequestError> {
    let mut buf = [0u8; 64];
    let value = decode_short(raw, &mut buf, field)?;
    std::str::from_utf8(value)
        .ok()
        .and_then(|s| s.trim().parse::<IpAddr>().ok())
        .ok_or_else(|| RequestError::BadIp(shorten(value)))
}

fn event(raw: &[u8]) -> Result<Event, RequestError> {
    let mut buf = [0u8; 64];
    let value =
        decode_short(raw, &mut buf, "event").map_err(|_| RequestError::BadEvent(shorten(raw)))?;
    Ok(match value {
        b"" | b"empty" => Event::None,
        b"started" => Event::Started,
        b"completed" => Event::Completed,
        b"stopped" => Event::Stopped,
        b"paused" => Event::Paused,
        other => return Err(RequestError::BadEvent(shorten(other))),
    })
}

fn check_len(query: &[u8], max: usize) -> Result<(), RequestError> {
    if query.len() > max {
        return Err(RequestError::QueryTooLong {
            len: query.len(),
            max,
        });
    }
    Ok(())
}

fn set_once<T>(slot: &mut Option<T>, value: T, field: &'static str) -> Result<(), RequestError> {
    if slot.is_some() {
        return Err(RequestError::Duplicate(field));
    }
    *slot = Some(value);
    Ok(())
}

impl AnnounceRequest {
    /// Parses the raw query string of `/announce` (the part after `?`), refusing queries longer
    /// than `max_len` bytes. Unknown parameters (`trackerid`, `supportcrypto`, ...) are ignored;
    /// every malformed known one is an error naming it.
    ///
    /// ```
    /// use torrentkit_tracker_server::{AnnounceRequest, Event};
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
    pub fn parse(query: &[u8], max_len: usize) -> Result<AnnounceRequest, RequestError> {
        check_len(query, max_len)?;
        let mut info_hash = None;
        let mut peer_id = None;
        let mut port = None;
        let mut req = AnnounceRequest {
            info_hash: InfoHash::default(),
            peer_id: PeerId::default(),
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
        };
        for (name, value) in pairs(query) {
            match name {
                b"info_hash" => {
                    set_once(&mut info_hash, decode_20(value, "info_hash")?, "info_hash")?
                }
                b"peer_id" => set_once(&mut peer_id, decode_20(value, "peer_id")?, "peer_id")?,
                b"port" => {
                    let n = number(value, "port")?;
                    let p = u16::try_from(n).map_err(|_| RequestError::BadNumber {
                        field: "port",
                        value: n.to_string(),
                    })?;
                    if p == 0 {
                        return Err(RequestError::PortZero);
                    }
                    set_once(&mut port, p, "port")?;
                }
                b"uploaded" => req.uploaded = number(value, "uploaded")?,
                b"downloaded" => req.downloaded = number(value, "downloaded")?,
                b"left" => req.left = Some(number(value, "left")?),
                b"event" => req.event = event(value)?,
                b"numwant" | b"num_want" => req.numwant = numwant(value)?,
                b"compact" => req.compact = flag(value),
                b"no_peer_id" => req.no_peer_id = flag(value),
                b"key" => req.key = Some(key(value)?),
                b"ip" if !value.is_empty() => {
                    req.ip = Some(parse_ip(value, "ip")?);
                }
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

impl ScrapeRequest {
    /// Parses the raw query string of `/scrape`: one or more `info_hash` parameters (at most
    /// `max_hashes`), in a query of at most `max_len` bytes.
    pub fn parse(
        query: &[u8],
        max_len: usize,
        max_hashes: usize,
    ) -> Result<ScrapeRequest, RequestError> {
        check_len(query, max_len)?;
        let mut info_hashes = Vec::new();
        for (name, value) in pairs(query) {
            if name == b"info_hash" {
                info_hashes.push(InfoHash(decode_20(value, "info_hash")?));
            }
        }
        if info_hashes.is_empty() {
            return Err(RequestError::NoInfoHash);
        }
        if info_hashes.len() > max_hashes {
            return Err(RequestError::TooManyInfoHashes {
                count: info_hashes.len(),
                max: max_hashes,
            });
        }
        Ok(ScrapeRequest { info_hashes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "%01%02%03%04%05%06%07%08%09%0A%0B%0C%0D%0E%0F%10%11%12%13%14";

    fn announce(rest: &str) -> Result<AnnounceRequest, RequestError> {
        let q = format!("info_hash={HASH}&peer_id=-TK0001-123456789012&{rest}");
        AnnounceRequest::parse(q.as_bytes(), 4096)
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
    fn escaped_fast_path_agrees_with_the_general_decoder() {
        let mixed: String = (0u8..20)
            .map(|i| {
                if i % 2 == 0 {
                    format!("%{i:02x}")
                } else {
                    format!("%{i:02X}")
                }
            })
            .collect();
        let mut general = [0u8; 20];
        assert_eq!(
            decode_into(mixed.as_bytes(), &mut general, "info_hash"),
            Ok(20)
        );
        assert_eq!(decode_20(mixed.as_bytes(), "info_hash"), Ok(general));
        assert_eq!(general, core::array::from_fn(|i| i as u8));
        // Sixty bytes that are not twenty escapes take the general path and its errors.
        let bad = format!("%zz{}", &mixed[3..]);
        assert_eq!(
            decode_20(bad.as_bytes(), "info_hash"),
            Err(RequestError::BadEncoding("info_hash"))
        );
        let plain = "a".repeat(60);
        assert_eq!(
            decode_20(plain.as_bytes(), "info_hash"),
            Err(RequestError::BadLength {
                field: "info_hash",
                len: 60
            })
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
    fn scrape_counts_and_limits() {
        let q = format!("info_hash={HASH}&info_hash=aaaaaaaaaaaaaaaaaaaa");
        let s = ScrapeRequest::parse(q.as_bytes(), 4096, 74).unwrap();
        assert_eq!(s.info_hashes.len(), 2);
        assert_eq!(s.info_hashes[1].0, [b'a'; 20]);
        assert_eq!(
            ScrapeRequest::parse(b"", 4096, 74).unwrap_err(),
            RequestError::NoInfoHash
        );
        assert_eq!(
            ScrapeRequest::parse(q.as_bytes(), 4096, 1)
                .unwrap_err()
                .to_string(),
            "too many info_hash values (2, limit 1)"
        );
    }
}
