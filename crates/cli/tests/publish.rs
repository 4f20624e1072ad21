//! `bt publish`, `bt open` and `bt install-handler` end to end: publish to a `bt tracker` on
//! loopback, download the hosted .torrent from another directory, and register the handler in a
//! temporary home checked with `xdg-mime query default`.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::util::{bt_command, Lines, Running, Scratch};

fn data(len: usize) -> Vec<u8> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Polls until `path` holds `want` (the download's last writes may still be landing).
fn wait_for_file(path: &Path, want: &[u8]) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::fs::read(path).ok().as_deref() != Some(want) {
        assert!(
            Instant::now() < deadline,
            "{} never matched the published data",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

const NET: [&str; 4] = ["--port", "0", "--bind", "127.0.0.1"];

#[test]
fn published_torrent_downloads_from_its_tracker_url_with_bt_download_and_bt_open() {
    let dir = Scratch::new("publish");
    let (src, dl, home) = (
        dir.path().join("src"),
        dir.path().join("dl"),
        dir.path().join("home"),
    );
    for d in [&src, &dl, &home.join("Downloads")] {
        std::fs::create_dir_all(d).unwrap();
    }
    let bytes = data(1_500_000);
    std::fs::write(src.join("movie.bin"), &bytes).unwrap();

    let mut tracker = Running::spawn_in(
        &[
            "tracker",
            "--bind",
            "127.0.0.1",
            "--port",
            "0",
            "--no-udp",
            "--publish-token",
            "s3cret",
        ],
        Some(dir.path()),
        &[],
        Lines::Both,
    );
    let announce = tracker.wait_for(60, |l| {
        l.split_once("announce URL ")
            .map(|(_, u)| u.split(' ').next().unwrap().to_owned())
    });

    // A wrong token is refused with the tracker's reason, before any seeding.
    let bad = bt_command()
        .args([
            "publish",
            "movie.bin",
            "--tracker",
            &announce,
            "--token",
            "nope",
        ])
        .args(["-o", "bad.torrent"])
        .args(NET)
        .current_dir(&src)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success());
    assert!(err.contains("refused the publish token (403)"), "{err}");

    let mut publish = Running::spawn_in(
        &[
            "publish",
            "movie.bin",
            "--tracker",
            &announce,
            "--token",
            "s3cret",
        ]
        .into_iter()
        .chain(NET)
        .collect::<Vec<_>>(),
        Some(&src),
        &[],
        Lines::Both,
    );
    let url = publish.wait_for(60, |l| l.strip_prefix("torrent: ").map(str::to_owned));
    let magnet = publish.wait_for(60, |l| l.strip_prefix("magnet: ").map(str::to_owned));
    let base = announce.trim_end_matches("/announce");
    assert!(
        url.starts_with(&format!("{base}/torrents/")) && url.ends_with(".torrent"),
        "{url}"
    );
    let hash = &url[url.len() - 48..url.len() - 8];
    assert!(
        magnet.starts_with(&format!("magnet:?xt=urn:btih:{hash}")),
        "{magnet}"
    );
    assert!(src.join("movie.bin.torrent").is_file());
    publish.wait_for(60, |l| l.contains("listening for peers on").then_some(()));

    let out = bt_command()
        .args(["download", &url, "--seed-time", "0"])
        .args(NET)
        .current_dir(&dl)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(std::fs::read(dl.join("movie.bin")).unwrap() == bytes);

    // `bt open` saves under ~/Downloads, then keeps seeding (it is killed on drop).
    let mut open = Running::spawn_in(
        &["open", &url].into_iter().chain(NET).collect::<Vec<_>>(),
        Some(dir.path()),
        &[("HOME", &home), ("XDG_DOWNLOAD_DIR", Path::new(""))],
        Lines::Both,
    );
    open.wait_for(60, |l| l.contains("complete").then_some(()));
    wait_for_file(&home.join("Downloads/movie.bin"), &bytes);

    // The magnet link works too: the metadata comes from the swarm the tracker names.
    let home2 = dir.path().join("home2");
    std::fs::create_dir_all(home2.join("Downloads")).unwrap();
    let mut magnet_open = Running::spawn_in(
        &["open", &magnet].into_iter().chain(NET).collect::<Vec<_>>(),
        Some(dir.path()),
        &[("HOME", &home2), ("XDG_DOWNLOAD_DIR", Path::new(""))],
        Lines::Both,
    );
    magnet_open.wait_for(60, |l| l.contains("metadata fetched").then_some(()));
    magnet_open.wait_for(60, |l| l.contains("complete").then_some(()));
    wait_for_file(&home2.join("Downloads/movie.bin"), &bytes);
    drop(tracker);
}

fn xdg_query(env: &[(&str, &Path)], mime: &str) -> String {
    let mut cmd = Command::new("xdg-mime");
    cmd.args(["query", "default", mime]).env_clear();
    cmd.env("PATH", std::env::var_os("PATH").unwrap_or_default());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out: Output = cmd
        .output()
        .expect("xdg-mime runs (install the Debian package xdg-utils)");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn install_handler_registers_bt_open_with_xdg_mime_and_uninstall_removes_it() {
    let dir = Scratch::new("install-handler");
    let (data, config, home) = (
        dir.path().join("data"),
        dir.path().join("config"),
        dir.path().join("home"),
    );
    std::fs::create_dir_all(&home).unwrap();
    let env = [
        ("HOME", home.as_path()),
        ("XDG_DATA_HOME", data.as_path()),
        ("XDG_CONFIG_HOME", config.as_path()),
    ];
    let run = |args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_bt"));
        cmd.args(args).env_clear();
        cmd.env("PATH", std::env::var_os("PATH").unwrap_or_default());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "bt {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(xdg_query(&env, "application/x-bittorrent"), "");

    let said = run(&["install-handler"]);
    let entry = data.join("applications/bt-open.desktop");
    assert!(said.contains(&entry.display().to_string()), "{said}");
    let text = std::fs::read_to_string(&entry).unwrap();
    let exe = env!("CARGO_BIN_EXE_bt");
    assert!(text.contains(&format!("\nExec={exe} open %u\n")), "{text}");
    assert!(text.contains("\nMimeType=application/x-bittorrent;x-scheme-handler/magnet;\n"));
    assert_eq!(
        xdg_query(&env, "application/x-bittorrent"),
        "bt-open.desktop"
    );
    assert_eq!(
        xdg_query(&env, "x-scheme-handler/magnet"),
        "bt-open.desktop"
    );

    run(&["install-handler", "--uninstall"]);
    assert!(!entry.exists());
    assert_eq!(xdg_query(&env, "application/x-bittorrent"), "");
    assert_eq!(xdg_query(&env, "x-scheme-handler/magnet"), "");
    let list = std::fs::read_to_string(config.join("mimeapps.list")).unwrap();
    assert!(!list.contains("bt-open.desktop"), "{list}");
}
