//! Announce and scrape through the router (no sockets): every path and every failure reason.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use torrentkit_tracker_server::Config;

use crate::common::{announce, app, get, hash, send, Reply};

const A: &str = "10.0.0.1:40000";
const B: &str = "10.0.0.2:40000";

#[tokio::test]
async fn compact_announces_meet_each_other() {
    let (_, app) = app(Config::default());
    let r = get(
        &app,
        &announce(1, 1, 6881, 0, "&event=started&compact=1"),
        A,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["content-type"], "text/plain");
    assert_eq!((r.int("complete"), r.int("incomplete")), (1, 0));
    assert_eq!((r.int("interval"), r.int("min interval")), (1800, 900));
    assert_eq!(r.bytes("peers"), Some(vec![]));
    let r = get(
        &app,
        &announce(1, 2, 6882, 100, "&event=started&compact=1"),
        B,
    )
    .await;
    assert_eq!((r.int("complete"), r.int("incomplete")), (1, 1));
    assert_eq!(r.bytes("peers"), Some(vec![10, 0, 0, 1, 0x1a, 0xe1]));
    assert_eq!(r.bytes("peers6"), None);
    // The seed learns of the leecher on its next announce.
    let r = get(&app, &announce(1, 1, 6881, 0, "&compact=1"), A).await;
    assert_eq!(r.bytes("peers"), Some(vec![10, 0, 0, 2, 0x1a, 0xe2]));
}

#[tokio::test]
async fn dictionary_peers_with_and_without_ids() {
    let (_, app) = app(Config::default());
    get(&app, &announce(1, 1, 6881, 0, ""), A).await;
    let r = get(&app, &announce(1, 2, 6882, 5, ""), B).await;
    let v = r.bencode();
    let peers = v
        .as_value()
        .as_dict()
        .unwrap()
        .get(b"peers")
        .unwrap()
        .as_list()
        .unwrap()
        .to_vec();
    assert_eq!(peers.len(), 1);
    let p = peers[0].as_dict().unwrap();
    assert_eq!(p.get(b"ip").unwrap().as_str(), Some("10.0.0.1"));
    assert_eq!(p.get(b"port").unwrap().as_int(), Some(6881));
    assert_eq!(p.get(b"peer id").unwrap().as_bytes(), Some(&[1u8; 20][..]));
    let r = get(&app, &announce(1, 2, 6882, 5, "&no_peer_id=1"), B).await;
    assert!(!r.text().contains("peer id"), "{}", r.text());
    assert!(r.text().contains("2:ip8:10.0.0.1"), "{}", r.text());
}

#[tokio::test]
async fn ipv6_peers_come_as_peers6() {
    let (_, app) = app(Config::default());
    get(
        &app,
        &announce(1, 1, 6881, 0, "&compact=1"),
        "[2001:db8::1]:1",
    )
    .await;
    let r = get(&app, &announce(1, 2, 6882, 5, "&compact=1"), A).await;
    let mut want = vec![0x20, 0x01, 0x0d, 0xb8];
    want.extend_from_slice(&[0; 11]);
    want.extend_from_slice(&[1, 0x1a, 0xe1]);
    assert_eq!(r.bytes("peers6"), Some(want));
    assert_eq!(r.bytes("peers"), Some(vec![]));
    // An IPv4-mapped address (dual-stack socket) counts as IPv4.
    let r = get(
        &app,
        &announce(1, 3, 7000, 5, "&compact=1"),
        "[::ffff:10.0.0.9]:1",
    )
    .await;
    assert_eq!(r.int("incomplete"), 2);
    let r = get(
        &app,
        &announce(1, 1, 6881, 0, "&compact=1"),
        "[2001:db8::1]:1",
    )
    .await;
    let peers = r.bytes("peers").unwrap();
    assert!(
        peers.windows(6).any(|w| w == [10, 0, 0, 9, 0x1b, 0x58]),
        "{peers:?}"
    );
}

#[tokio::test]
async fn stopped_leaves_and_completed_counts_once() {
    let (_, app) = app(Config::default());
    get(&app, &announce(1, 1, 6881, 5, "&event=started"), A).await;
    get(&app, &announce(1, 2, 6882, 5, "&event=started"), B).await;
    let r = get(
        &app,
        &announce(1, 1, 6881, 0, "&event=completed&compact=1"),
        A,
    )
    .await;
    assert_eq!(
        (r.int("complete"), r.int("incomplete"), r.int("downloaded")),
        (1, 1, 1)
    );
    let r = get(
        &app,
        &announce(1, 1, 6881, 0, "&event=completed&compact=1"),
        A,
    )
    .await;
    assert_eq!(
        r.int("downloaded"),
        1,
        "a repeated completed is not counted again"
    );
    let r = get(
        &app,
        &announce(1, 2, 6882, 5, "&event=stopped&compact=1"),
        B,
    )
    .await;
    assert_eq!((r.int("complete"), r.int("incomplete")), (1, 0));
    assert_eq!(
        r.bytes("peers"),
        Some(vec![]),
        "a stopping peer is given no peers"
    );
    let r = get(&app, &format!("/scrape?info_hash={}", hash(1)), A).await;
    assert!(
        r.text()
            .contains("d8:completei1e10:downloadedi1e10:incompletei0ee"),
        "{}",
        r.text()
    );
}

#[tokio::test]
async fn numwant_is_capped_and_defaulted() {
    let cfg = Config {
        max_numwant: 3,
        default_numwant: 2,
        ..Config::default()
    };
    let (_, app) = app(cfg);
    for p in 1..=10u8 {
        get(
            &app,
            &announce(1, p, 1000 + u16::from(p), 5, "&compact=1"),
            &format!("10.0.1.{p}:1"),
        )
        .await;
    }
    let r = get(
        &app,
        &announce(1, 1, 1001, 5, "&compact=1&numwant=500"),
        "10.0.1.1:1",
    )
    .await;
    assert_eq!(r.bytes("peers").unwrap().len(), 3 * 6);
    let r = get(&app, &announce(1, 1, 1001, 5, "&compact=1"), "10.0.1.1:1").await;
    assert_eq!(r.bytes("peers").unwrap().len(), 2 * 6);
    let r = get(
        &app,
        &announce(1, 1, 1001, 5, "&compact=1&numwant=0"),
        "10.0.1.1:1",
    )
    .await;
    assert_eq!(r.bytes("peers").unwrap().len(), 0);
}

#[tokio::test]
async fn ip_param_and_forwarded_for_only_when_trusted() {
    let (_, plain) = app(Config::default());
    get(
        &plain,
        &announce(1, 1, 6881, 0, "&compact=1&ip=192.168.9.9"),
        A,
    )
    .await;
    let r = get(&plain, &announce(1, 2, 6882, 5, "&compact=1"), B).await;
    assert_eq!(
        r.bytes("peers"),
        Some(vec![10, 0, 0, 1, 0x1a, 0xe1]),
        "ip= ignored by default"
    );
    let req = Request::get(announce(2, 1, 6881, 0, "&compact=1"))
        .header("x-forwarded-for", "192.168.9.9")
        .body(Body::empty())
        .unwrap();
    send(&plain, req, Some(A)).await;
    let r = get(&plain, &announce(2, 2, 6882, 5, "&compact=1"), B).await;
    assert_eq!(
        r.bytes("peers"),
        Some(vec![10, 0, 0, 1, 0x1a, 0xe1]),
        "X-Forwarded-For ignored"
    );

    let cfg = Config {
        trust_ip_param: true,
        trust_proxy_headers: true,
        ..Config::default()
    };
    let (_, trusting) = app(cfg);
    let app = trusting;
    get(
        &app,
        &announce(1, 1, 6881, 0, "&compact=1&ip=192.168.9.9"),
        A,
    )
    .await;
    let r = get(&app, &announce(1, 2, 6882, 5, "&compact=1"), B).await;
    assert_eq!(r.bytes("peers"), Some(vec![192, 168, 9, 9, 0x1a, 0xe1]));
    let req = Request::get(announce(2, 1, 6881, 0, "&compact=1"))
        .header("x-forwarded-for", "1.2.3.4, 172.16.0.7")
        .body(Body::empty())
        .unwrap();
    send(&app, req, Some(A)).await;
    let r = get(&app, &announce(2, 2, 6882, 5, "&compact=1"), B).await;
    assert_eq!(
        r.bytes("peers"),
        Some(vec![172, 16, 0, 7, 0x1a, 0xe1]),
        "last hop counts"
    );
    let req = Request::get(announce(2, 3, 6882, 5, "&compact=1"))
        .header("x-forwarded-for", "nonsense")
        .body(Body::empty())
        .unwrap();
    let r = send(&app, req, Some(A)).await;
    assert_eq!(r.failure().as_deref(), Some("bad ip `nonsense`"));
    // With a trusted ip= and no socket address, the ip= says who the client is.
    let r = send(
        &app,
        Request::get(announce(3, 1, 1, 5, "&ip=10.9.9.9"))
            .body(Body::empty())
            .unwrap(),
        None,
    )
    .await;
    assert_eq!(r.failure(), None);
}

async fn failure(app: &axum::Router, uri: &str) -> String {
    let r: Reply = get(app, uri, A).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "failures are status 200 with a reason"
    );
    r.failure()
        .unwrap_or_else(|| panic!("no failure for {uri}: {}", r.text()))
}

#[tokio::test]
async fn every_announce_failure_reason() {
    let cfg = Config {
        max_query_len: 400,
        ..Config::default()
    };
    let (_, app) = app(cfg);
    let h = hash(1);
    let p = hash(2);
    let cases: Vec<(String, &str)> = vec![
        (format!("/announce?peer_id={p}&port=1"), "missing info_hash"),
        (format!("/announce?info_hash={h}&port=1"), "missing peer_id"),
        (
            format!("/announce?info_hash={h}&peer_id={p}"),
            "missing port",
        ),
        ("/announce".to_owned(), "missing info_hash"),
        (
            format!("/announce?info_hash=abc&peer_id={p}&port=1"),
            "bad info_hash length 3 (expected 20 bytes)",
        ),
        (
            format!("/announce?info_hash={h}%01&peer_id={p}&port=1"),
            "bad info_hash length 21 (expected 20 bytes)",
        ),
        (
            format!("/announce?info_hash={h}&peer_id=abc&port=1"),
            "bad peer_id length 3 (expected 20 bytes)",
        ),
        (
            format!("/announce?info_hash=%G1{h}&peer_id={p}&port=1"),
            "bad percent-encoding in info_hash",
        ),
        (
            format!("/announce?info_hash={h}&peer_id={p}&port=http"),
            "bad port `http`",
        ),
        (
            format!("/announce?info_hash={h}&peer_id={p}&port=0"),
            "bad port `0`",
        ),
        (
            format!("/announce?info_hash={h}&peer_id={p}&port=70000"),
            "bad port `70000`",
        ),
        (
            format!("/announce?info_hash={h}&peer_id={p}&port=1&port=2"),
            "duplicate port",
        ),
        (
            format!("/announce?info_hash={h}&info_hash={h}&peer_id={p}&port=1"),
            "duplicate info_hash",
        ),
        (
            format!("/announce?info_hash={h}&peer_id={p}&port=1&left=lots"),
            "bad left `lots`",
        ),
        (
            format!("/announce?info_hash={h}&peer_id={p}&port=1&uploaded=-1"),
            "bad uploaded `-1`",
        ),
        (
            format!("/announce?info_hash={h}&peer_id={p}&port=1&downloaded=1.5"),
            "bad downloaded `1.5`",
        ),
        (
            format!("/announce?info_hash={h}&peer_id={p}&port=1&numwant=x"),
            "bad numwant `x`",
        ),
        (
            format!("/announce?info_hash={h}&peer_id={p}&port=1&event=finished"),
            "bad event `finished` (expected started, completed, stopped, paused or empty)",
        ),
        (
            format!("/announce?info_hash={h}&peer_id={p}&port=1&ip=300.1.1.1"),
            "bad ip `300.1.1.1`",
        ),
        (
            format!(
                "/announce?info_hash={h}&peer_id={p}&port=1&x={}",
                "a".repeat(300)
            ),
            "request too long (449 bytes, limit 400)",
        ),
    ];
    for (uri, want) in cases {
        assert_eq!(failure(&app, &uri).await, want, "for {uri}");
    }
}

#[tokio::test]
async fn bounds_key_and_address_failures() {
    let cfg = Config {
        max_torrents: 1,
        ..Config::default()
    };
    let (tracker, app) = app(cfg);
    get(&app, &announce(1, 1, 1, 5, "&key=aaaa"), A).await;
    assert_eq!(
        failure(&app, &announce(2, 1, 1, 5, "")).await,
        "tracker full: already tracking 1 torrents"
    );
    // The same peer id from another address needs the same key.
    let r = get(&app, &announce(1, 1, 1, 5, "&key=bbbb"), B).await;
    assert_eq!(
        r.failure().as_deref(),
        Some("peer_id already in use from another address without its key")
    );
    let r = get(&app, &announce(1, 1, 1, 5, "&key=aaaa"), B).await;
    assert_eq!(r.failure(), None);
    // No connection info and no trusted header: the tracker cannot know who is asking.
    let r = send(
        &app,
        Request::get(announce(1, 9, 1, 5, ""))
            .body(Body::empty())
            .unwrap(),
        None,
    )
    .await;
    assert_eq!(r.failure().as_deref(), Some("client address unknown"));
    let c = tracker.counts();
    assert_eq!((c.http_announces, c.http_failures), (5, 3));
}

#[tokio::test]
async fn peers_per_torrent_are_bounded() {
    let cfg = Config {
        max_peers_per_torrent: 3,
        ..Config::default()
    };
    let (_, app) = app(cfg);
    for p in 1..=5u8 {
        let r = get(
            &app,
            &announce(1, p, 1, 5, "&compact=1"),
            &format!("10.0.2.{p}:1"),
        )
        .await;
        assert_eq!(r.failure(), None, "a full swarm still answers");
    }
    let r = get(&app, &format!("/scrape?info_hash={}", hash(1)), A).await;
    assert!(r.text().contains("10:incompletei3e"), "{}", r.text());
}

#[tokio::test]
async fn scrape_paths_and_failures() {
    let cfg = Config {
        max_scrape_hashes: 2,
        ..Config::default()
    };
    let (_, app) = app(cfg);
    get(&app, &announce(1, 1, 1, 0, ""), A).await;
    get(&app, &announce(1, 2, 1, 7, ""), B).await;
    let r = get(
        &app,
        &format!("/scrape?info_hash={}&info_hash={}", hash(1), hash(2)),
        A,
    )
    .await;
    let want = format!(
        "d5:filesd20:{}d8:completei1e10:downloadedi0e10:incompletei1ee20:{}d8:completei0e10:downloadedi0e10:incompletei0eeee",
        "\u{1}".repeat(20),
        "\u{2}".repeat(20)
    );
    assert_eq!(r.text(), want);
    let r = get(&app, "/scrape", A).await;
    assert_eq!(
        r.failure().as_deref(),
        Some("scrape needs at least one info_hash")
    );
    let r = get(
        &app,
        &format!("/scrape?info_hash={0}&info_hash={0}&info_hash={0}", hash(1)),
        A,
    )
    .await;
    assert_eq!(
        r.failure().as_deref(),
        Some("too many info_hash values (3, limit 2)")
    );
    let r = get(&app, "/scrape?info_hash=short", A).await;
    assert_eq!(
        r.failure().as_deref(),
        Some("bad info_hash length 5 (expected 20 bytes)")
    );
}
