//! HTTP tracker protocol, sans-IO: announce and scrape request bytes, HTTP/1.1 response
//! framing (`Content-Length`, chunked, or close-delimited), and bencoded reply parsing with
//! compact and dictionary peer lists and `peers6`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use torrentkit_bencode::{decode_with, DecodeOptions, Dict, Value};

use super::url::percent_encode;
use super::{AnnounceRequest, AnnounceResponse, ScrapeStats, TrackerError, TrackerUrl};

/// The largest HTTP response the client accepts (headers and body).
pub const MAX_RESPONSE: usize = 4 << 20;

/// The request target (path and query) of an announce to `url`.
pub fn announce_target(url: &TrackerUrl, req: &AnnounceRequest) -> String {
    let mut t = url.target.clone();
    t.push(if t.contains('?') { '&' } else { '?' });
    t.push_str("info_hash=");
    percent_encode(&req.info_hash, &mut t);
    t.push_str("&peer_id=");
    percent_encode(&req.peer_id, &mut t);
    t.push_str(&format!(
        "&port={}&uploaded={}&downloaded={}&left={}&compact=1&no_peer_id=1&key={:08X}",
        req.port, req.uploaded, req.downloaded, req.left, req.key
    ));
    if let Some(event) = req.event.as_http() {
        t.push_str("&event=");
        t.push_str(event);
    }
    if let Some(n) = req.numwant {
        t.push_str(&format!("&numwant={n}"));
    }
    if let Some(ip) = req.ip {
        t.push_str(&format!("&ip={ip}"));
    }
    if let Some(id) = &req.tracker_id {
        t.push_str("&trackerid=");
        percent_encode(id, &mut t);
    }
    t
}

/// The request target of a scrape of `hashes` at `scrape_url` (see [`TrackerUrl::scrape`]).
pub fn scrape_target(scrape_url: &TrackerUrl, hashes: &[[u8; 20]]) -> String {
    let mut t = scrape_url.target.clone();
    for (i, h) in hashes.iter().enumerate() {
        t.push(if i == 0 && !t.contains('?') { '?' } else { '&' });
        t.push_str("info_hash=");
        percent_encode(h, &mut t);
    }
    t
}

/// A complete `GET` request for `target` on `url`'s host, asking the server to close the
/// connection after replying.
pub fn get_request(url: &TrackerUrl, target: &str) -> Vec<u8> {
    let host = if url.port == 80 {
        url.host.clone()
    } else {
        url.authority()
    };
    format!(
        "GET {target} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: torrentkit/{}\r\nAccept-Encoding: identity\r\nConnection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    )
    .into_bytes()
}

/// An HTTP response: status and body (chunked encoding removed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Reason phrase.
    pub reason: String,
    /// `Location` header, for redirects.
    pub location: Option<String>,
    /// The body.
    pub body: Vec<u8>,
}

/// Parses an HTTP/1.x response from `buf`. Returns `Ok(None)` while more bytes are needed;
/// with `eof` set (the server closed the connection) a response without a length ends there.
pub fn parse_response(buf: &[u8], eof: bool) -> Result<Option<HttpResponse>, TrackerError> {
    let malformed = |m: &str| TrackerError::Malformed(format!("HTTP: {m}"));
    if buf.len() > MAX_RESPONSE {
        return Err(malformed(&format!(
            "response larger than {MAX_RESPONSE} bytes"
        )));
    }
    let Some(head_end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return if eof {
            Err(malformed("connection closed before the end of the headers"))
        } else {
            Ok(None)
        };
    };
    let head =
        std::str::from_utf8(&buf[..head_end]).map_err(|_| malformed("headers are not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(malformed(&format!(
            "bad status line `{}`",
            status_line.escape_debug()
        )));
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| malformed(&format!("bad status line `{}`", status_line.escape_debug())))?;
    let reason = parts.next().unwrap_or_default().to_string();
    let mut content_length = None;
    let mut chunked = false;
    let mut location = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Err(malformed(&format!(
                "bad header line `{}`",
                line.escape_debug()
            )));
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => {
                content_length = Some(
                    value
                        .parse::<usize>()
                        .map_err(|_| malformed(&format!("bad Content-Length `{value}`")))?,
                )
            }
            "transfer-encoding" => chunked = value.to_ascii_lowercase().contains("chunked"),
            "location" => location = Some(value.to_string()),
            _ => {}
        }
    }
    let rest = &buf[head_end + 4..];
    let body = if chunked {
        match dechunk(rest)? {
            Some(body) => body,
            None if eof => return Err(malformed("connection closed inside a chunked body")),
            None => return Ok(None),
        }
    } else if let Some(len) = content_length {
        if rest.len() < len {
            return if eof {
                Err(malformed(&format!(
                    "body has {} of {len} bytes",
                    rest.len()
                )))
            } else {
                Ok(None)
            };
        }
        rest[..len].to_vec()
    } else if eof || status == 204 || status == 304 {
        rest.to_vec()
    } else {
        return Ok(None);
    };
    Ok(Some(HttpResponse {
        status,
        reason,
        location,
        body,
    }))
}

fn dechunk(mut data: &[u8]) -> Result<Option<Vec<u8>>, TrackerError> {
    let mut body = Vec::new();
    loop {
        let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") else {
            return Ok(None);
        };
        let size_str = std::str::from_utf8(&data[..line_end]).unwrap_or("");
        let size_str = size_str.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_str, 16).map_err(|_| {
            TrackerError::Malformed(format!(
                "HTTP: bad chunk size `{}`",
                size_str.escape_debug()
            ))
        })?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(Some(body));
        }
        if data.len() < size + 2 {
            return Ok(None);
        }
        body.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

fn failure_or_warning(d: &Dict<'_>) -> Result<Option<String>, TrackerError> {
    if let Some(reason) = d.get(b"failure reason") {
        let text = reason
            .as_bytes()
            .map(String::from_utf8_lossy)
            .unwrap_or_default();
        return Err(TrackerError::Failure(text.into_owned()));
    }
    Ok(d.get(b"warning message")
        .and_then(Value::as_bytes)
        .map(|w| String::from_utf8_lossy(w).into_owned()))
}

fn count(d: &Dict<'_>, key: &str) -> Option<u32> {
    d.get(key.as_bytes())
        .and_then(Value::as_int)
        .and_then(|n| u32::try_from(n).ok())
}

/// Parses the bencoded body of an announce reply. A `failure reason` becomes
/// [`TrackerError::Failure`]; compact (`peers` as bytes), dictionary (`peers` as a list) and
/// `peers6` peer lists are all read. Dictionary peers whose `ip` is a host name, not an
/// address, are skipped (resolving is the caller's business).
pub fn parse_announce(body: &[u8]) -> Result<AnnounceResponse, TrackerError> {
    let malformed = |m: String| TrackerError::Malformed(m);
    let value =
        decode_with(body, &DecodeOptions::lenient()).map_err(|e| malformed(e.to_string()))?;
    let d = value.as_dict().ok_or_else(|| {
        malformed(format!(
            "reply is a {}, not a dictionary",
            value.type_name()
        ))
    })?;
    let warning = failure_or_warning(d)?;
    let secs = |key: &str| -> Result<Option<Duration>, TrackerError> {
        match d.get(key.as_bytes()) {
            None => Ok(None),
            Some(v) => match v.as_int() {
                Some(n) if n >= 0 => Ok(Some(Duration::from_secs(n as u64))),
                _ => Err(malformed(format!("`{key}` is not a non-negative integer"))),
            },
        }
    };
    let interval = secs("interval")?.ok_or_else(|| malformed("no `interval`".into()))?;
    let min_interval = secs("min interval")?;
    let tracker_id = d
        .get(b"tracker id")
        .and_then(Value::as_bytes)
        .map(<[u8]>::to_vec);
    let mut peers = Vec::new();
    match d.get(b"peers") {
        None => {}
        Some(Value::Bytes(b)) => peers.extend(compact_v4(b).map_err(malformed)?),
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
        Some(Value::Bytes(b)) => peers.extend(compact_v6(b).map_err(malformed)?),
        Some(other) => return Err(malformed(format!("`peers6` is a {}", other.type_name()))),
    }
    Ok(AnnounceResponse {
        interval,
        min_interval,
        tracker_id,
        seeders: count(d, "complete"),
        leechers: count(d, "incomplete"),
        peers,
        warning,
    })
}

/// Parses the bencoded body of a scrape reply.
pub fn parse_scrape(body: &[u8]) -> Result<Vec<ScrapeStats>, TrackerError> {
    let malformed = |m: String| TrackerError::Malformed(m);
    let value =
        decode_with(body, &DecodeOptions::lenient()).map_err(|e| malformed(e.to_string()))?;
    let d = value
        .as_dict()
        .ok_or_else(|| malformed("scrape reply is not a dictionary".into()))?;
    failure_or_warning(d)?;
    let files = d
        .get(b"files")
        .and_then(Value::as_dict)
        .ok_or_else(|| malformed("no `files` dictionary".into()))?;
    let mut out = Vec::new();
    for (hash, stats) in files.iter() {
        let info_hash: [u8; 20] = hash
            .try_into()
            .map_err(|_| malformed(format!("`files` key of {} bytes, not 20", hash.len())))?;
        let s = stats
            .as_dict()
            .ok_or_else(|| malformed("`files` entry is not a dictionary".into()))?;
        out.push(ScrapeStats {
            info_hash,
            seeders: count(s, "complete").unwrap_or(0),
            completed: count(s, "downloaded").unwrap_or(0),
            leechers: count(s, "incomplete").unwrap_or(0),
        });
    }
    Ok(out)
}

/// Reads 6-byte compact IPv4 peers.
pub(crate) fn compact_v4(b: &[u8]) -> Result<Vec<SocketAddr>, String> {
    if b.len() % 6 != 0 {
        return Err(format!(
            "compact `peers` of {} bytes is not a multiple of 6",
            b.len()
        ));
    }
    Ok(b.chunks_exact(6)
        .map(|c| {
            SocketAddr::new(
                Ipv4Addr::new(c[0], c[1], c[2], c[3]).into(),
                u16::from_be_bytes([c[4], c[5]]),
            )
        })
        .collect())
}

/// Reads 18-byte compact IPv6 peers.
pub(crate) fn compact_v6(b: &[u8]) -> Result<Vec<SocketAddr>, String> {
    if b.len() % 18 != 0 {
        return Err(format!(
            "compact `peers6` of {} bytes is not a multiple of 18",
            b.len()
        ));
    }
    Ok(b.chunks_exact(18)
        .map(|c| {
            let ip: [u8; 16] = c[..16].try_into().unwrap_or_default();
            SocketAddr::new(
                Ipv6Addr::from(ip).into(),
                u16::from_be_bytes([c[16], c[17]]),
            )
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracker::Event;

    fn req() -> AnnounceRequest {
        let mut r = AnnounceRequest::new([0xAB; 20], *b"-TK0001-abcdefghijkl", 6881, 1000);
        r.event = Event::Started;
        r.key = 0xDEADBEEF;
        r.numwant = Some(50);
        r.tracker_id = Some(b"id 1".to_vec());
        r
    }

    #[test]
    fn announce_query_has_every_field_percent_encoded() {
        let url = TrackerUrl::parse("http://t.example:6969/announce?passkey=p").unwrap();
        let t = announce_target(&url, &req());
        assert_eq!(
            t,
            format!(
                "/announce?passkey=p&info_hash={}&peer_id=-TK0001-abcdefghijkl&port=6881&uploaded=0&downloaded=0\
                 &left=1000&compact=1&no_peer_id=1&key=DEADBEEF&event=started&numwant=50&trackerid=id%201",
                "%AB".repeat(20)
            )
        );
        let get = String::from_utf8(get_request(&url, &t)).unwrap();
        assert!(
            get.starts_with("GET /announce?passkey=p&info_hash=%AB"),
            "{get}"
        );
        assert!(
            get.contains("\r\nHost: t.example:6969\r\n") && get.ends_with("\r\n\r\n"),
            "{get}"
        );
        let plain = announce_target(
            &TrackerUrl::parse("http://t/announce").unwrap(),
            &AnnounceRequest::new([0; 20], [1; 20], 1, 0),
        );
        assert!(
            plain.starts_with("/announce?info_hash=%00") && !plain.contains("event="),
            "{plain}"
        );
    }

    #[test]
    fn scrape_query_repeats_info_hash() {
        let url = TrackerUrl::parse("http://t/scrape").unwrap();
        assert_eq!(
            scrape_target(&url, &[[b'a'; 20], [b'b'; 20]]),
            format!(
                "/scrape?info_hash={}&info_hash={}",
                "a".repeat(20),
                "b".repeat(20)
            )
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
        let r = parse_announce(&body).unwrap();
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
    fn dictionary_peers() {
        let body = b"d8:intervali900e5:peersld2:ip8:10.1.2.37:peer id20:aaaaaaaaaaaaaaaaaaaa4:porti51413eed2:ip3:::14:porti1eed2:ip9:host.name4:porti2eeee";
        let r = parse_announce(body).unwrap();
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
        let err = parse_announce(b"d14:failure reason12:unregisterede").unwrap_err();
        assert_eq!(err.to_string(), "tracker: failure: unregistered");
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
            let err = parse_announce(body).unwrap_err().to_string();
            assert!(
                err.starts_with("tracker: malformed reply: ") && err.contains(needle),
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
        let s = parse_scrape(body.as_bytes()).unwrap();
        assert_eq!(
            s,
            vec![ScrapeStats {
                info_hash: [b'h'; 20],
                seeders: 2,
                completed: 9,
                leechers: 4
            }]
        );
        assert!(parse_scrape(b"d5:filesd3:abcdeee")
            .unwrap_err()
            .to_string()
            .contains("3 bytes, not 20"));
    }

    #[test]
    fn http_framing() {
        let full = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX: y\r\n\r\nhello";
        for cut in 0..full.len() {
            assert_eq!(
                parse_response(&full[..cut], false).unwrap(),
                None,
                "cut at {cut}"
            );
        }
        let r = parse_response(full, false).unwrap().unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"hello"[..]));
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2;x=1\r\nlo\r\n0\r\n\r\n";
        assert_eq!(
            parse_response(&chunked[..chunked.len() - 3], false).unwrap(),
            None
        );
        assert_eq!(
            parse_response(chunked, false).unwrap().unwrap().body,
            b"hello"
        );
        let close = b"HTTP/1.0 302 Found\r\nLocation: http://x/y\r\n\r\nbody";
        assert_eq!(parse_response(close, false).unwrap(), None);
        let r = parse_response(close, true).unwrap().unwrap();
        assert_eq!(
            (r.status, r.location.as_deref(), r.body.as_slice()),
            (302, Some("http://x/y"), &b"body"[..])
        );
        for (bad, needle) in [
            (&b"SSH-2.0\r\n\r\n"[..], "bad status line"),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
                "bad Content-Length",
            ),
            (b"HTTP/1.1 200 OK\r\nnocolon\r\n\r\n", "bad header line"),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                "bad chunk size",
            ),
        ] {
            let err = parse_response(bad, true).unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
        }
        let err =
            parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc", true).unwrap_err();
        assert!(err.to_string().contains("body has 3 of 9 bytes"), "{err}");
    }
}
