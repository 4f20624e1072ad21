//! `serve` on real loopback sockets: HTTP and UDP on one port, the dfile saved periodically and on
//! shutdown and loaded on start, a corrupt dfile moved aside.

use std::path::Path;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::oneshot;
use torrentkit_tracker_server::{serve, Config, DfileStatus, Tracker, UdpRequest, UdpResponse};

use crate::common::{announce, hash, scratch};

/// A plain HTTP/1.1 GET; returns the body.
async fn http_get(addr: std::net::SocketAddr, uri: &str) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).await.expect("tracker listening");
    s.write_all(format!("GET {uri} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf))
        .await
        .expect("reply within 10 s")
        .unwrap();
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end")
        + 4;
    assert!(buf.starts_with(b"HTTP/1.1 200"), "{}", buf.escape_ascii());
    buf[split..].to_vec()
}

fn config(dfile: &Path) -> Config {
    Config {
        dfile: Some(dfile.to_path_buf()),
        save_interval: Duration::from_millis(100),
        ..Config::default()
    }
}

/// The scrape entry text of torrent `[1; 20]` in `dir`'s dfile (as reloaded into a new tracker).
fn saved_counts(dfile: &Path) -> Option<(u64, u64)> {
    let config = Config {
        dfile: Some(dfile.to_path_buf()),
        ..Config::default()
    };
    let t = Tracker::new(config, Instant::now());
    let bytes = std::fs::read(dfile).ok()?;
    torrentkit_tracker_server::dfile_format::restore(t.store(), &bytes, Instant::now(), 0).ok()?;
    let totals = t.store().totals();
    Some((totals.seeders, totals.leechers))
}

#[tokio::test]
async fn state_survives_a_kill_after_a_save_and_a_clean_shutdown() {
    let dir = scratch("serve");
    let dfile = dir.join("dstate");

    // First run: a missing dfile is created; announces over HTTP and UDP on the same port.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let run = tokio::spawn(serve(listener, config(&dfile), async {
        let _ = stopped.await;
    }));
    http_get(addr, &announce(1, 1, 6881, 0, "&compact=1")).await;
    http_get(addr, &announce(1, 2, 6882, 5, "&compact=1")).await;
    let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut connect = Vec::new();
    UdpRequest::Connect { transaction_id: 5 }.write(&mut connect);
    // The UDP socket is bound shortly after the HTTP listener: retry until it answers.
    let deadline = Instant::now() + Duration::from_secs(10);
    let reply = loop {
        udp.send_to(&connect, addr).await.unwrap();
        let mut buf = [0u8; 64];
        if let Ok(Ok((n, _))) =
            tokio::time::timeout(Duration::from_millis(200), udp.recv_from(&mut buf)).await
        {
            break buf[..n].to_vec();
        }
        assert!(
            Instant::now() < deadline,
            "no UDP reply on port {}",
            addr.port()
        );
    };
    assert!(matches!(
        UdpResponse::parse(&reply, false),
        Ok(UdpResponse::Connect {
            transaction_id: 5,
            ..
        })
    ));

    // Wait for a periodic save to hold both peers, then kill the server without a final save.
    let deadline = Instant::now() + Duration::from_secs(10);
    while saved_counts(&dfile) != Some((1, 1)) {
        assert!(
            Instant::now() < deadline,
            "no periodic save with both peers"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    run.abort();
    drop(stop);

    // Second run: the peers are back. A third peer then announces, and a clean shutdown saves it.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let tracker = Tracker::new(config(&dfile), Instant::now());
    assert!(
        matches!(tracker.load_dfile().unwrap(), DfileStatus::Loaded(r) if r.peers == 2 && r.torrents == 1)
    );
    let (stop, stopped) = oneshot::channel::<()>();
    let t = tracker.clone();
    let run = tokio::spawn(async move {
        t.serve(listener, async {
            let _ = stopped.await;
        })
        .await
    });
    let scrape = http_get(addr, &format!("/scrape?info_hash={}", hash(1))).await;
    assert!(
        scrape.ends_with(b"d8:completei1e10:downloadedi0e10:incompletei1eeee"),
        "{}",
        scrape.escape_ascii()
    );
    let reply = http_get(addr, &announce(1, 3, 6883, 5, "&compact=1&numwant=10")).await;
    let peers = torrentkit_bencode::decode(&reply)
        .unwrap()
        .as_dict()
        .unwrap()
        .get(b"peers")
        .unwrap()
        .as_bytes()
        .unwrap()
        .to_vec();
    let mut ports: Vec<u16> = peers
        .chunks(6)
        .map(|c| u16::from_be_bytes([c[4], c[5]]))
        .collect();
    ports.sort();
    assert_eq!(ports, vec![6881, 6882], "announces return the old peers");
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(15), run)
        .await
        .expect("shuts down")
        .unwrap()
        .unwrap();
    assert_eq!(saved_counts(&dfile), Some((1, 2)), "saved on shutdown");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_corrupt_dfile_is_moved_aside_and_reported() {
    let dir = scratch("corrupt");
    let dfile = dir.join("dstate");
    std::fs::write(&dfile, b"d5:savedi1e6:swarmsi3e7:versioni1ee").unwrap();
    let tracker = Tracker::new(config(&dfile), Instant::now());
    let status = tracker.load_dfile().unwrap();
    let DfileStatus::MovedAside { error, to } = status else {
        panic!("expected the dfile to be moved aside, got {status:?}");
    };
    assert_eq!(error.to_string(), "corrupt dfile: no `swarms` dictionary");
    assert_eq!(
        std::fs::read(&to).unwrap(),
        b"d5:savedi1e6:swarmsi3e7:versioni1ee",
        "kept, not dropped"
    );
    assert!(to
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("dstate.corrupt-"));
    assert!(!dfile.exists());

    // Served, the status shows in /stats.json.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let t = tracker.clone();
    let run = tokio::spawn(async move {
        t.serve(listener, async {
            let _ = stopped.await;
        })
        .await
    });
    let stats = http_get(addr, "/stats.json").await;
    let json: serde_json::Value = serde_json::from_slice(&stats).unwrap();
    assert_eq!(json["dfile"]["status"], "moved_aside");
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(15), run)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(dfile.exists(), "a fresh dfile is written on shutdown");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn background_failures_are_reported_as_notices() {
    use std::sync::{Arc, Mutex};
    let dir = scratch("notices");
    let state_dir = dir.join("state");
    let torrents = dir.join("torrents");
    std::fs::create_dir_all(&state_dir).unwrap();
    std::fs::create_dir_all(&torrents).unwrap();
    let config = Config {
        dfile: Some(state_dir.join("dstate")),
        save_interval: Duration::from_millis(100),
        allowed_dir: Some(torrents.clone()),
        rescan_interval: Duration::from_millis(100),
        ..Config::default()
    };
    let tracker = Tracker::new(config, Instant::now());
    tracker.load_dfile().unwrap();
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = seen.clone();
    tracker
        .set_notice_handler(Box::new(move |n| sink.lock().unwrap().push(n.to_string())))
        .unwrap_or_else(|_| panic!("no handler set yet"));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let t = tracker.clone();
    let run = tokio::spawn(async move {
        t.serve(listener, async {
            let _ = stopped.await;
        })
        .await
    });

    // A bad torrent appears, and the dfile's directory goes away.
    std::fs::write(torrents.join("bad.torrent"), b"garbage").unwrap();
    std::fs::remove_dir_all(&state_dir).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let notices = seen.lock().unwrap().clone();
        let bad = notices
            .iter()
            .any(|n| n.starts_with("skipping ") && n.contains("bad.torrent: not a torrent file"));
        let save = notices
            .iter()
            .any(|n| n.starts_with("saving the dfile failed: creating "));
        if bad && save {
            break;
        }
        assert!(Instant::now() < deadline, "notices so far: {notices:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(tracker.counts().background_failures >= 1);
    stop.send(()).unwrap();
    let result = tokio::time::timeout(Duration::from_secs(15), run)
        .await
        .unwrap()
        .unwrap();
    let err = result.expect_err("the final save fails too, and serve says so");
    assert!(err.to_string().starts_with("creating "), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
