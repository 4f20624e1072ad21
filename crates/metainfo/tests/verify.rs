//! Verification: complete data passes; damaged, short and missing files are found per piece.

use torrentkit_metainfo::{verify, FileStatus, TorrentBuilder};

#[test]
fn damage_is_found_per_file_and_piece() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("set");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("a"), vec![1u8; 40_000]).unwrap();
    std::fs::write(root.join("b"), vec![2u8; 10_000]).unwrap();
    std::fs::write(root.join("c"), vec![3u8; 30_000]).unwrap();
    let t = TorrentBuilder::new(&root).build().unwrap();
    let nothing = |_: u64, _: u64| {};
    let report = verify(&t, &root, 2, &nothing).unwrap();
    assert!(report.is_complete());
    assert!(report.files.iter().all(|(_, s)| *s == FileStatus::Complete));

    // One byte flipped in `a` (piece 0 only); `c` cut short (pieces 3 and 4).
    let mut a = std::fs::read(root.join("a")).unwrap();
    a[100] ^= 1;
    std::fs::write(root.join("a"), a).unwrap();
    std::fs::write(root.join("c"), vec![3u8; 20_000]).unwrap();
    let report = verify(&t, &root, 2, &nothing).unwrap();
    assert_eq!(report.pieces, [false, true, true, true, false]);
    assert_eq!(report.files[0].1, FileStatus::Incomplete { bad_pieces: 1 });
    assert_eq!(report.files[1].1, FileStatus::Complete);
    assert_eq!(report.files[2].1, FileStatus::WrongSize { found: 20_000 });

    std::fs::remove_file(root.join("b")).unwrap();
    let report = verify(&t, &root, 1, &nothing).unwrap();
    assert_eq!(report.files[1].1, FileStatus::Missing);
    assert_eq!(report.pieces, [false, true, false, false, false]);
    assert!(!report.is_complete());
    assert!(report.files[1].0.ends_with("set/b"));
}

/// Names that differ only in case (`A.txt` and `a.txt`): the second is used as `a.1.txt`, as
/// libtorrent does, but data that keeps both names (made on a case-sensitive file system) is
/// complete, not missing; data saved under the renamed name is complete too.
#[test]
fn names_differing_only_in_case_are_found_under_either_name() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("set");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("A.txt"), vec![1u8; 20_000]).unwrap();
    std::fs::write(root.join("a.txt"), vec![2u8; 30_000]).unwrap();
    let t = TorrentBuilder::new(&root).build().unwrap();
    let names: Vec<String> = t.info().files().iter().map(|f| f.display_path()).collect();
    assert_eq!(names, ["set/A.txt", "set/a.1.txt"]);
    let nothing = |_: u64, _: u64| {};
    let report = verify(&t, &root, 1, &nothing).unwrap();
    assert!(report.is_complete(), "{:?}", report.files);
    assert!(report.files.iter().all(|(_, s)| *s == FileStatus::Complete));
    assert!(report.files[1].0.ends_with("set/a.txt"));

    std::fs::rename(root.join("a.txt"), root.join("a.1.txt")).unwrap();
    let report = verify(&t, &root, 1, &nothing).unwrap();
    assert!(report.is_complete(), "{:?}", report.files);
    assert!(report.files[1].0.ends_with("set/a.1.txt"));
}
