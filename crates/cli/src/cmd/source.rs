//! Where `bt download` gets its torrent: a `.torrent` path, or an `http://` or `https://` URL
//! fetched with a GET through [`torrentkit_peer::http`] (redirects followed, size and time
//! bounded, `--ca-cert` trusted beside the system's roots).

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

/// Reads the torrent named by `source`: an `http://` or `https://` URL, or a file path.
pub(crate) fn load_source(source: &str) -> anyhow::Result<Torrent> {
    let lower = source.to_ascii_lowercase();
    if !lower.starts_with("http://") && !lower.starts_with("https://") {
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
        max_response: MAX_TORRENT_SIZE,
    };
    let reply = http::send_blocking(&request, &options).map_err(|e| anyhow!("{url}: {e}"))?;
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

    fn reply(status: u16, body: &[u8]) -> http::Response {
        http::Response::new(status, body.to_vec())
    }

    #[test]
    fn replies_are_interpreted() {
        assert_eq!(interpret("u", reply(200, b"abc")).unwrap(), b"abc");
        // Following a redirect is the HTTP client's job (tested in torrentkit-peer's
        // tests/tracker_client.rs); one without a Location is an error here.
        let moved = interpret("u", reply(302, b"")).unwrap_err();
        assert_eq!(moved.to_string(), "u: HTTP 302 without a Location");
        let err = interpret("u", reply(404, b"")).unwrap_err();
        assert_eq!(err.to_string(), "u: the server answered \"404\"");
    }
}
