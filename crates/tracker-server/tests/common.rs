//! Helpers: building trackers, sending requests through the router with `oneshot`, reading
//! bencoded replies.

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use torrentkit_bencode::{OwnedValue, Value};
use torrentkit_tracker_server::{router, Config, Tracker};
use tower::ServiceExt;

pub(crate) fn app(config: Config) -> (Tracker, Router) {
    let tracker = Tracker::new(config, std::time::Instant::now());
    (tracker.clone(), router().with_state(tracker))
}

pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl Reply {
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The bencoded body, decoded strictly.
    pub(crate) fn bencode(&self) -> OwnedValue {
        torrentkit_bencode::decode(&self.body)
            .unwrap_or_else(|e| panic!("reply is not bencode ({e}): {}", self.body.escape_ascii()))
            .to_owned_value()
    }

    /// The `failure reason`, if any.
    pub(crate) fn failure(&self) -> Option<String> {
        let v = self.bencode();
        let d = v.as_value();
        d.as_dict()?
            .get(b"failure reason")
            .and_then(|r| r.as_str())
            .map(str::to_owned)
    }

    pub(crate) fn int(&self, key: &str) -> i64 {
        let v = self.bencode();
        let d = v.as_value();
        d.as_dict()
            .and_then(|d| d.get(key.as_bytes()))
            .and_then(Value::as_int)
            .unwrap_or_else(|| panic!("no integer `{key}` in {}", self.body.escape_ascii()))
    }

    pub(crate) fn bytes(&self, key: &str) -> Option<Vec<u8>> {
        let v = self.bencode();
        let d = v.as_value();
        d.as_dict()?
            .get(key.as_bytes())?
            .as_bytes()
            .map(<[u8]>::to_vec)
    }
}

/// Sends `req` through `app` as if from `from` (no connection info when `None`).
pub(crate) async fn send(app: &Router, mut req: Request<Body>, from: Option<&str>) -> Reply {
    if let Some(from) = from {
        let addr: SocketAddr = from.parse().expect("test address");
        req.extensions_mut().insert(ConnectInfo(addr));
    }
    let resp = app
        .clone()
        .oneshot(req)
        .await
        .expect("router is infallible");
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .expect("body");
    Reply {
        status,
        headers,
        body: body.to_vec(),
    }
}

pub(crate) async fn get(app: &Router, uri: &str, from: &str) -> Reply {
    send(
        app,
        Request::get(uri).body(Body::empty()).unwrap(),
        Some(from),
    )
    .await
}

/// `%XX` for each of the 20 bytes `[n; 20]`.
pub(crate) fn hash(n: u8) -> String {
    format!("%{n:02X}").repeat(20)
}

/// An announce URI for torrent `[h; 20]` from peer `[p; 20]`.
pub(crate) fn announce(h: u8, p: u8, port: u16, left: u64, extra: &str) -> String {
    format!(
        "/announce?info_hash={}&peer_id={}&port={port}&uploaded=0&downloaded=0&left={left}{extra}",
        hash(h),
        hash(p)
    )
}

/// A fresh scratch directory under the system temporary directory.
pub(crate) fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tk-tracker-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// A small single-file `.torrent`, with as many (fake) piece hashes as its length needs: the
/// tracker hosts only torrents a client could use. Large lengths get larger pieces, so that the
/// file stays small.
pub(crate) fn torrent(name: &str, length: u64) -> Vec<u8> {
    let mut piece_length: u64 = 16384;
    while length.div_ceil(piece_length) > 1024 {
        piece_length *= 2;
    }
    let pieces = length.div_ceil(piece_length).max(1) as usize * 20;
    let mut t = format!(
        "d8:announce20:http://x/announce/xx4:infod6:lengthi{length}e4:name{}:{name}\
         12:piece lengthi{piece_length}e6:pieces{pieces}:",
        name.len()
    )
    .into_bytes();
    t.resize(t.len() + pieces, b'a');
    t.extend_from_slice(b"ee");
    t
}

/// The info-hash of [`torrent`] in hex.
pub(crate) fn torrent_hash(bytes: &[u8]) -> String {
    torrentkit_tracker_server::TorrentInfo::parse(bytes)
        .expect("test torrent")
        .info_hash
        .to_hex()
}

/// Percent-encodes hex digits as raw bytes.
pub(crate) fn hex_to_query(hex: &str) -> String {
    hex.as_bytes()
        .chunks(2)
        .map(|c| format!("%{}", std::str::from_utf8(c).unwrap()))
        .collect()
}
