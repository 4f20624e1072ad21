//! Where `bt download` gets its torrent: a `.torrent` path, or an `http://` URL fetched with a
//! GET through [`torrentkit_peer::http`] (redirects followed, size and time bounded).

use std::path::Path;

use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use torrentkit_metainfo::Torrent;
use torrentkit_peer::http;

use super::torrent_common::load;

/// The largest `.torrent` we fetch over HTTP.
const MAX_TORRENT_SIZE: usize = 32 << 20;
/// Redirects followed before giving up.
const MAX_REDIRECTS: u32 = 5;
/// Time limit for the whole fetch.
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
    let request = http::Request {
        headers: &[("Accept", "application/x-bittorrent, */*")],
        ..http::Request::get(url)
    };
    let options = http::Options {
        timeout: TIMEOUT,
        max_redirects: MAX_REDIRECTS,
        max_response: MAX_TORRENT_SIZE + 64 * 1024,
    };
    let reply = http::send_blocking(&request, &options).map_err(|e| anyhow!("{url}: {e}"))?;
    interpret(url, reply)
}

#[cfg(test)]
fn parse_reply(url: &str, raw: &[u8]) -> anyhow::Result<Vec<u8>> {
    let reply = http::parse_response(raw, true, usize::MAX)
        .map_err(|e| anyhow!("{url}: {e}"))?
        .with_context(|| format!("{url}: incomplete reply"))?;
    interpret(url, reply)
}

/// The torrent's bytes, or an error naming the status.
fn interpret(url: &str, reply: http::Response) -> anyhow::Result<Vec<u8>> {
    if (300..400).contains(&reply.status) {
        // The client follows redirects; one that reaches here has no Location.
        bail!("{url}: HTTP {} without a Location", reply.status);
    }
    if reply.status != 200 {
        bail!("{url}: the server answered {:?}", reply.status_line);
    }
    if reply.body.len() > MAX_TORRENT_SIZE {
        bail!("{url}: larger than {} MiB", MAX_TORRENT_SIZE >> 20);
    }
    Ok(reply.body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_parsed() {
        let ok = parse_reply("u", b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcdef").unwrap();
        assert_eq!(ok, b"abc");
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        assert_eq!(parse_reply("u", chunked).unwrap(), b"abcde");
        // Following a redirect is the HTTP client's job (tested in torrentkit-peer's
        // tests/tracker_client.rs, `http_send_follows_relative_redirects`); one without a
        // Location is an error here.
        let moved = parse_reply("u", b"HTTP/1.0 302 Found\r\n\r\n").unwrap_err();
        assert_eq!(moved.to_string(), "u: HTTP 302 without a Location");
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
    fn https_is_refused_before_any_request() {
        // How URLs split into host and target is tested with torrentkit_peer::http::Url.
        assert!(load_source("https://x/y.torrent")
            .err()
            .unwrap()
            .to_string()
            .contains("not supported yet"));
    }
}
