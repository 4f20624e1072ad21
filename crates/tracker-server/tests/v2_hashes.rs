//! BEP 52: v2-only and hybrid peers announce the SHA-256 info-hash truncated to 20 bytes; the
//! tracker treats it as any 20-byte hash, and refuses a full 32-byte one.

use axum::http::StatusCode;
use torrentkit_metainfo::{percent, InfoHashV2};
use torrentkit_tracker_server::Config;

use crate::common::{app, get};

const A: &str = "10.0.0.1:40000";
const B: &str = "10.0.0.2:40000";

fn announce(info_hash: &[u8], peer: u8, port: u16, left: u64) -> String {
    format!(
        "/announce?info_hash={}&peer_id={}&port={port}&uploaded=0&downloaded=0&left={left}\
         &event=started&compact=1",
        percent::encode(info_hash, percent::UNRESERVED),
        format!("%{peer:02X}").repeat(20)
    )
}

#[tokio::test]
async fn truncated_v2_hashes_are_ordinary_swarms() {
    let (_, app) = app(Config::default());
    let v2 = InfoHashV2::of_info_bytes(b"d4:name1:ae");
    let short = v2.truncated();
    let r = get(&app, &announce(short.as_bytes(), 1, 6881, 0), A).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = get(&app, &announce(short.as_bytes(), 2, 6882, 100), B).await;
    assert_eq!((r.int("complete"), r.int("incomplete")), (1, 1));
    assert_eq!(r.bytes("peers"), Some(vec![10, 0, 0, 1, 0x1a, 0xe1]));
    let scrape = format!(
        "/scrape?info_hash={}",
        percent::encode(short.as_bytes(), percent::UNRESERVED)
    );
    let r = get(&app, &scrape, A).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body.windows(20).any(|w| w == short.as_bytes()),
        "{}",
        r.text()
    );

    // The untruncated 32 bytes are not a BitTorrent info-hash on the wire.
    let r = get(&app, &announce(&v2.0, 3, 6883, 100), B).await;
    assert!(r.text().contains("failure reason"), "{}", r.text());
}
