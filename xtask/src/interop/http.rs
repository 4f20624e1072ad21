//! GET on a tracker over loopback through the workspace's one HTTP client
//! (`torrentkit_peer::http`), and the percent-encoding of raw bytes that tracker queries need.

use std::net::SocketAddr;
use std::time::Instant;

use anyhow::{bail, Context as _};
use torrentkit_peer::http::{send_blocking, Options, Request};

/// The largest reply read: `/stats.json` of a tracker holding a benchmark's swarms is the biggest.
const MAX_REPLY: usize = 64 << 20;

/// A reply: the status code and the body (headers are not kept).
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
}

/// Sends `GET target` to `addr` and reads the whole reply, all before `deadline`; redirects are
/// returned, not followed.
pub(crate) fn get(addr: SocketAddr, target: &str, deadline: Instant) -> anyhow::Result<Reply> {
    let url = format!("http://{addr}{target}");
    let timeout = deadline.saturating_duration_since(Instant::now());
    if timeout.is_zero() {
        bail!("GET {url}: out of time before sending");
    }
    let options = Options {
        timeout,
        max_redirects: 0,
        max_response: MAX_REPLY,
    };
    let reply =
        send_blocking(&Request::get(&url), &options).with_context(|| format!("GET {url}"))?;
    Ok(Reply {
        status: reply.status,
        body: reply.body,
    })
}

/// Percent-encodes raw bytes for a query string; only RFC 3986 unreserved bytes stay as they are.
pub(crate) fn percent_encode(bytes: &[u8]) -> String {
    torrentkit_metainfo::percent::encode(bytes, torrentkit_metainfo::percent::UNRESERVED)
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
    fn get_names_the_url_when_nothing_listens() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let deadline = Instant::now() + std::time::Duration::from_secs(5);
        let err = get(addr, "/stats.json", deadline).unwrap_err();
        assert!(
            format!("{err:#}").contains(&format!("GET http://{addr}/stats.json")),
            "{err:#}"
        );
    }
}
