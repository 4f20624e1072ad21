//! BitTorrent v2 (BEP 52): v2-only and hybrid torrents made, read back, verified and linked.

use sha2::{Digest, Sha256};
use torrentkit_metainfo::merkle::{self, Hash256};
use torrentkit_metainfo::{verify, Magnet, MetaVersion, Torrent, TorrentBuilder};

fn sha256(data: &[u8]) -> Hash256 {
    Sha256::digest(data).into()
}

/// A directory with a multi-piece file, a one-block file, an empty file and a file exactly one
/// 16 KiB piece long.
fn data() -> (tempfile::TempDir, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let big: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
    let root = dir.path().join("d");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::write(root.join("a.bin"), &big).unwrap();
    std::fs::write(root.join("c.txt"), b"hello").unwrap();
    std::fs::write(root.join("empty"), b"").unwrap();
    std::fs::write(root.join("sub/b.bin"), vec![3u8; 16384]).unwrap();
    (dir, big)
}

#[test]
fn a_v2_torrent_has_merkle_roots_and_piece_layers() {
    let (dir, big) = data();
    let t = TorrentBuilder::new(dir.path().join("d"))
        .meta_version(MetaVersion::V2)
        .piece_length(16384)
        .build()
        .unwrap();
    let again = Torrent::from_bytes(&t.to_bytes()).unwrap();
    assert_eq!(again, t);
    assert_eq!(t.info().version(), MetaVersion::V2);
    assert!(t.info().pieces().is_empty());
    assert_eq!(t.info_hash_v1(), None);
    let v2 = t.info_hash_v2().unwrap();
    assert_eq!(v2.0, sha256(t.info().raw()));
    assert_eq!(t.info_hash(), v2.truncated());

    // Files in tree order with libtorrent's pad files after each unaligned file.
    let files: Vec<(String, u64, bool)> = t
        .info()
        .files()
        .iter()
        .map(|f| (f.display_path(), f.length, f.pad))
        .collect();
    assert_eq!(
        files,
        [
            ("d/a.bin".to_owned(), 40_000, false),
            ("d/.pad/9152".to_owned(), 9152, true),
            ("d/c.txt".to_owned(), 5, false),
            ("d/.pad/16379".to_owned(), 16379, true),
            ("d/empty".to_owned(), 0, false),
            ("d/sub/b.bin".to_owned(), 16384, false),
        ]
    );
    // The roots, computed here from the definition.
    let f = t.info().files();
    assert_eq!(f[2].pieces_root, Some(sha256(b"hello")));
    assert_eq!(f[5].pieces_root, Some(sha256(&[3u8; 16384])));
    assert_eq!(f[4].pieces_root, None);
    let leaves: Vec<Hash256> = big.chunks(16384).map(sha256).collect();
    let want = merkle::parent(
        &merkle::parent(&leaves[0], &leaves[1]),
        &merkle::parent(&leaves[2], &[0; 32]),
    );
    assert_eq!(f[0].pieces_root, Some(want));
    // Only the multi-piece file has a layer: one hash per piece.
    assert_eq!(t.piece_layer(&want).unwrap(), &leaves[..]);
    assert_eq!(t.piece_layer(&sha256(b"hello")), None);

    let magnet = Magnet::from_torrent(&t).to_string();
    assert!(
        magnet.starts_with(&format!("magnet:?xt=urn:btmh:1220{v2}&")),
        "{magnet}"
    );
    assert_eq!(Magnet::parse(&magnet).unwrap().info_hash_v2, Some(v2));
}

#[test]
fn verify_checks_v2_and_hybrid_data_against_the_merkle_trees() {
    for version in [MetaVersion::V2, MetaVersion::Hybrid] {
        let (dir, _) = data();
        let content = dir.path().join("d");
        let t = TorrentBuilder::new(&content)
            .meta_version(version)
            .piece_length(16384)
            .build()
            .unwrap();
        let report = verify(&t, &content, 2, &|_, _| {}).unwrap();
        assert!(report.is_complete(), "{version:?}: {report:?}");
        // One byte changed in the second piece of a.bin: that piece alone is bad.
        let mut big = std::fs::read(content.join("a.bin")).unwrap();
        big[20_000] ^= 1;
        std::fs::write(content.join("a.bin"), &big).unwrap();
        let report = verify(&t, &content, 2, &|_, _| {}).unwrap();
        assert_eq!(
            report.pieces,
            [true, false, true, true, true],
            "{version:?}"
        );
    }
}

#[test]
fn a_hybrid_torrent_has_both_halves_aligned() {
    let (dir, _) = data();
    let t = TorrentBuilder::new(dir.path().join("d"))
        .meta_version(MetaVersion::Hybrid)
        .piece_length(16384)
        .build()
        .unwrap();
    assert_eq!(t.info().version(), MetaVersion::Hybrid);
    assert_eq!(t.info().pieces().len(), t.info().piece_count());
    let v1 = t.info_hash_v1().unwrap();
    let v2 = t.info_hash_v2().unwrap();
    assert_ne!(v1, v2.truncated());
    let magnet = Magnet::from_torrent(&t).to_string();
    assert!(
        magnet.starts_with(&format!("magnet:?xt=urn:btih:{v1}&xt=urn:btmh:1220{v2}&")),
        "{magnet}"
    );
    for f in t.info().files() {
        assert!(f.offset % 16384 == 0 || f.pad, "{f:?}");
        assert_eq!(f.pieces_root.is_some(), !f.pad && f.length > 0, "{f:?}");
    }
}

#[test]
fn a_piece_layer_that_does_not_hash_to_its_root_is_dropped_with_a_warning() {
    let (dir, _) = data();
    let t = TorrentBuilder::new(dir.path().join("d"))
        .meta_version(MetaVersion::V2)
        .piece_length(16384)
        .build()
        .unwrap();
    let root = t.info().files()[0].pieces_root.unwrap();
    let layer = t.piece_layer(&root).unwrap().concat();
    let mut bytes = t.to_bytes();
    let at = bytes
        .windows(layer.len())
        .position(|w| w == layer.as_slice())
        .unwrap();
    bytes[at] ^= 1;
    let bad = Torrent::from_bytes(&bytes).unwrap();
    assert_eq!(bad.info_hash_v2(), t.info_hash_v2(), "outside `info`");
    assert_eq!(bad.piece_layer(&root), None);
    let w = bad
        .warnings()
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>();
    assert!(
        w.iter()
            .any(|w| w.contains("does not hash to its pieces root")),
        "{w:?}"
    );
    // Without the layer, verify still judges the file by its root.
    let report = verify(&bad, &dir.path().join("d"), 1, &|_, _| {}).unwrap();
    assert!(report.is_complete());
}
