//! Where `bt download` gets its torrent: a `.torrent` path, or an `http://` URL fetched with a
//! HTTP/1.0 GET through [`super::http`] (redirects followed, size and time bounded).

use std::path::Path;

use anyhow::{bail, Context};
use torrentkit_metainfo::Torrent;

use super::http::{self, split_url};
use super::torrent_common::load;

/// The largest `.torrent` we fetch over HTTP.
const MAX_TORRENT_SIZE: usize = 32 << 20;
/// Redirects followed before giving up.
const MAX_REDIRECTS: usize = 5;

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

fn get_once(url: &str) -> anyhow::Result<Reply> {
    let reply = http::send(
        "GET",
        url,
        "Accept: application/x-bittorrent, */*\r\n",
        &[],
        MAX_TORRENT_SIZE as u64 + 64 * 1024,
    )?;
    interpret(url, reply)
}

#[cfg(test)]
fn parse_reply(url: &str, raw: &[u8]) -> anyhow::Result<Reply> {
    interpret(url, http::parse_response(url, raw)?)
}

/// A redirect to follow, the torrent's bytes, or an error naming the status.
fn interpret(url: &str, reply: http::Response) -> anyhow::Result<Reply> {
    if (300..400).contains(&reply.status) {
        return reply
            .location
            .map(Reply::Redirect)
            .with_context(|| format!("{url}: HTTP {} without a Location", reply.status));
    }
    if reply.status != 200 {
        bail!("{url}: the server answered {:?}", reply.status_line);
    }
    if reply.body.len() > MAX_TORRENT_SIZE {
        bail!("{url}: larger than {} MiB", MAX_TORRENT_SIZE >> 20);
    }
    Ok(Reply::Body(reply.body))
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
