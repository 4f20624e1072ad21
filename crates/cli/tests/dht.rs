//! The DHT through `bt`: `bt dht`, `bt seed` announcing, `bt dht get-peers` and its saved table,
//! all on 127.0.0.1 with port 0.

use std::path::Path;

use crate::util::{bt, stderr, Lines, Running, Scratch};

/// `bt dht` on a free loopback port; returns it and its UDP port.
fn node(scratch: &Scratch) -> (Running, u16) {
    let state = scratch.path().join("node-state");
    let mut node = Running::spawn_in(
        &[
            "dht",
            "--port",
            "0",
            "--bind",
            "127.0.0.1",
            "--no-state",
            "--json",
            "--stats-interval",
            "0.1",
        ],
        None,
        &[("XDG_STATE_HOME", &state)],
        Lines::Both,
    );
    let port = node.wait_for(30, |l| {
        l.split_once("on UDP 127.0.0.1:")
            .and_then(|(_, p)| p.trim().parse::<u16>().ok())
    });
    (node, port)
}

/// A 100,000-byte file and a torrent of it in `scratch`: (data, torrent) paths as text.
fn made(scratch: &Scratch, byte: u8) -> (String, String) {
    let data = scratch.write("data.bin", &vec![byte; 100_000]);
    let torrent = scratch.path().join("data.torrent");
    let (d, t) = (
        data.to_str().unwrap().to_owned(),
        torrent.to_str().unwrap().to_owned(),
    );
    let out = bt(&["make", &d, "-o", &t, "--no-date"], b"");
    assert!(out.status.success(), "{}", stderr(&out));
    (d, t)
}

/// `bt seed` of `made`'s torrent on a free port with `bootstrap`; returns it and its port.
fn seed(scratch: &Scratch, (data, torrent): &(String, String), bootstrap: &str) -> (Running, u16) {
    let state = scratch.path().join("seed-state");
    let mut seed = Running::spawn_env(
        &[
            "seed",
            torrent,
            data,
            "--port",
            "0",
            "--bind",
            "127.0.0.1",
            "--dht-bootstrap",
            bootstrap,
        ],
        &[("XDG_STATE_HOME", &state)],
    );
    let port = seed.port();
    (seed, port)
}

fn get_peers(hash: &str, bootstrap: &str, state: &Path) -> (bool, String, String) {
    let run = Running::spawn_in(
        &[
            "dht",
            "get-peers",
            hash,
            "--port",
            "0",
            "--bind",
            "127.0.0.1",
            "--dht-bootstrap",
            bootstrap,
            "--timeout",
            "20",
        ],
        None,
        &[("XDG_STATE_HOME", state)],
        Lines::Stderr,
    );
    let (status, out, err) = run.finish(30);
    (status.success(), out, err)
}

/// Restart: `bt dht get-peers` saves its routing table; run again with only an unreachable
/// bootstrap router, it finds the peers from the saved table alone.
#[test]
fn get_peers_finds_a_dht_seed_and_again_from_the_saved_table_without_bootstrap() {
    let scratch = Scratch::new("dht-restart");
    let files = made(&scratch, 7);
    let t = files.1.as_str();
    let (mut node, port) = node(&scratch);
    let bootstrap = format!("127.0.0.1:{port}");
    let (_seed, seed_port) = seed(&scratch, &files, &bootstrap);
    // The node stored the seed's announce.
    node.wait_for(30, |l| l.contains("\"stored_peers\":1").then_some(()));

    let magnet = bt(&["magnet", t], b"");
    let link = String::from_utf8_lossy(&magnet.stdout).into_owned();
    let hash = link
        .split("btih:")
        .nth(1)
        .and_then(|r| r.get(..40))
        .expect("the magnet link names the info-hash")
        .to_owned();
    let state = scratch.path().join("state");
    let want = format!("127.0.0.1:{seed_port}");
    let (ok, out, err) = get_peers(&hash, &bootstrap, &state);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), want, "{err}");
    assert!(
        state.join("torrentkit/dht-node.dat").is_file(),
        "the table was saved"
    );

    // Port 1 answers nothing: only the saved table can lead to the node.
    let (ok, out, err) = get_peers(&hash, "127.0.0.1:1", &state);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), want, "{err}");
}

/// `bt launch-many` runs one DHT node for its torrents: a public torrent of its directory is
/// announced there, and `bt dht get-peers` finds launch-many's port.
#[test]
fn launch_many_announces_its_public_torrents_in_the_dht() {
    let scratch = Scratch::new("dht-launch-many");
    let dir = scratch.path().join("torrents");
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.join("data.bin");
    std::fs::write(&data, vec![3u8; 100_000]).unwrap();
    let torrent = dir.join("data.torrent");
    let out = bt(
        &[
            "make",
            data.to_str().unwrap(),
            "-o",
            torrent.to_str().unwrap(),
            "--no-date",
        ],
        b"",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let (mut node, port) = node(&scratch);
    let bootstrap = format!("127.0.0.1:{port}");
    let state = scratch.path().join("many-state");
    let mut many = Running::spawn_env(
        &[
            "launch-many",
            dir.to_str().unwrap(),
            "--port",
            "0",
            "--bind",
            "127.0.0.1",
            "--dht-bootstrap",
            &bootstrap,
        ],
        &[("XDG_STATE_HOME", &state)],
    );
    // "listening for peers on 127.0.0.1:PORT; watching DIR"
    let many_port: u16 = many.wait_for(60, |l| {
        l.split_once("listening for peers on 127.0.0.1:")
            .and_then(|(_, rest)| rest.split(';').next()?.parse().ok())
    });
    node.wait_for(30, |l| l.contains("\"stored_peers\":1").then_some(()));

    let magnet = bt(&["magnet", torrent.to_str().unwrap()], b"");
    let link = String::from_utf8_lossy(&magnet.stdout).into_owned();
    let hash = link
        .split("btih:")
        .nth(1)
        .and_then(|r| r.get(..40))
        .expect("the magnet link names the info-hash")
        .to_owned();
    let (ok, out, err) = get_peers(&hash, &bootstrap, &scratch.path().join("get-state"));
    assert!(ok, "{err}");
    assert_eq!(out.trim(), format!("127.0.0.1:{many_port}"), "{err}");
}

/// `bt args` fails, saying `needle`.
fn refused(args: &[&str], needle: &str) {
    let out = bt(args, b"");
    assert!(!out.status.success(), "{args:?} succeeded");
    assert!(stderr(&out).contains(needle), "{}", stderr(&out));
}

#[test]
fn bad_info_hashes_and_dht_nodes_are_refused_clearly() {
    refused(
        &["dht", "get-peers", "xyz", "--port", "0", "--no-state"],
        "xyz: not an info-hash",
    );
    let scratch = Scratch::new("dht-make");
    let data = scratch.write("d.bin", b"hello");
    let d = data.to_str().unwrap();
    refused(
        &["make", d, "--dht-node", "nohost"],
        "nohost: not HOST:PORT",
    );
    refused(
        &["make", d, "--dht-node", "h:0"],
        "h:0: the port must be 1..65535",
    );
    let out = bt(
        &[
            "make",
            data.to_str().unwrap(),
            "--dht-node",
            "127.0.0.1:6881",
            "--no-date",
        ],
        b"",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let show = bt(
        &[
            "decode",
            scratch.path().join("d.bin.torrent").to_str().unwrap(),
        ],
        b"",
    );
    assert!(
        String::from_utf8_lossy(&show.stdout).contains("6881"),
        "the nodes key is written: {}",
        String::from_utf8_lossy(&show.stdout)
    );
}

/// BEP 5 `port`: a downloader given the seed with `--peer` (and no reachable bootstrap) learns
/// the seed's DHT node from its `port` message; the node is in the table it saves on exit.
#[test]
fn the_port_message_puts_the_peers_dht_node_in_the_table() {
    let scratch = Scratch::new("dht-port");
    let files = made(&scratch, 9);
    let t = files.1.as_str();
    let (_seed, seed_port) = seed(&scratch, &files, "127.0.0.1:1");
    let state = scratch.path().join("state");
    let peer = format!("127.0.0.1:{seed_port}");
    let out_dir = scratch.path().join("out");
    let dl = Running::spawn_env(
        &[
            "download",
            t,
            "--output",
            out_dir.to_str().unwrap(),
            "--port",
            "0",
            "--bind",
            "127.0.0.1",
            "--peer",
            &peer,
            "--dht-bootstrap",
            "127.0.0.1:1",
            "--seed-time",
            "1",
        ],
        &[("XDG_STATE_HOME", &state)],
    );
    let (status, _, err) = dl.finish(60);
    assert!(status.success(), "{err}");
    let saved = std::fs::read(state.join("torrentkit/dht.dat")).expect("the table was saved");
    // A compact node: 20-byte id, then 127.0.0.1 and the seed's port (its DHT shares it).
    let mut addr = vec![127, 0, 0, 1];
    addr.extend_from_slice(&seed_port.to_be_bytes());
    assert!(
        saved.windows(6).any(|w| w == addr.as_slice()),
        "the seed's DHT node is in the saved table: {saved:?}\n{err}"
    );
}

/// A trackerless torrent's `nodes` (written by `bt make --dht-node`) are the seed's way into
/// the DHT: with only an unreachable bootstrap router, it still announces to that node.
#[test]
fn a_torrents_nodes_key_leads_into_the_dht() {
    let scratch = Scratch::new("dht-nodes-key");
    let (mut node, port) = node(&scratch);
    let data = scratch.write("data.bin", &vec![5u8; 50_000]);
    let torrent = scratch.path().join("data.torrent");
    let (d, t) = (data.to_str().unwrap(), torrent.to_str().unwrap());
    let contact = format!("127.0.0.1:{port}");
    let out = bt(
        &["make", d, "-o", t, "--no-date", "--dht-node", &contact],
        b"",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let (_seed, _) = seed(&scratch, &(d.to_owned(), t.to_owned()), "127.0.0.1:1");
    node.wait_for(30, |l| l.contains("\"stored_peers\":1").then_some(()));
}

/// `bt launch-many` pings the `nodes` of each torrent it picks up, as `bt seed` does: with only
/// an unreachable bootstrap router, its DHT node still reaches the torrent's node and announces
/// the torrent there.
#[test]
fn launch_many_follows_a_torrents_nodes_key_into_the_dht() {
    let scratch = Scratch::new("dht-launch-many-nodes");
    let (mut node, port) = node(&scratch);
    let dir = scratch.path().join("torrents");
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.join("data.bin");
    std::fs::write(&data, vec![9u8; 50_000]).unwrap();
    let torrent = dir.join("data.torrent");
    let contact = format!("127.0.0.1:{port}");
    let out = bt(
        &[
            "make",
            data.to_str().unwrap(),
            "-o",
            torrent.to_str().unwrap(),
            "--no-date",
            "--dht-node",
            &contact,
        ],
        b"",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let state = scratch.path().join("many-state");
    let _many = Running::spawn_env(
        &[
            "launch-many",
            dir.to_str().unwrap(),
            "--port",
            "0",
            "--bind",
            "127.0.0.1",
            "--dht-bootstrap",
            "127.0.0.1:1",
        ],
        &[("XDG_STATE_HOME", &state)],
    );
    node.wait_for(30, |l| l.contains("\"stored_peers\":1").then_some(()));
}
