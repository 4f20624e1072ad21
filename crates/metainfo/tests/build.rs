//! Creation: file sets, ordering, excludes, symlinks, piece lengths and the resulting hashes.

use std::path::Path;

use sha1::{Digest, Sha1};
use torrentkit_metainfo::{auto_piece_length, Torrent, TorrentBuilder};

fn write(path: &Path, data: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, data).unwrap();
}

fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[test]
fn multi_file_pieces_are_hashes_of_the_concatenation() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("set");
    let files = [
        ("b/z.bin", data(20_000, 1)),
        ("a.bin", data(5, 2)),
        ("b/y.bin", data(30_000, 3)),
        ("empty", vec![]),
    ];
    for (name, bytes) in &files {
        write(&root.join(name), bytes);
    }
    let t = TorrentBuilder::new(&root).threads(3).build().unwrap();
    let info = t.info();
    assert_eq!(info.name(), "set");
    let paths: Vec<String> = info.files().iter().map(|f| f.display_path()).collect();
    assert_eq!(
        paths,
        ["set/a.bin", "set/b/y.bin", "set/b/z.bin", "set/empty"]
    );
    let mut all = Vec::new();
    for name in ["a.bin", "b/y.bin", "b/z.bin"] {
        all.extend(std::fs::read(root.join(name)).unwrap());
    }
    let want: Vec<[u8; 20]> = all.chunks(16384).map(|c| Sha1::digest(c).into()).collect();
    assert_eq!(info.pieces(), &want[..]);
    assert_eq!(info.total_size(), 50_005);
    // Deterministic: the same data gives the same bytes.
    assert_eq!(
        TorrentBuilder::new(&root)
            .threads(1)
            .build()
            .unwrap()
            .to_bytes(),
        t.to_bytes()
    );
}

#[test]
fn options_land_in_the_torrent() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("one.iso");
    write(&file, &data(100_000, 9));
    let t = TorrentBuilder::new(&file)
        .tier(vec!["udp://a:1".into(), "udp://b:2".into()])
        .tier(vec!["http://c/ann".into()])
        .piece_length(32768)
        .private(true)
        .comment("hello")
        .source("SRC")
        .web_seed("http://w/one.iso")
        .http_seed("http://h/seed")
        .created_by("test")
        .creation_date(1_700_000_000)
        .build()
        .unwrap();
    let t = Torrent::from_bytes(&t.to_bytes()).unwrap();
    let info = t.info();
    assert!(!info.is_multi_file());
    assert_eq!(
        (info.name(), info.piece_length(), info.piece_count()),
        ("one.iso", 32768, 4)
    );
    assert!(info.is_private());
    assert_eq!(info.source(), Some("SRC"));
    assert_eq!(t.announce(), Some("udp://a:1"));
    assert_eq!(
        t.trackers(),
        [vec!["udp://a:1", "udp://b:2"], vec!["http://c/ann"]]
    );
    assert_eq!(
        (t.comment(), t.created_by(), t.creation_date()),
        (Some("hello"), Some("test"), Some(1_700_000_000))
    );
    assert_eq!(t.web_seeds(), ["http://w/one.iso"]);
    assert_eq!(t.http_seeds(), ["http://h/seed"]);
    assert!(t.warnings().is_empty(), "{:?}", t.warnings());
    // The source tag is inside info: it changes the info-hash.
    let plain = TorrentBuilder::new(&file)
        .piece_length(32768)
        .private(true)
        .build()
        .unwrap();
    assert_ne!(plain.info_hash(), t.info_hash());
}

#[test]
fn excludes_classic_skips_and_symlinks() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("r");
    for name in [
        "keep.txt",
        "skip.tmp",
        "CVS/Entries",
        "core",
        "sub/core",
        "sub/keep2.txt",
        "cache/x",
    ] {
        write(&root.join(name), b"data");
    }
    std::os::unix::fs::symlink(root.join("keep.txt"), root.join("link.txt")).unwrap();
    let listed = |b: TorrentBuilder| -> Vec<String> {
        b.scan()
            .unwrap()
            .iter()
            .map(|f| f.torrent_path.join("/"))
            .collect()
    };
    assert_eq!(
        listed(TorrentBuilder::new(&root)),
        [
            "CVS/Entries",
            "cache/x",
            "core",
            "keep.txt",
            "skip.tmp",
            "sub/core",
            "sub/keep2.txt"
        ]
    );
    assert_eq!(
        listed(
            TorrentBuilder::new(&root)
                .skip_cvs_and_core(true)
                .exclude("*.tmp")
                .exclude("cache")
        ),
        ["keep.txt", "sub/keep2.txt"]
    );
    assert!(
        listed(TorrentBuilder::new(&root).follow_symlinks(true)).contains(&"link.txt".to_owned())
    );
}

#[test]
fn bad_requests_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let e = TorrentBuilder::new(dir.path().join("none"))
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("none"), "{e}");
    std::fs::create_dir(dir.path().join("empty")).unwrap();
    let e = TorrentBuilder::new(dir.path().join("empty"))
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("no files"), "{e}");
    write(&dir.path().join("zero"), b"");
    let e = TorrentBuilder::new(dir.path().join("zero"))
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("empty"), "{e}");
    write(&dir.path().join("f"), b"x");
    let e = TorrentBuilder::new(dir.path().join("f"))
        .piece_length(1000)
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("power of two"), "{e}");
    let odd = dir.path().join("odd");
    write(&odd.join("a\\b"), b"x");
    let e = TorrentBuilder::new(&odd).build().unwrap_err();
    assert!(
        e.to_string().contains("clients would rename this file"),
        "{e}"
    );
    assert!(TorrentBuilder::new(&odd)
        .exclude("a*")
        .scan()
        .unwrap()
        .is_empty());
    let e = TorrentBuilder::new(dir.path().join("f"))
        .name("../x")
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("not a safe torrent name"), "{e}");
}

#[test]
fn automatic_piece_length_rule() {
    assert_eq!(auto_piece_length(1), 16 << 10);
    assert_eq!(auto_piece_length(32 << 20), 16 << 10);
    assert_eq!(auto_piece_length((32 << 20) + 1), 32 << 10);
    for total in [100u64 << 20, 700 << 20, 4 << 30, 30 << 30] {
        let p = auto_piece_length(total);
        let pieces = total.div_ceil(p);
        assert!(
            p.is_power_of_two() && (1025..=2048).contains(&pieces),
            "{total}: {p} -> {pieces}"
        );
    }
    assert_eq!(auto_piece_length(1 << 40), 16 << 20);
}

#[test]
fn progress_reports_every_byte() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("f"), &data(200_000, 1));
    let seen = std::sync::atomic::AtomicU64::new(0);
    TorrentBuilder::new(dir.path().join("f"))
        .build_with_progress(&|done, total| {
            assert_eq!(total, 200_000);
            seen.fetch_max(done, std::sync::atomic::Ordering::Relaxed);
        })
        .unwrap();
    assert_eq!(seen.into_inner(), 200_000);
}
