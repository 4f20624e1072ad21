//! `bt tracker --store redis://...` end to end, against a real redis-server (Debian package
//! `redis-server`) that each test starts for itself: several trackers on one Redis give the same
//! peers and counts, silent peers expire, a tracker killed with SIGKILL loses nothing, and a
//! Redis that stops and comes back (with its AOF) is used again by both trackers without a
//! restart.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::redis_server::RedisServer;
use crate::tracker::{start, Running};
use crate::util::Scratch;

/// The info-hash `aa...` (20 bytes of `a`), percent-free.
const HASH: &str = "aaaaaaaaaaaaaaaaaaaa";

/// A tracker on `redis`, with the shared UDP secret and the extra flags.
fn tracker(dir: &Scratch, name: &str, redis: &RedisServer, extra: &[&str]) -> Running {
    let url = redis.url();
    let mut args = vec!["--store", &url, "--udp-secret", "s3cret", "--quiet"];
    args.extend_from_slice(extra);
    start(dir.path(), name, &args)
}

/// The body of `GET target` (raw bytes: compact peers are binary).
fn get(addr: SocketAddr, target: &str) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut reply = Vec::new();
    s.read_to_end(&mut reply).unwrap();
    let at = reply
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP reply");
    reply.split_off(at + 4)
}

/// An announce for [`HASH`] from peer id `bbb...N` on `port`.
fn announce(t: &Running, peer: char, port: u16, left: u64, event: &str) -> Vec<u8> {
    let id: String = std::iter::repeat_n(peer, 20).collect();
    get(
        t.addr,
        &format!(
            "/announce?info_hash={HASH}&peer_id={id}&port={port}&left={left}&compact=1&key=7{event}"
        ),
    )
}

/// The compact form of 127.0.0.1:`port`.
fn compact(port: u16) -> Vec<u8> {
    let mut c = vec![127, 0, 0, 1];
    c.extend_from_slice(&port.to_be_bytes());
    c
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// `complete`/`incomplete`/`downloaded` of [`HASH`] in a scrape.
fn scrape(t: &Running) -> String {
    String::from_utf8_lossy(&get(t.addr, &format!("/scrape?info_hash={HASH}"))).into_owned()
}

fn counts(seeders: u32, completed: u32, leechers: u32) -> String {
    format!("d8:completei{seeders}e10:downloadedi{completed}e10:incompletei{leechers}eeee")
}

fn stats(t: &Running) -> serde_json::Value {
    serde_json::from_slice(&get(t.addr, "/stats.json")).expect("/stats.json is JSON")
}

/// A UDP connect to `to`: the connection id.
fn udp_connect(sock: &UdpSocket, to: SocketAddr) -> u64 {
    let mut req = 0x41727101980u64.to_be_bytes().to_vec();
    req.extend_from_slice(&0u32.to_be_bytes());
    req.extend_from_slice(&9u32.to_be_bytes());
    sock.send_to(&req, to).unwrap();
    let mut buf = [0u8; 64];
    let n = sock.recv(&mut buf).expect("a connect reply");
    assert_eq!((n, &buf[..8]), (16, &[0, 0, 0, 0, 0, 0, 0, 9][..]));
    u64::from_be_bytes(buf[8..16].try_into().unwrap())
}

/// A UDP announce of [`HASH`] to `to` with `conn`: (reply action, the rest of the reply).
fn udp_announce(
    sock: &UdpSocket,
    to: SocketAddr,
    conn: u64,
    peer: u8,
    port: u16,
) -> (u32, Vec<u8>) {
    let mut req = conn.to_be_bytes().to_vec();
    req.extend_from_slice(&1u32.to_be_bytes());
    req.extend_from_slice(&5u32.to_be_bytes());
    req.extend_from_slice(HASH.as_bytes());
    req.extend_from_slice(&[peer; 20]);
    for v in [0u64, 100, 0] {
        req.extend_from_slice(&v.to_be_bytes());
    }
    for v in [2u32, 0, 1, 50] {
        req.extend_from_slice(&v.to_be_bytes());
    }
    req.extend_from_slice(&port.to_be_bytes());
    sock.send_to(&req, to).unwrap();
    let mut buf = [0u8; 1500];
    let n = sock.recv(&mut buf).expect("an announce reply");
    let action = u32::from_be_bytes(buf[..4].try_into().unwrap());
    (action, buf[8..n].to_vec())
}

#[test]
fn trackers_on_one_redis_share_peers_counts_pages_and_udp_connection_ids() {
    let dir = Scratch::new("tracker-redis-share");
    let redis = RedisServer::start(&dir.path().join("redis"));
    let a = tracker(&dir, "a", &redis, &[]);
    let b = tracker(&dir, "b", &redis, &[]);
    assert!(
        a.stderr().contains(&format!("swarms in {}", redis.url())),
        "{}",
        a.stderr()
    );

    let reply = announce(&a, 's', 7001, 0, "&event=started");
    assert!(
        reply.starts_with(b"d8:completei1e10:downloadedi0e10:incompletei0e"),
        "{}",
        reply.escape_ascii()
    );
    // The leecher announces to the other tracker and is given the seed.
    let reply = announce(&b, 'l', 7002, 100, "&event=started");
    assert!(
        reply.starts_with(b"d8:completei1e10:downloadedi0e10:incompletei1e"),
        "{}",
        reply.escape_ascii()
    );
    assert!(contains(&reply, &compact(7001)), "{}", reply.escape_ascii());
    // And the seed, announcing again to the first, is given the leecher.
    let reply = announce(&a, 's', 7001, 0, "");
    assert!(contains(&reply, &compact(7002)), "{}", reply.escape_ascii());
    // The leecher completes through the first tracker: counted once, seen by both.
    announce(&a, 'l', 7002, 0, "&event=completed");
    assert_eq!(scrape(&a), scrape(&b));
    assert!(scrape(&b).ends_with(&counts(2, 1, 0)[..]), "{}", scrape(&b));
    for t in [&a, &b] {
        let s = stats(t);
        assert_eq!(
            (
                s["torrents"].as_u64(),
                s["seeders"].as_u64(),
                s["completed"].as_u64()
            ),
            (Some(1), Some(2), Some(1)),
            "{s}"
        );
        assert_eq!(s["store"]["kind"], "redis", "{s}");
        let metrics = String::from_utf8(get(t.addr, "/metrics")).unwrap();
        assert!(metrics.contains("\ntracker_seeders 2\n"), "{metrics}");
        assert!(
            metrics.contains("tracker_store_up{store=\"redis\"} 1"),
            "{metrics}"
        );
        let index = String::from_utf8(get(t.addr, "/")).unwrap();
        assert!(index.contains(&"61".repeat(20)), "{index}");
    }

    // A UDP connection id from one tracker is accepted by the other (the shared secret), and the
    // UDP announce sees the same swarm.
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let conn = udp_connect(&sock, a.addr);
    let (action, rest) = udp_announce(&sock, b.addr, conn, b'u', 7003);
    assert_eq!(
        action,
        1,
        "an announce reply, not an error: {}",
        rest.escape_ascii()
    );
    // interval, leechers (the UDP peer itself), seeders, then the peers: both seeds.
    assert_eq!(&rest[4..12], &[0, 0, 0, 1, 0, 0, 0, 2]);
    assert!(contains(&rest[12..], &compact(7001)) && contains(&rest[12..], &compact(7002)));
    assert!(scrape(&a).ends_with(&counts(2, 1, 1)[..]), "{}", scrape(&a));

    // A stop through either tracker removes the peer for both.
    announce(&b, 's', 7001, 0, "&event=stopped");
    assert!(scrape(&a).ends_with(&counts(1, 1, 1)[..]), "{}", scrape(&a));
}

#[test]
fn silent_peers_expire_from_the_shared_store() {
    let dir = Scratch::new("tracker-redis-expire");
    let redis = RedisServer::start(&dir.path().join("redis"));
    let a = tracker(&dir, "a", &redis, &["--peer-timeout", "2"]);
    let b = tracker(&dir, "b", &redis, &["--peer-timeout", "2"]);
    announce(&a, 's', 7001, 0, "");
    announce(&a, 'l', 7002, 5, "");
    assert!(scrape(&b).ends_with(&counts(1, 0, 1)[..]), "{}", scrape(&b));
    // Expiry is by score on Redis's clock: within the timeout plus a sweep, both are gone,
    // on both trackers, and the swarm leaves the pages.
    let deadline = Instant::now() + Duration::from_secs(15);
    while !scrape(&b).ends_with(&counts(0, 0, 0)[..]) {
        assert!(
            Instant::now() < deadline,
            "peers did not expire: {}",
            scrape(&b)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(scrape(&a).ends_with(&counts(0, 0, 0)[..]), "{}", scrape(&a));
    while stats(&a)["torrents"] != 0 {
        assert!(
            Instant::now() < deadline,
            "the swarm stayed listed: {}",
            stats(&a)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_tracker_killed_with_sigkill_loses_nothing() {
    let dir = Scratch::new("tracker-redis-sigkill");
    let redis = RedisServer::start(&dir.path().join("redis"));
    let mut a = tracker(&dir, "a", &redis, &[]);
    let b = tracker(&dir, "b", &redis, &[]);
    announce(&a, 's', 7001, 0, "");
    announce(&a, 'l', 7002, 5, "&event=completed");
    let pid = a.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-KILL", &pid])
        .status()
        .unwrap()
        .success());
    let _ = a.child.wait();
    let reply = announce(&b, 'n', 7003, 5, "&event=started");
    assert!(
        contains(&reply, &compact(7001)) && contains(&reply, &compact(7002)),
        "{}",
        reply.escape_ascii()
    );
    assert!(scrape(&b).ends_with(&counts(1, 1, 2)[..]), "{}", scrape(&b));
}

#[test]
fn both_trackers_recover_when_redis_stops_and_comes_back_with_its_aof() {
    let dir = Scratch::new("tracker-redis-restart");
    let mut redis = RedisServer::start(&dir.path().join("redis"));
    let a = tracker(&dir, "a", &redis, &["--store-timeout", "1s"]);
    let b = tracker(&dir, "b", &redis, &["--store-timeout", "1s"]);
    announce(&a, 's', 7001, 0, "");
    announce(&b, 'l', 7002, 5, "");

    redis.stop();
    for t in [&a, &b] {
        let started = Instant::now();
        let reply = announce(t, 'x', 7009, 5, "");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "took {:?}",
            started.elapsed()
        );
        let text = String::from_utf8_lossy(&reply).into_owned();
        assert!(
            text.starts_with("d14:failure reason") && text.contains("swarm store"),
            "{text}"
        );
        let metrics = String::from_utf8(get(t.addr, "/metrics")).unwrap();
        assert!(
            metrics.contains("tracker_store_up{store=\"redis\"} 0"),
            "{metrics}"
        );
        let errors: u64 = metrics
            .lines()
            .find_map(|l| l.strip_prefix("tracker_store_errors_total "))
            .and_then(|n| n.parse().ok())
            .expect("tracker_store_errors_total");
        assert!(errors >= 1, "{metrics}");
    }
    // The trackers are still up (no panic) and report the outage.
    assert!(
        a.stderr().contains("swarm store unavailable"),
        "{}",
        a.stderr()
    );

    redis.restart();
    // Without restarting the trackers: the swarm is back from the AOF, on both.
    let reply = announce(&a, 'n', 7003, 5, "");
    assert!(
        contains(&reply, &compact(7001)) && contains(&reply, &compact(7002)),
        "{}",
        reply.escape_ascii()
    );
    let reply = announce(&b, 'm', 7004, 5, "");
    assert!(contains(&reply, &compact(7003)), "{}", reply.escape_ascii());
    assert_eq!(scrape(&a), scrape(&b));
    assert!(scrape(&b).ends_with(&counts(1, 0, 3)[..]), "{}", scrape(&b));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !a.stderr().contains("the swarm store answers again") {
        assert!(Instant::now() < deadline, "{}", a.stderr());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_redis_store_refuses_a_dfile_and_bad_urls_are_named() {
    let out = crate::util::bt(
        &[
            "tracker",
            "--port",
            "0",
            "--store",
            "redis://127.0.0.1:1/0",
            "--dfile",
            "x",
        ],
        b"",
    );
    assert!(!out.status.success());
    let err = crate::util::stderr(&out);
    assert!(
        err.contains("--dfile cannot be used with --store redis://127.0.0.1:1/0"),
        "{err}"
    );
    assert!(err.contains("RDB or AOF"), "{err}");
    let out = crate::util::bt(&["tracker", "--port", "0", "--store", "mysql://x"], b"");
    assert!(!out.status.success());
    let err = crate::util::stderr(&out);
    assert!(
        err.contains("--store: bad store URL `mysql://x`: expected redis://HOST:PORT/DB"),
        "{err}"
    );
}

/// The compact peers of an announce reply.
fn peers_of(reply: &[u8]) -> Vec<u8> {
    let value = torrentkit_bencode::decode(reply).expect("a bencoded announce reply");
    value
        .as_dict()
        .and_then(|d| d.get(&b"peers"[..]))
        .and_then(torrentkit_bencode::Value::as_bytes)
        .unwrap_or_else(|| panic!("no compact peers in {}", String::from_utf8_lossy(reply)))
        .to_vec()
}

#[test]
fn draws_give_numwant_others_never_the_requester_and_counts_follow_each_event() {
    let dir = Scratch::new("tracker-redis-draws");
    let redis = RedisServer::start(&dir.path().join("redis"));
    let a = tracker(&dir, "a", &redis, &[]);
    let b = tracker(&dir, "b", &redis, &[]);
    for (i, peer) in ['1', '2', '3', '4', '5', '6'].into_iter().enumerate() {
        announce(&a, peer, 7101 + i as u16, 5, "&event=started");
    }
    let id: String = std::iter::repeat_n('1', 20).collect();
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..40 {
        let reply = get(
            b.addr,
            &format!(
                "/announce?info_hash={HASH}&peer_id={id}&port=7101&left=5&compact=1&key=7&numwant=2"
            ),
        );
        let peers = peers_of(&reply);
        assert_eq!(peers.len(), 12, "two peers wanted, five others there");
        for p in peers.chunks(6) {
            assert_ne!(p, &compact(7101)[..], "the requester was given itself");
            seen.insert(p.to_vec());
        }
    }
    // Each other peer is in a draw with chance 2/5: 40 draws miss one with chance 0.6^40.
    assert_eq!(
        seen.len(),
        5,
        "draws covered {} of the 5 others",
        seen.len()
    );
    // numwant above the swarm: every other peer, once.
    let all = peers_of(&announce(&b, '1', 7101, 5, ""));
    assert_eq!(all.len(), 5 * 6);
    assert!(!contains(&all, &compact(7101)));
    // A leecher completing moves to the seeders; a stop removes it; counts stay exact.
    announce(&b, '1', 7101, 0, "&event=completed");
    assert!(scrape(&a).ends_with(&counts(1, 1, 5)[..]), "{}", scrape(&a));
    announce(&a, '1', 7101, 0, "");
    assert!(scrape(&b).ends_with(&counts(1, 1, 5)[..]), "{}", scrape(&b));
    announce(&a, '1', 7101, 0, "&event=stopped");
    assert!(scrape(&b).ends_with(&counts(0, 1, 5)[..]), "{}", scrape(&b));
}
