//! End-to-end tests of the torrent-file subcommands: make, make-each, show, the editors, magnet
//! and verify.

use std::path::Path;

use serde_json::Value;

use crate::util::{bt, stderr, Scratch};

fn ok(args: &[&str]) -> String {
    let out = bt(args, b"");
    assert!(out.status.success(), "bt {args:?} failed: {}", stderr(&out));
    String::from_utf8(out.stdout).unwrap()
}

fn show_json(torrent: &Path) -> Value {
    serde_json::from_str(&ok(&["show", "--json", torrent.to_str().unwrap()])).unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A small multi-file data set: 3 files over 3 pieces of 16 KiB.
fn album(scratch: &Scratch) -> std::path::PathBuf {
    let dir = scratch.path().join("album");
    std::fs::create_dir_all(dir.join("disc")).unwrap();
    std::fs::write(dir.join("a.flac"), vec![1u8; 20_000]).unwrap();
    std::fs::write(dir.join("disc/b.flac"), vec![2u8; 15_000]).unwrap();
    std::fs::write(dir.join("cover.jpg"), b"jpeg").unwrap();
    dir
}

#[test]
fn make_writes_path_dot_torrent_and_show_reads_it() {
    let scratch = Scratch::new("bt-make");
    let dir = album(&scratch);
    let out = bt(
        &[
            "make",
            s(&dir),
            "-t",
            "udp://a:1,udp://b:2",
            "-t",
            "http://c/ann",
            "--private",
            "--comment",
            "hi",
            "-w",
            "http://w/",
            "--http-seed",
            "http://h/",
            "--source",
            "SRC",
        ],
        b"",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    // Piped: no progress bar, no noise.
    assert_eq!(stderr(&out), "");
    let torrent = scratch.path().join("album.torrent");
    let line = String::from_utf8(out.stdout).unwrap();
    let json = show_json(&torrent);
    assert!(line.contains(json["info_hash"].as_str().unwrap()), "{line}");
    assert_eq!(json["name"], "album");
    assert_eq!(json["total_size"], 35_004);
    assert_eq!(json["piece_length"], 16384);
    assert_eq!(json["piece_count"], 3);
    assert_eq!(json["private"], true);
    assert_eq!(json["source"], "SRC");
    assert_eq!(json["comment"], "hi");
    assert_eq!(
        json["trackers"],
        serde_json::json!([["udp://a:1", "udp://b:2"], ["http://c/ann"]])
    );
    assert_eq!(json["web_seeds"], serde_json::json!(["http://w/"]));
    assert_eq!(json["http_seeds"], serde_json::json!(["http://h/"]));
    let paths: Vec<&str> = json["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        ["album/a.flac", "album/cover.jpg", "album/disc/b.flac"]
    );
    assert!(json["creation_date"].as_i64().unwrap() > 1_600_000_000);

    let human = ok(&["show", s(&torrent)]);
    for want in [
        "name:        album",
        "private:     yes",
        "tier 1: udp://a:1, udp://b:2",
        "tier 2: http://c/ann",
        "  album/",
        "    disc/",
        "      b.flac  (14.65 KiB)",
    ] {
        assert!(human.contains(want), "{want:?} not in\n{human}");
    }

    // An existing output is not replaced without --force.
    let again = bt(&["make", s(&dir)], b"");
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("exists; use --force"),
        "{}",
        stderr(&again)
    );
    ok(&[
        "make",
        s(&dir),
        "--force",
        "--no-date",
        "-l",
        "32K",
        "-o",
        s(&scratch.path().join("x.torrent")),
    ]);
    let json = show_json(&scratch.path().join("x.torrent"));
    assert_eq!(json["piece_length"], 32768);
    assert_eq!(json["creation_date"], Value::Null);
}

#[test]
fn make_each_makes_one_torrent_per_entry() {
    let scratch = Scratch::new("bt-make-each");
    let dir = scratch.path().join("shows");
    std::fs::create_dir_all(dir.join("s1")).unwrap();
    std::fs::write(dir.join("s1/e1.mkv"), b"episode one").unwrap();
    std::fs::write(dir.join("movie.mkv"), b"a movie").unwrap();
    std::fs::write(dir.join(".hidden"), b"x").unwrap();
    ok(&["make-each", s(&dir), "-t", "http://t/ann"]);
    let mut made: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".torrent"))
        .collect();
    made.sort();
    assert_eq!(made, ["movie.mkv.torrent", "s1.torrent"]);
    assert_eq!(
        show_json(&dir.join("s1.torrent"))["files"][0]["path"],
        "s1/e1.mkv"
    );
}

#[test]
fn edits_keep_the_info_hash_except_rename() {
    let scratch = Scratch::new("bt-edit");
    let dir = album(&scratch);
    let torrent = scratch.path().join("album.torrent");
    ok(&["make", s(&dir), "-t", "http://old/ann", "--no-date"]);
    let hash = show_json(&torrent)["info_hash"].clone();

    ok(&["reannounce", "udp://new:6969/announce", s(&torrent)]);
    let json = show_json(&torrent);
    assert_eq!(json["info_hash"], hash);
    assert_eq!(
        json["trackers"],
        serde_json::json!([["udp://new:6969/announce"]])
    );

    ok(&["web-seeds", s(&torrent), "http://w1/", "http://w2/"]);
    ok(&["http-seeds", s(&torrent), "http://h1/"]);
    assert_eq!(ok(&["web-seeds", s(&torrent)]), "http://w1/\nhttp://w2/\n");
    assert_eq!(ok(&["http-seeds", s(&torrent)]), "http://h1/\n");
    ok(&["web-seeds", s(&torrent), "--clear"]);
    assert_eq!(ok(&["web-seeds", s(&torrent)]), "");
    assert_eq!(show_json(&torrent)["info_hash"], hash);

    let other = scratch.path().join("other.torrent");
    ok(&[
        "make",
        s(&dir.join("a.flac")),
        "-o",
        s(&other),
        "-t",
        "http://x/,http://y/",
        "-t",
        "http://z/",
    ]);
    let other_hash = show_json(&other)["info_hash"].clone();
    ok(&["copy-announce", s(&other), s(&torrent)]);
    let json = show_json(&torrent);
    assert_eq!(
        json["trackers"],
        serde_json::json!([["http://x/", "http://y/"], ["http://z/"]])
    );
    assert_eq!(json["info_hash"], hash);
    assert_eq!(show_json(&other)["info_hash"], other_hash);

    let said = ok(&["rename", s(&torrent), "new name"]);
    let json = show_json(&torrent);
    assert_eq!(json["name"], "new name");
    assert_ne!(json["info_hash"], hash);
    assert!(
        said.contains("info-hash changed") && said.contains(json["info_hash"].as_str().unwrap()),
        "{said}"
    );
    let bad = bt(&["rename", s(&torrent), "../escape"], b"");
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains("not a safe file name"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn magnet_links() {
    let scratch = Scratch::new("bt-magnet");
    let dir = album(&scratch);
    ok(&["make", s(&dir), "-t", "udp://t:1/announce"]);
    let torrent = scratch.path().join("album.torrent");
    let hash = show_json(&torrent)["info_hash"]
        .as_str()
        .unwrap()
        .to_owned();
    let link = ok(&["magnet", s(&torrent)]);
    assert_eq!(
        link.trim(),
        format!("magnet:?xt=urn:btih:{hash}&dn=album&xl=35004&tr=udp%3A%2F%2Ft%3A1%2Fannounce")
    );
    let parsed: Value = serde_json::from_str(&ok(&["magnet", "--parse", link.trim()])).unwrap();
    assert_eq!(parsed["info_hash"], hash.as_str());
    assert_eq!(parsed["tr"][0], "udp://t:1/announce");
    // Every parameter shows, peer hints and file selection included.
    let full = format!(
        "{}&x.pe=127.0.0.1:6881&x.pe=[::1]:7&so=0,2-3&ws=http%3A%2F%2Fw%2Fa",
        link.trim()
    );
    let parsed: Value = serde_json::from_str(&ok(&["magnet", "--parse", &full])).unwrap();
    assert_eq!(
        parsed["x.pe"],
        serde_json::json!(["127.0.0.1:6881", "[::1]:7"])
    );
    assert_eq!(parsed["so"], serde_json::json!([[0, 0], [2, 3]]));
    assert_eq!(parsed["ws"], serde_json::json!(["http://w/a"]));
    assert_eq!(
        (parsed["dn"].as_str(), parsed["xl"].as_u64()),
        (Some("album"), Some(35004))
    );
    let v2 = bt(
        &[
            "magnet",
            "--parse",
            &format!("magnet:?xt=urn:btmh:1220{}", "ab".repeat(32)),
        ],
        b"",
    );
    assert_eq!(v2.status.code(), Some(0), "{}", stderr(&v2));
    let parsed: serde_json::Value = serde_json::from_slice(&v2.stdout).unwrap();
    assert_eq!(parsed["info_hash_v2"], serde_json::json!("ab".repeat(32)));
    // The swarm's 20-byte hash is the v2 hash truncated (BEP 52).
    assert_eq!(parsed["info_hash"], serde_json::json!("ab".repeat(20)));
    assert_eq!(
        parsed["xt"],
        serde_json::json!(format!("urn:btmh:1220{}", "ab".repeat(32)))
    );
    let bad = bt(&["magnet", "--parse", "magnet:?dn=x"], b"");
    assert_eq!(bad.status.code(), Some(1));
    assert_eq!(
        stderr(&bad),
        "bt: invalid magnet link: no `xt` (exact topic) parameter"
    );
}

#[test]
fn verify_reports_files_and_pieces() {
    let scratch = Scratch::new("bt-verify");
    let dir = album(&scratch);
    ok(&["make", s(&dir)]);
    let torrent = scratch.path().join("album.torrent");
    let report = ok(&["verify", s(&torrent)]);
    assert!(report.contains("3/3 pieces ok"), "{report}");

    std::fs::write(dir.join("disc/b.flac"), vec![9u8; 15_000]).unwrap();
    let out = bt(&["verify", s(&torrent), "--data", s(&dir)], b"");
    assert_eq!(out.status.code(), Some(1));
    let report = String::from_utf8(out.stdout.clone()).unwrap();
    // Pieces 1 and 2 hold b.flac; piece 1 also holds the end of a.flac and cover.jpg.
    assert!(report.contains("1/3 pieces ok"), "{report}");
    assert!(report.contains("disc/b.flac (2 bad pieces)"), "{report}");
    assert!(
        stderr(&out).contains("data is incomplete"),
        "{}",
        stderr(&out)
    );

    std::fs::remove_file(dir.join("cover.jpg")).unwrap();
    let out = bt(&["verify", s(&torrent)], b"");
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .contains("MISSING     "));
}

#[test]
fn malformed_torrents_fail_cleanly() {
    let scratch = Scratch::new("bt-malformed");
    let cases: &[(&[u8], &str)] = &[
        (b"d4:infod6:lengthi5e4:name1:a12:piece lengthi16384e6:pieces2", "unexpected end of input"),
        (b"d4:infod6:lengthi-5e4:name1:a12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee", "invalid length"),
        (b"d4:infod6:lengthi99999e4:name1:a12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee", "incorrect number of piece hashes"),
        (b"d4:infod12:meta versioni2e4:name1:a12:piece lengthi16384eee", "missing or invalid `info.file tree`"),
    ];
    for (i, (bytes, want)) in cases.iter().enumerate() {
        let path = scratch.write(&format!("bad{i}.torrent"), bytes);
        for cmd in ["show", "magnet", "verify"] {
            let out = bt(&[cmd, s(&path)], b"");
            assert_eq!(out.status.code(), Some(1), "{cmd} {i}");
            let err = stderr(&out);
            assert!(
                err.starts_with("bt: ") && err.contains(want) && !err.contains("panicked"),
                "{cmd} {i}: {err}"
            );
        }
    }
    // Path traversal is sanitised with a warning, as libtorrent does; --strict rejects it.
    let path = scratch.write(
        "traversal.torrent",
        b"d4:infod5:filesld6:lengthi5e4:pathl2:..2:..6:passwdeee4:name1:a12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee",
    );
    let out = bt(&["show", "--json", s(&path)], b"");
    assert!(out.status.success());
    assert!(
        stderr(&out)
            .contains(r#"unsafe path in `info.files[0].path`: "../../passwd" is used as "passwd""#),
        "{}",
        stderr(&out)
    );
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["files"][0]["path"], "a/passwd");
    let out = bt(&["show", "--strict", s(&path)], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("rejected by --strict: unsafe path"),
        "{}",
        stderr(&out)
    );

    // A lenient load prints a warning but succeeds.
    let path = scratch.write(
        "unsorted.torrent",
        b"d4:infod6:lengthi5e4:name1:a12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaae8:announce1:xe",
    );
    let out = bt(&["show", s(&path)], b"");
    assert!(out.status.success());
    assert!(
        stderr(&out).contains("warning") && stderr(&out).contains("unsorted"),
        "{}",
        stderr(&out)
    );
}
