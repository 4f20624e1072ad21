//! Where `bt download` gets its torrent: a `.torrent` path, or an `http://` URL fetched with a
//! small blocking HTTP/1.0 GET (redirects followed, size and time bounded).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};
use torrentkit_metainfo::Torrent;

use super::torrent_common::load;

/// The largest `.torrent` we fetch over HTTP.
const MAX_TORRENT_SIZE: usize = 32 << 20;
/// Redirects followed before giving up.
const MAX_REDIRECTS: usize = 5;
/// Time limit for connecting and for each read or write.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Reads the torrent named by `source`: an `http://` URL, or a file path.
pub(crate) fn load_source(source: &str) -> anyhow::Result<Torrent> {
    let lower = source.to_ascii_lowercase();
    if lower.starts_with("https://") {
        bail!("{source}: https:// is not supported yet (no TLS client built in); download the .torrent and pass its path");
    }
    if !lower.starts_with("http://") {
        return load(Path::new(source));
    }
    let bytes = http_get(source)?;
    let torrent = Torrent::from_bytes(&bytes).with_context(|| format!("torrent from {source}"))?;
    for w in torrent.warnings() {
        eprintln!("bt: warning: {source}: {w}");
    }
    Ok(torrent)
}

/// The body of a `200 OK` reply to `GET url`, following redirects.
fn http_get(url: &str) -> anyhow::Result<Vec<u8>> {
    let mut url = url.to_owned();
    for _ in 0..=MAX_REDIRECTS {
        match get_once(&url)? {
            Reply::Body(body) => return Ok(body),
            Reply::Redirect(to) => {
                if to.to_ascii_lowercase().starts_with("https://") {
                    bail!("{url}: redirected to {to}: https:// is not supported yet");
                }
                url = if to.starts_with('/') {
                    let (host, _) = split_url(&url)?;
                    format!("http://{host}{to}")
                } else {
                    to
                };
            }
        }
    }
    bail!("{url}: more than {MAX_REDIRECTS} redirects")
}

enum Reply {
    Body(Vec<u8>),
    Redirect(String),
}

/// Splits `http://host[:port]/path` into (`host[:port]`, `/path`).
fn split_url(url: &str) -> anyhow::Result<(&str, &str)> {
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

fn get_once(url: &str) -> anyhow::Result<Reply> {
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
    let request = format!(
        "GET {path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: torrentkit/{}\r\nAccept: application/x-bittorrent, */*\r\nConnection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    );
    stream
        .write_all(request.as_bytes())
        .with_context(|| format!("{url}: sending the request"))?;
    let mut raw = Vec::new();
    stream
        .take(MAX_TORRENT_SIZE as u64 + 64 * 1024)
        .read_to_end(&mut raw)
        .with_context(|| format!("{url}: reading the reply"))?;
    parse_reply(url, &raw)
}

fn parse_reply(url: &str, raw: &[u8]) -> anyhow::Result<Reply> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .with_context(|| format!("{url}: the reply has no complete HTTP header"))?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
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
    if (300..400).contains(&status) {
        return location
            .map(Reply::Redirect)
            .with_context(|| format!("{url}: HTTP {status} without a Location"));
    }
    if status != 200 {
        bail!("{url}: the server answered {status_line:?}");
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
    if body.len() > MAX_TORRENT_SIZE {
        bail!("{url}: larger than {} MiB", MAX_TORRENT_SIZE >> 20);
    }
    Ok(Reply::Body(body))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_parsed() {
        let ok = parse_reply("u", b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcdef").unwrap();
        assert!(matches!(ok, Reply::Body(b) if b == b"abc"));
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        assert!(matches!(parse_reply("u", chunked).unwrap(), Reply::Body(b) if b == b"abcde"));
        let moved =
            parse_reply("u", b"HTTP/1.0 302 Found\r\nLocation: /x.torrent\r\n\r\n").unwrap();
        assert!(matches!(moved, Reply::Redirect(l) if l == "/x.torrent"));
        let err = parse_reply("u", b"HTTP/1.0 404 Not Found\r\n\r\n")
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "u: the server answered \"HTTP/1.0 404 Not Found\""
        );
        let short = parse_reply("u", b"HTTP/1.0 200 OK\r\nContent-Length: 9\r\n\r\nabc");
        assert!(short
            .err()
            .unwrap()
            .to_string()
            .contains("after 3 of 9 bytes"));
    }

    #[test]
    fn urls_split() {
        assert_eq!(
            split_url("http://h:8080/a/b.torrent").unwrap(),
            ("h:8080", "/a/b.torrent")
        );
        assert_eq!(split_url("http://h").unwrap(), ("h", "/"));
        assert!(load_source("https://x/y.torrent")
            .err()
            .unwrap()
            .to_string()
            .contains("not supported yet"));
    }
}
