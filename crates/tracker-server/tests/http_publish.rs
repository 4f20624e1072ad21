//! `POST /publish`: off by default, token checked, torrents validated, then hosted and tracked.

use axum::body::Body;
use axum::http::Request;
use torrentkit_tracker_server::Config;

use crate::common::{app, get, hash, hex_to_query, scratch, send, torrent, torrent_hash};

const A: &str = "10.0.0.1:40000";

fn post(auth: Option<&str>, body: Vec<u8>) -> Request<Body> {
    let mut req = Request::post("/publish").header("content-type", "application/x-bittorrent");
    if let Some(auth) = auth {
        req = req.header("authorization", format!("Bearer {auth}"));
    }
    req.body(Body::from(body)).unwrap()
}

#[tokio::test]
async fn publishing_is_off_without_a_token() {
    let (_, app) = app(Config::default());
    let r = send(&app, post(Some("anything"), torrent("a", 1)), Some(A)).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.text(), "publishing is off on this tracker\n");
}

#[tokio::test]
async fn token_and_torrent_are_checked() {
    let cfg = Config {
        publish_token: Some("s3cret".into()),
        max_publish_size: 1000,
        ..Config::default()
    };
    let (tracker, app) = app(cfg);
    let r = send(&app, post(None, torrent("a", 1)), Some(A)).await;
    assert_eq!(
        (r.status.as_u16(), r.text().as_str()),
        (403, "missing or wrong publish token\n")
    );
    let r = send(&app, post(Some("wrong"), torrent("a", 1)), Some(A)).await;
    assert_eq!(r.status, 403);
    let r = send(
        &app,
        post(Some("s3cret"), b"not a torrent".to_vec()),
        Some(A),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(
        r.text().starts_with("not a torrent file: bencode:"),
        "{}",
        r.text()
    );
    let r = send(&app, post(Some("s3cret"), b"d3:fooi1ee".to_vec()), Some(A)).await;
    assert_eq!(
        (r.status.as_u16(), r.text().as_str()),
        (400, "not a torrent file: no `info` dictionary\n")
    );
    let r = send(&app, post(Some("s3cret"), vec![b'x'; 2000]), Some(A)).await;
    assert_eq!(r.status, 413);
    assert_eq!(tracker.counts().published, 0);
    assert!(tracker.hosted_torrents().is_empty());
}

#[tokio::test]
async fn published_torrents_are_hosted_and_tracked() {
    let dir = scratch("publish");
    let cfg = Config {
        publish_token: Some("s3cret".into()),
        allowed_dir: Some(dir.clone()),
        ..Config::default()
    };
    let (tracker, app) = app(cfg);
    let file = torrent("published.bin", 12345);
    let hex = torrent_hash(&file);
    let announce = format!(
        "/announce?info_hash={}&peer_id={}&port=1&left=0",
        hex_to_query(&hex),
        hash(1)
    );
    assert!(
        get(&app, &announce, A).await.failure().is_some(),
        "not allowed before publishing"
    );

    // The token may also come as X-Publish-Token or ?token=.
    let req = Request::post("/publish?token=s3cret")
        .body(Body::from(file.clone()))
        .unwrap();
    let r = send(&app, req, Some(A)).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let url = format!("/torrents/{hex}.torrent");
    assert_eq!(r.headers["location"], url.as_str());
    assert_eq!(
        r.text(),
        format!("published {hex} (published.bin) at {url}\n")
    );
    assert_eq!(
        std::fs::read(dir.join(format!("{hex}.torrent"))).unwrap(),
        file,
        "saved in the allowed dir"
    );

    let served = get(&app, &url, A).await;
    assert_eq!(
        (served.status.as_u16(), served.body.clone()),
        (200, file.clone())
    );
    assert_eq!(
        get(&app, &announce, A).await.failure(),
        None,
        "tracked once published"
    );
    assert!(get(&app, "/", A).await.text().contains("published.bin"));
    // A rescan keeps it: the file is in the directory now.
    tracker.rescan().unwrap();
    assert!(tracker
        .hosted_torrents()
        .iter()
        .any(|t| t.info.info_hash.to_hex() == hex));

    let req = Request::post("/publish")
        .header("x-publish-token", "s3cret")
        .body(Body::from(torrent("second", 1)))
        .unwrap();
    assert_eq!(send(&app, req, Some(A)).await.status, 201);
    assert_eq!(tracker.counts().published, 2);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_publish_that_cannot_be_saved_is_a_server_error() {
    let dir = scratch("publish-unwritable");
    // The "directory" is a file: writing the torrent into it fails.
    let not_a_dir = dir.join("file");
    std::fs::write(&not_a_dir, b"x").unwrap();
    let cfg = Config {
        publish_token: Some("s3cret".into()),
        allowed_dir: Some(not_a_dir),
        ..Config::default()
    };
    let (tracker, app) = app(cfg);
    let r = send(&app, post(Some("s3cret"), torrent("a", 1)), Some(A)).await;
    assert_eq!(r.status, 500);
    assert!(r.text().starts_with("creating "), "{}", r.text());
    assert!(tracker.hosted_torrents().is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}
