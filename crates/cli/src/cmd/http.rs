//! A minimal blocking HTTP/1.0 client for `http://` URLs, shared by `bt download` (GET a
//! `.torrent`) and `bt publish` (POST one to a tracker). No TLS: callers refuse `https://` with a
//! clear message before getting here. Replies are bounded in size and every step in time.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use anyhow::{bail, Context};

/// Time limit for connecting and for each read or write.
const TIMEOUT: Duration = Duration::from_secs(30);

/// A parsed reply: the status, the `Location` header if any, and the body (de-chunked, cut to
/// `Content-Length`).
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) status_line: String,
    pub(crate) location: Option<String>,
    pub(crate) body: Vec<u8>,
}

/// Splits `http://host[:port]/path` into (`host[:port]`, `/path`).
pub(crate) fn split_url(url: &str) -> anyhow::Result<(&str, &str)> {
    let rest = url
        .get(7..)
        .filter(|_| url[..7].eq_ignore_ascii_case("http://"))
        .with_context(|| format!("{url}: not an http:// URL"))?;
    let rest = rest.split('#').next().unwrap_or(rest);
    Ok(match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    })
}

/// Sends `METHOD url` with `extra_headers` (each ending in `\r\n`) and `body`, and reads at most
/// `max_reply` bytes of reply.
pub(crate) fn send(
    method: &str,
    url: &str,
    extra_headers: &str,
    body: &[u8],
    max_reply: u64,
) -> anyhow::Result<Response> {
    let (host, path) = split_url(url)?;
    if host.is_empty() {
        bail!("{url}: no host");
    }
    let authority = if host.rsplit_once(':').is_some_and(|(_, p)| !p.contains(']')) {
        host.to_owned()
    } else {
        format!("{host}:80")
    };
    let addr = authority
        .to_socket_addrs()
        .with_context(|| format!("{url}: resolving {host}"))?
        .next()
        .with_context(|| format!("{url}: {host} has no address"))?;
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT)
        .with_context(|| format!("{url}: connecting to {addr}"))?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    let length = if body.is_empty() {
        String::new()
    } else {
        format!("Content-Length: {}\r\n", body.len())
    };
    let head = format!(
        "{method} {path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: torrentkit/{}\r\n{extra_headers}{length}Connection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    );
    stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body))
        .with_context(|| format!("{url}: sending the request"))?;
    let mut raw = Vec::new();
    stream
        .take(max_reply)
        .read_to_end(&mut raw)
        .with_context(|| format!("{url}: reading the reply"))?;
    parse_response(url, &raw)
}

/// Parses a whole HTTP/1.x reply.
pub(crate) fn parse_response(url: &str, raw: &[u8]) -> anyhow::Result<Response> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .with_context(|| format!("{url}: the reply has no complete HTTP header"))?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default().to_owned();
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("{url}: bad HTTP status line {status_line:?}"))?;
    let mut length = None;
    let mut location = None;
    let mut chunked = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => length = value.parse::<usize>().ok(),
            "location" => location = Some(value.to_owned()),
            "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
            _ => {}
        }
    }
    let mut body = raw[end + 4..].to_vec();
    if chunked {
        body = dechunk(&body).with_context(|| format!("{url}: bad chunked body"))?;
    } else if let Some(n) = length {
        if body.len() < n {
            bail!("{url}: the reply ended after {} of {n} bytes", body.len());
        }
        body.truncate(n);
    }
    Ok(Response {
        status,
        status_line,
        location,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..eol]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[eol + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}
