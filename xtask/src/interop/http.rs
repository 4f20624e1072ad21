//! A minimal HTTP/1.0 GET over a plain `TcpStream`, enough to talk to a tracker on loopback, and
//! the percent-encoding of raw bytes that tracker queries need.

use std::fmt::Write as _;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

/// A reply: the status code and the body (headers are not kept).
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
}

/// Sends `GET target HTTP/1.0` to `addr` and reads the reply until the server closes the
/// connection, all before `deadline`.
pub(crate) fn get(addr: SocketAddr, target: &str, deadline: Instant) -> anyhow::Result<Reply> {
    let left = |what: &str| -> anyhow::Result<Duration> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            bail!("GET http://{addr}{target}: out of time {what}");
        }
        Ok(left)
    };
    let mut stream = TcpStream::connect_timeout(&addr, left("connecting")?)
        .with_context(|| format!("connecting to {addr}"))?;
    stream.set_write_timeout(Some(left("sending")?))?;
    let request =
        format!("GET {target} HTTP/1.0\r\nHost: {addr}\r\nUser-Agent: torrentkit-interop\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .with_context(|| format!("sending to {addr}"))?;
    stream.set_read_timeout(Some(left("reading")?))?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .with_context(|| format!("reading the reply to GET http://{addr}{target}"))?;
    parse(&raw).with_context(|| format!("reply to GET http://{addr}{target}"))
}

fn parse(raw: &[u8]) -> anyhow::Result<Reply> {
    let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        bail!("no end of headers in {} bytes", raw.len());
    };
    let head = String::from_utf8_lossy(&raw[..split]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("bad status line {status_line:?}"))?;
    let mut body = raw[split + 4..].to_vec();
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            if name.trim().eq_ignore_ascii_case("content-length") {
                let len: usize = value
                    .trim()
                    .parse()
                    .with_context(|| format!("bad header {line:?}"))?;
                if body.len() < len {
                    bail!("body is {} bytes, Content-Length says {len}", body.len());
                }
                body.truncate(len);
            }
        }
    }
    Ok(Reply { status, body })
}

/// Percent-encodes raw bytes for a query string; only RFC 3986 unreserved bytes stay as they are.
pub(crate) fn percent_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_encode_keeps_only_unreserved_bytes() {
        assert_eq!(percent_encode(b"aZ9-._~"), "aZ9-._~");
        assert_eq!(
            percent_encode(&[0x00, b' ', 0xff, b'%', b'&']),
            "%00%20%FF%25%26"
        );
    }

    #[test]
    fn parse_honours_content_length() {
        let reply = parse(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nd1e-trailing").unwrap();
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body, b"d1e");
    }

    #[test]
    fn parse_rejects_a_reply_without_headers_end() {
        let err = parse(b"HTTP/1.0 200 OK\r\n").unwrap_err();
        assert!(err.to_string().contains("no end of headers"), "{err}");
    }
}
