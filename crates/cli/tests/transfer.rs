//! `bt seed`, `bt download` and `bt swarm` end to end on loopback: byte-exact copies, a
//! SIGKILLed download that resumes without fetching a verified piece again, a hostile torrent
//! that never writes outside the download directory, and a whole swarm in one process.

use std::path::{Path, PathBuf};

use torrentkit_metainfo::{Torrent, TorrentBuilder};

use crate::util::{Running as Bt, Scratch};

/// Pseudo-random bytes (xorshift), so the data has no repeating pieces.
fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A torrent without trackers for `path`, written beside it as `name`.
fn make_torrent(path: &Path, piece_length: u64, out: &Path) -> Torrent {
    let torrent = TorrentBuilder::new(path)
        .piece_length(piece_length)
        .build()
        .unwrap();
    std::fs::write(out, torrent.to_bytes()).unwrap();
    torrent
}

fn json(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("bad --json output {stdout:?}: {e}"))
}

const NET: [&str; 4] = ["--port", "0", "--bind", "127.0.0.1"];

fn seed(torrent: &Path, data: &Path) -> Bt {
    let mut args = vec!["seed", torrent.to_str().unwrap(), data.to_str().unwrap()];
    args.extend(NET);
    args.extend(["--json"]);
    Bt::spawn(&args)
}

fn download(torrent: &Path, out: &Path, port: u16, extra: &[&str]) -> Bt {
    let peer = format!("127.0.0.1:{port}");
    let mut args = vec![
        "download",
        torrent.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
        "--peer",
        &peer,
        "--seed-time",
        "0",
        "--json",
    ];
    args.extend(NET);
    args.extend(extra);
    Bt::spawn(&args)
}

#[test]
fn seed_to_download_copies_the_file_and_sigterm_stops_the_seed_cleanly() {
    let dir = Scratch::new("transfer-basic");
    let original = data(3 * 1024 * 1024 + 12_345, 1);
    let src = dir.write("movie.bin", &original);
    let t = dir.path().join("movie.torrent");
    make_torrent(&src, 64 * 1024, &t);

    let mut seeder = seed(&t, &src);
    let port = seeder.port();
    let out = dir.path().join("out");
    let (status, stdout, stderr) = download(&t, &out, port, &[]).finish(120);
    assert!(status.success(), "download failed:\n{stderr}");
    assert_eq!(std::fs::read(out.join("movie.bin")).unwrap(), original);
    let summary = json(&stdout);
    assert_eq!(summary["complete"], true, "{stdout}");
    assert_eq!(summary["start"], "fresh");
    assert_eq!(summary["pieces_fetched"], summary["pieces"]);
    assert!(stderr.contains("complete"), "{stderr}");
    // The resume file sits beside the data, inside the output directory.
    assert!(out.join(".movie.bin.bt-resume").is_file());

    // SIGTERM: the seed announces stopped, saves its resume file and exits 0.
    seeder.signal("TERM");
    let (status, stdout, stderr) = seeder.finish(30);
    assert!(status.success(), "seed exit {status:?}:\n{stderr}");
    let summary = json(&stdout);
    assert_eq!(summary["ended"], "signal");
    assert_eq!(summary["start"], "rechecked");
    assert!(summary["uploaded"].as_u64().unwrap() >= original.len() as u64);
}

/// The number of verified pieces in a status line `... N/M pieces ...`.
fn pieces_in(line: &str) -> Option<(u32, u32)> {
    let (before, _) = line.split_once(" pieces")?;
    let (n, m) = before.rsplit(' ').next()?.split_once('/')?;
    Some((n.parse().ok()?, m.parse().ok()?))
}

#[test]
fn a_sigkilled_download_resumes_without_fetching_a_verified_piece_again() {
    let dir = Scratch::new("transfer-resume");
    let original = data(8 * 1024 * 1024, 2);
    let src = dir.write("big.bin", &original);
    let t = dir.path().join("big.torrent");
    make_torrent(&src, 64 * 1024, &t);
    let mut seeder = seed(&t, &src);
    let port = seeder.port();
    let out = dir.path().join("out");

    // Slowly, so that we catch it half way; SIGKILL gives it no chance to save anything.
    let mut first = download(
        &t,
        &out,
        port,
        &[
            "--max-download-rate",
            "2M",
            "--status-interval",
            "0.1",
            "--resume-interval",
            "0.2",
        ],
    );
    let verified = first.wait_for(120, |l| pieces_in(l).filter(|(n, m)| *n * 2 >= *m));
    assert!(
        out.join(".big.bin.bt-resume").is_file(),
        "no resume file saved on the way"
    );
    first.kill();
    assert!(
        verified.0 < verified.1,
        "finished before the kill: {verified:?}"
    );

    let (status, stdout, stderr) = download(&t, &out, port, &[]).finish(120);
    assert!(status.success(), "second run failed:\n{stderr}");
    let summary = json(&stdout);
    assert_eq!(summary["complete"], true);
    // Data was (almost surely) written after the last resume save, so the files no longer
    // match it and were hashed again; either way every piece the killed run had reported
    // verified was kept, and none that the resume file listed was fetched again.
    assert!(
        summary["start"] == "rechecked" || summary["start"] == "resumed",
        "{stdout}"
    );
    assert!(
        summary["resume_file_pieces"].as_u64().unwrap() > 0,
        "{stdout}"
    );
    assert!(
        summary["pieces_at_start"].as_u64().unwrap() >= u64::from(verified.0),
        "{stdout} after {verified:?}"
    );
    assert_eq!(summary["redownloaded_pieces"], 0, "{stdout}");
    assert_eq!(
        summary["pieces_fetched"].as_u64().unwrap() + summary["pieces_at_start"].as_u64().unwrap(),
        128
    );
    assert_eq!(std::fs::read(out.join("big.bin")).unwrap(), original);

    // A clean finish leaves a resume file that is trusted as is: nothing to fetch or hash.
    let (status, stdout, stderr) = download(&t, &out, port, &[]).finish(60);
    assert!(status.success(), "third run failed:\n{stderr}");
    let summary = json(&stdout);
    assert_eq!(summary["start"], "resumed", "{stdout}");
    assert_eq!(summary["pieces_at_start"], 128);
    assert_eq!(summary["pieces_fetched"], 0);
    drop(seeder);
}

/// Every file under `root`, relative, sorted (symlinks listed, not followed).
fn tree(root: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let path = e.path();
            let rel = path.strip_prefix(root).unwrap().display().to_string();
            if e.file_type().unwrap().is_dir() {
                walk(root, &path, out);
            } else {
                out.push(rel);
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

#[test]
fn a_hostile_torrent_never_writes_outside_the_download_directory() {
    let dir = Scratch::new("transfer-hostile");
    // Build a real torrent, then turn its paths hostile byte for byte (the piece hashes do not
    // cover paths): `zz/zz/evil1` becomes `../../evil1`, `_abs/evil2` becomes `/abs/evil2`.
    let src = dir.path().join("src/hostile");
    for (p, seed) in [("zz/zz/evil1", 3), ("_abs/evil2", 4), ("sub/f", 5)] {
        let path = src.join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, data(40_000, seed)).unwrap();
    }
    let built = TorrentBuilder::new(&src)
        .piece_length(16 * 1024)
        .build()
        .unwrap();
    let bytes = built.to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    assert_eq!(text.matches("2:zz").count(), 2);
    let mut evil = bytes.clone();
    for (from, to) in [(&b"2:zz"[..], &b"2:.."[..]), (b"4:_abs", b"4:/abs")] {
        let mut i = 0;
        while let Some(at) = evil[i..].windows(from.len()).position(|w| w == from) {
            evil[i + at..i + at + from.len()].copy_from_slice(to);
            i += at + from.len();
        }
    }
    let t = dir.write("hostile.torrent", &evil);
    let parsed = Torrent::from_bytes(&evil).unwrap();
    assert_eq!(parsed.info_hash().0.len(), 20);

    // The seed holds the data where the sanitised paths put it.
    let seed_root = dir.path().join("seed");
    for (file, orig) in parsed.info().files().iter().zip(built.info().files()) {
        let mut to = seed_root.clone();
        to.extend(&file.path);
        let mut from = dir.path().join("src");
        from.extend(&orig.path);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&from, &to).unwrap();
    }
    let mut seeder = seed(&t, &seed_root.join("hostile"));
    let port = seeder.port();

    // 1. A symlinked parent directory inside the download directory points outside it.
    let out = dir.path().join("out");
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(out.join("hostile")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, out.join("hostile/sub")).unwrap();
    let (status, _, stderr) = download(&t, &out, port, &[]).finish(120);
    assert!(
        !status.success(),
        "a write through the symlink succeeded:\n{stderr}"
    );
    assert!(stderr.contains("symlink"), "{stderr}");
    assert!(tree(&outside).is_empty(), "{:?}", tree(&outside));

    // 2. The torrent's top directory itself is a symlink pointing outside.
    let out3 = dir.path().join("out3");
    let outside3 = dir.path().join("outside3");
    std::fs::create_dir_all(&out3).unwrap();
    std::fs::create_dir_all(&outside3).unwrap();
    std::os::unix::fs::symlink(&outside3, out3.join("hostile")).unwrap();
    let (status, _, stderr) = download(&t, &out3, port, &[]).finish(120);
    assert!(
        !status.success(),
        "a write through the symlink succeeded:\n{stderr}"
    );
    assert!(stderr.contains("symlink"), "{stderr}");
    assert!(tree(&outside3).is_empty(), "{:?}", tree(&outside3));

    // 3. Without the symlink everything lands inside, at the sanitised paths.
    let out2 = dir.path().join("out2");
    let (status, _, stderr) = download(&t, &out2, port, &[]).finish(120);
    assert!(status.success(), "{stderr}");
    assert_eq!(
        tree(&out2),
        [
            ".hostile.bt-resume",
            "hostile/abs/evil2",
            "hostile/evil1",
            "hostile/sub/f"
        ]
    );
    // Nothing appeared anywhere else in the scratch directory, nor at the absolute path.
    let all: Vec<String> = tree(dir.path())
        .into_iter()
        .filter(|p| !p.starts_with("src/") && !p.starts_with("seed/"))
        .collect();
    for p in &all {
        assert!(
            p.starts_with("out/")
                || p.starts_with("out2/")
                || p.starts_with("out3/")
                || p == "hostile.torrent",
            "unexpected file {p}"
        );
    }
    assert!(!Path::new("/abs/evil2").exists());
    assert!(!dir.path().join("evil1").exists());
    drop(seeder);
}

#[test]
fn bt_swarm_completes_and_cleans_up() {
    let dir = Scratch::new("transfer-swarm");
    let tmp: PathBuf = dir.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let bt = Bt::spawn_env(
        &[
            "swarm",
            "--peers",
            "3",
            "--size",
            "4MiB",
            // Unlimited, the seed can serve all three copies before the downloaders trade (it
            // did, once, in 0.1 s); at 8 MiB/s that would take 1.5 s.
            "--seed-rate",
            "8M",
            "--json",
            "--timeout",
            "120",
        ],
        &[("TMPDIR", &tmp)],
    );
    let (status, stdout, stderr) = bt.finish(180);
    assert!(status.success(), "{stderr}");
    let report = json(&stdout);
    assert_eq!(report["peers"], 3);
    assert_eq!(report["size"], 4 << 20);
    let delivered = report["delivered"].as_u64().unwrap();
    assert_eq!(delivered, 3 * (4 << 20), "{stdout}");
    assert!(
        report["received"].as_u64().unwrap() >= delivered,
        "{stdout}"
    );
    // The point of BitTorrent: the seed did not have to upload every copy itself.
    let seed_up = report["seed_uploaded"].as_u64().unwrap();
    assert!(seed_up >= 4 << 20, "{stdout}");
    assert!(seed_up < delivered, "{stdout}");
    assert!(report["peers_uploaded"].as_u64().unwrap() > 0, "{stdout}");
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().collect();
    assert!(left.is_empty(), "temp files left behind: {left:?}");
}

/// Serves `body` to every HTTP request on a loopback port, from a thread; returns the port.
fn serve_http(body: Vec<u8>) -> u16 {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { return };
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match std::io::Read::read(&mut s, &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let found = request.starts_with(b"GET /x.torrent ");
            let head = if found {
                format!("HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n", body.len())
            } else {
                "HTTP/1.0 404 Not Found\r\n\r\n".to_owned()
            };
            let _ = s.write_all(head.as_bytes());
            if found {
                let _ = s.write_all(&body);
            }
        }
    });
    port
}

#[test]
fn download_from_an_http_url_saves_as_the_given_path() {
    let dir = Scratch::new("transfer-http");
    let original = data(1024 * 1024 + 77, 9);
    let src = dir.write("song.flac", &original);
    let t = dir.path().join("song.torrent");
    make_torrent(&src, 32 * 1024, &t);
    let http = serve_http(std::fs::read(&t).unwrap());
    let mut seeder = seed(&t, &src);
    let port = seeder.port();

    let url = format!("http://127.0.0.1:{http}/x.torrent");
    let save_as = dir.path().join("renamed/copy.flac");
    let peer = format!("127.0.0.1:{port}");
    let mut args = vec!["download", &url, "--save-as", save_as.to_str().unwrap()];
    args.extend(["--peer", &peer, "--seed-time", "0", "--json"]);
    args.extend(NET);
    let (status, stdout, stderr) = Bt::spawn(&args).finish(120);
    assert!(status.success(), "{stderr}");
    assert_eq!(std::fs::read(&save_as).unwrap(), original);
    assert_eq!(json(&stdout)["name"], "copy.flac");

    // A missing torrent, and https:// to a server that does not speak TLS, give clear errors
    // naming the URL and exit status 1.
    let missing = format!("http://127.0.0.1:{http}/nope.torrent");
    let (status, _, stderr) = Bt::spawn(&["download", &missing]).finish(60);
    assert_eq!(status.code(), Some(1));
    assert!(stderr.contains("404 Not Found"), "{stderr}");
    let not_tls = format!("https://127.0.0.1:{http}/x.torrent");
    let (status, _, stderr) = Bt::spawn(&["download", &not_tls]).finish(60);
    assert_eq!(status.code(), Some(1));
    assert!(stderr.contains(&not_tls), "{stderr}");
    drop(seeder);
}

#[test]
fn ctrl_c_saves_a_resume_file_that_the_next_run_trusts() {
    let dir = Scratch::new("transfer-sigint");
    let original = data(6 * 1024 * 1024, 10);
    let src = dir.write("iso.bin", &original);
    let t = dir.path().join("iso.torrent");
    make_torrent(&src, 64 * 1024, &t);
    let mut seeder = seed(&t, &src);
    let port = seeder.port();
    let out = dir.path().join("out");

    let mut first = download(
        &t,
        &out,
        port,
        &["--max-download-rate", "2M", "--status-interval", "0.1"],
    );
    first.wait_for(120, |l| pieces_in(l).filter(|(n, m)| *n * 3 >= *m));
    first.signal("INT");
    let (status, stdout, stderr) = first.finish(60);
    assert!(status.success(), "Ctrl-C must exit 0:\n{stderr}");
    let stopped = json(&stdout);
    assert_eq!(stopped["ended"], "signal");
    assert_eq!(stopped["complete"], false, "{stdout}");
    let had = stopped["have"].as_u64().unwrap();
    assert!(had > 0);

    let (status, stdout, stderr) = download(&t, &out, port, &[]).finish(120);
    assert!(status.success(), "{stderr}");
    let summary = json(&stdout);
    assert_eq!(summary["start"], "resumed", "{stdout}");
    assert_eq!(summary["pieces_at_start"], had);
    assert_eq!(summary["redownloaded_pieces"], 0);
    assert_eq!(summary["complete"], true);
    assert_eq!(std::fs::read(out.join("iso.bin")).unwrap(), original);
    drop(seeder);
}

/// `bt download --transport utp` from `bt seed --transport utp`: every byte over uTP (MSE
/// settled over it too, as `--encryption prefer` dials), and the peer list says so.
#[test]
fn a_download_over_utp_only_completes_identical_and_lists_the_peer_as_utp() {
    let dir = Scratch::new("transfer-utp");
    let original = data(5 * 1024 * 1024 + 777, 7);
    let src = dir.write("clip.bin", &original);
    let t = dir.path().join("clip.torrent");
    make_torrent(&src, 256 * 1024, &t);

    let mut args = vec!["seed", t.to_str().unwrap(), src.to_str().unwrap()];
    args.extend(NET);
    args.extend(["--json", "--no-dht", "--transport", "utp"]);
    let mut seeder = Bt::spawn(&args);
    let port = seeder.port();
    let out = dir.path().join("out");
    let extra = ["--no-dht", "--transport", "utp"];
    let (status, stdout, stderr) = download(&t, &out, port, &extra).finish(120);
    assert!(status.success(), "download failed:\n{stderr}");
    assert_eq!(std::fs::read(out.join("clip.bin")).unwrap(), original);
    assert!(stderr.contains("uTP on UDP 127.0.0.1:"), "{stderr}");
    let summary = json(&stdout);
    assert_eq!(summary["complete"], true, "{stdout}");
    let peers = summary["peers"].as_array().unwrap();
    assert!(!peers.is_empty(), "{stdout}");
    for p in peers {
        assert_eq!(p["transport"], "utp", "{stdout}");
        assert_eq!(p["encrypted"], true, "MSE runs over uTP: {stdout}");
    }

    seeder.signal("TERM");
    let (status, stdout, stderr) = seeder.finish(30);
    assert!(status.success(), "seed exit {status:?}:\n{stderr}");
    let summary = json(&stdout);
    assert!(summary["uploaded"].as_u64().unwrap() >= original.len() as u64);
    let peers = summary["peers"].as_array().unwrap();
    assert!(peers.iter().all(|p| p["transport"] == "utp"), "{stdout}");
}

/// The default `--transport both` dials uTP first; a seed with `--transport tcp` binds no uTP
/// socket, so the download falls back to TCP within a few seconds and completes.
#[test]
fn both_falls_back_to_tcp_when_the_peer_has_no_utp() {
    let dir = Scratch::new("transfer-fallback");
    let original = data(1024 * 1024 + 3, 9);
    let src = dir.write("doc.bin", &original);
    let t = dir.path().join("doc.torrent");
    make_torrent(&src, 64 * 1024, &t);

    let mut args = vec!["seed", t.to_str().unwrap(), src.to_str().unwrap()];
    args.extend(NET);
    args.extend(["--no-dht", "--transport", "tcp"]);
    let mut seeder = Bt::spawn(&args);
    let port = seeder.port();
    let out = dir.path().join("out");
    let started = std::time::Instant::now();
    let (status, stdout, stderr) = download(&t, &out, port, &["--no-dht"]).finish(120);
    assert!(status.success(), "download failed:\n{stderr}");
    assert_eq!(std::fs::read(out.join("doc.bin")).unwrap(), original);
    let summary = json(&stdout);
    let peers = summary["peers"].as_array().unwrap();
    assert!(!peers.is_empty(), "{stdout}");
    assert!(peers.iter().all(|p| p["transport"] == "tcp"), "{stdout}");
    assert!(started.elapsed().as_secs() < 60, "{stderr}");
    seeder.kill();
}
