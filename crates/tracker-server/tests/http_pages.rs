//! The index page, `/metrics`, `/stats.json`, hosted files, the allowed directory, and the router
//! nested in a host application.

use axum::routing::get as route_get;
use axum::Router;
use torrentkit_tracker_server::{router, AccessLog, Config, Tracker};

use crate::common::{announce, app, get, hash, hex_to_query, scratch, torrent, torrent_hash};

const A: &str = "10.0.0.1:40000";

#[tokio::test]
async fn allowed_dir_tracks_and_serves_only_its_torrents() {
    let dir = scratch("allowed");
    let file = torrent("ubuntu <lts> & more.iso", 3 << 30);
    std::fs::write(dir.join("one.torrent"), &file).unwrap();
    let hex = torrent_hash(&file);
    let (tracker, app) = app(Config {
        allowed_dir: Some(dir.clone()),
        ..Config::default()
    });
    let report = tracker.rescan().unwrap();
    assert_eq!(report.added, 1);

    let q = hex_to_query(&hex);
    let uri = format!("/announce?info_hash={q}&peer_id={}&port=1&left=0", hash(1));
    let r = get(&app, &uri, A).await;
    assert_eq!(r.failure(), None, "{}", r.text());
    let r = get(&app, &announce(9, 1, 1, 0, ""), A).await;
    assert_eq!(
        r.failure().as_deref(),
        Some("torrent not tracked here (not in allowed list)")
    );
    // Scrapes leave out torrents that are not allowed.
    let r = get(
        &app,
        &format!("/scrape?info_hash={q}&info_hash={}", hash(9)),
        A,
    )
    .await;
    assert!(r.text().contains("8:completei1e"), "{}", r.text());
    assert!(!r.body.windows(20).any(|w| w == [9u8; 20]), "{}", r.text());

    let r = get(&app, &format!("/torrents/{hex}.torrent"), A).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["content-type"], "application/x-bittorrent");
    assert_eq!(r.body, file);
    assert!(r.headers["content-disposition"]
        .to_str()
        .unwrap()
        .contains("ubuntu _lts_ _ more.iso.torrent"));
    let r = get(&app, &format!("/torrents/{}.torrent", "0".repeat(40)), A).await;
    assert_eq!(r.status, 404);
    let r = get(&app, "/torrents/nonsense", A).await;
    assert_eq!(r.status, 404);

    let r = get(&app, "/", A).await;
    assert_eq!(r.headers["content-type"], "text/html; charset=utf-8");
    let html = r.text();
    assert!(html.contains("ubuntu &lt;lts&gt; &amp; more.iso"), "{html}");
    assert!(
        html.contains(&format!("<a href=\"/torrents/{hex}.torrent\">")),
        "{html}"
    );
    assert!(html.contains("3.0 GiB"), "{html}");
    assert!(html.contains("<th>1 torrents</th>"), "{html}");

    // Removing the file stops tracking at the next rescan.
    std::fs::remove_file(dir.join("one.torrent")).unwrap();
    assert_eq!(tracker.rescan().unwrap().removed, 1);
    let r = get(&app, &uri, A).await;
    assert_eq!(
        r.failure().as_deref(),
        Some("torrent not tracked here (not in allowed list)")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn index_lists_swarms_with_counts_and_totals() {
    let (_, app) = app(Config::default());
    get(&app, &announce(0xab, 1, 1, 0, "&event=completed"), A).await;
    get(&app, &announce(0xab, 2, 1, 10, ""), "10.0.0.2:1").await;
    get(&app, &announce(0xcd, 3, 1, 10, ""), "10.0.0.3:1").await;
    let html = get(&app, "/", A).await.text();
    assert!(html.contains(&"ab".repeat(20)), "{html}");
    assert!(html.contains(&"cd".repeat(20)), "{html}");
    assert!(
        html.contains(
            "<th>2 torrents</th><th></th><th class=n>1</th><th class=n>2</th><th class=n>1</th>"
        ),
        "{html}"
    );
}

#[tokio::test]
async fn a_big_index_lists_the_busiest_and_counts_all() {
    let (tracker, app) = app(Config::default());
    // 1,005 torrents: hash [n, n >> 8, 0, ...]; the first one has a second peer.
    for n in 0..1005u16 {
        let mut h = [0u8; 20];
        h[..2].copy_from_slice(&n.to_le_bytes());
        let q: String = h.iter().map(|b| format!("%{b:02X}")).collect();
        let uri = format!("/announce?info_hash={q}&peer_id={}&port=1&left=5", hash(1));
        get(&app, &uri, A).await;
        if n == 0 {
            let uri = format!("/announce?info_hash={q}&peer_id={}&port=1&left=0", hash(2));
            get(&app, &uri, A).await;
        }
    }
    assert_eq!(tracker.store().totals().torrents, 1005);
    let html = get(&app, "/", A).await.text();
    assert_eq!(
        html.matches("<tr><td></td>").count(),
        1000,
        "rows are bounded"
    );
    assert!(
        html.contains("<p>5 less busy torrents not listed (the totals count them).</p>"),
        "{html}"
    );
    assert!(
        html.contains("<th>1005 torrents</th><th></th><th class=n>1</th><th class=n>1005</th>"),
        "{html}"
    );
    // The busiest comes first.
    let first_row = html.split("<tr><td></td>").nth(1).unwrap();
    assert!(
        first_row.starts_with(&format!("<td><code>{}</code>", "0".repeat(40))),
        "{first_row}"
    );
}

#[tokio::test]
async fn metrics_and_stats_json() {
    let (_, app) = app(Config::default());
    get(&app, &announce(1, 1, 1, 0, ""), A).await;
    get(&app, &announce(1, 2, 1, 5, ""), A).await;
    get(&app, "/announce?port=1", A).await;
    get(&app, &format!("/scrape?info_hash={}", hash(1)), A).await;
    let m = get(&app, "/metrics", A).await;
    assert!(m.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let m = m.text();
    for line in [
        "tracker_torrents 1",
        "tracker_seeders 1",
        "tracker_leechers 1",
        "tracker_requests_total{protocol=\"http\",kind=\"announce\"} 3",
        "tracker_requests_total{protocol=\"http\",kind=\"scrape\"} 1",
        "tracker_failures_total{protocol=\"http\"} 1",
        "# TYPE tracker_completed_total counter",
    ] {
        assert!(m.lines().any(|l| l == line), "missing `{line}` in\n{m}");
    }
    let s = get(&app, "/stats.json", A).await;
    assert_eq!(s.headers["content-type"], "application/json");
    let json: serde_json::Value = serde_json::from_slice(&s.body).unwrap();
    assert_eq!(json["torrents"], 1);
    assert_eq!(json["seeders"], 1);
    assert_eq!(json["leechers"], 1);
    assert_eq!(json["requests"]["http_announce"], 3);
    assert_eq!(json["requests"]["http_failure"], 1);
    assert!(json["dfile"].is_null());
}

#[derive(Clone, Default)]
struct Sink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn nested_under_a_host_app() {
    let tracker = Tracker::new(Config::default(), std::time::Instant::now());
    let sink = Sink::default();
    let log = AccessLog::new(sink.clone());
    tracker.set_access_log(log.clone()).unwrap();
    let host = Router::new()
        .route("/", route_get(|| async { "host" }))
        .nest("/tracker", router().with_state(tracker.clone()));
    assert_eq!(get(&host, "/", A).await.text(), "host");
    let r = get(
        &host,
        &format!("/tracker{}", announce(1, 1, 1, 0, "&compact=1")),
        A,
    )
    .await;
    assert_eq!(r.int("complete"), 1);
    let html = get(&host, "/tracker", A).await.text();
    assert!(html.contains("<code>/tracker/announce</code>"), "{html}");
    assert_eq!(tracker.store().totals().seeders, 1);
    // The access log shows the path as the client sent it, with the host's prefix.
    log.close();
    let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].starts_with("10.0.0.1 - - ["), "{text}");
    assert!(
        lines[0].contains("\"GET /tracker/announce?info_hash="),
        "{text}"
    );
    assert!(lines[0].ends_with(" HTTP/1.1\" 200 92"), "{text}");
    assert!(
        lines[1].contains("\"GET /tracker HTTP/1.1\" 200 "),
        "{text}"
    );
}
