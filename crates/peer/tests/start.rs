//! `Placement::find_start` on real files: nothing on disk, a resume file that matches, one
//! that a change to the data invalidates, and a check asked for with no data.

use std::time::{Duration, SystemTime};

use torrentkit_metainfo::TorrentBuilder;
use torrentkit_peer::session::{RecheckReason, StartError, StartKind};
use torrentkit_peer::{Placement, ResumeMismatch, Rng};

#[test]
fn the_resume_file_is_trusted_until_the_data_changes() {
    let src = tempfile::tempdir().unwrap();
    let mut bytes = vec![0u8; 100_000];
    Rng::new(11).fill(&mut bytes);
    std::fs::write(src.path().join("disk.img"), &bytes).unwrap();
    let torrent = TorrentBuilder::new(src.path().join("disk.img"))
        .piece_length(16_384)
        .build()
        .unwrap();
    let hashes = torrent.info().pieces();
    let dl = tempfile::tempdir().unwrap();
    let placement = Placement::in_dir(&torrent, dl.path()).unwrap();
    let storage = placement.storage();
    let mut notes = Vec::new();

    // Nothing there: a fresh start, or nothing to verify when a check is asked for.
    let start = placement
        .find_start(&storage, hashes, false, &mut |n| notes.push(n.to_string()))
        .unwrap();
    assert_eq!(start.kind, StartKind::Fresh);
    assert_eq!(start.have.count(), 0);
    let err = placement
        .find_start(&storage, hashes, true, &mut |n| notes.push(n.to_string()))
        .unwrap_err();
    assert!(matches!(err, StartError::NothingToVerify { .. }));
    assert!(
        err.to_string()
            .ends_with("disk.img: not found (nothing to verify)"),
        "{err}"
    );
    assert!(notes.is_empty(), "{notes:?}");

    // The data arrives (all but the last piece) and a resume file records what is verified.
    std::fs::write(placement.data.clone(), &bytes[..98_304]).unwrap();
    let start = placement
        .find_start(&storage, hashes, false, &mut |n| notes.push(n.to_string()))
        .unwrap();
    assert_eq!(
        start.kind,
        StartKind::Rechecked(RecheckReason::NoResumeFile)
    );
    assert_eq!(start.have.count(), 6, "six whole pieces of seven");
    assert_eq!(notes.len(), 1);
    assert!(notes[0].starts_with("checking 7 pieces of "), "{notes:?}");
    placement.save_resume(&start.have).unwrap();

    // Trusted as it is: no hashing, no note.
    notes.clear();
    let resumed = placement
        .find_start(&storage, hashes, false, &mut |n| notes.push(n.to_string()))
        .unwrap();
    assert_eq!(resumed.kind, StartKind::Resumed);
    assert_eq!(resumed.have, start.have);
    assert_eq!(resumed.previous, Some(start.have.clone()));
    assert!(notes.is_empty(), "{notes:?}");

    // The file is touched: the resume file is no longer trusted, the data is hashed again.
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&placement.data)
        .unwrap();
    f.set_modified(SystemTime::now() + Duration::from_secs(5))
        .unwrap();
    let again = placement
        .find_start(&storage, hashes, false, &mut |n| notes.push(n.to_string()))
        .unwrap();
    assert_eq!(
        again.kind,
        StartKind::Rechecked(RecheckReason::Mismatch(ResumeMismatch::Mtime {
            path: "disk.img".into()
        }))
    );
    assert_eq!(again.have, start.have);
    assert!(
        notes[0].ends_with("(`disk.img` was modified after the resume file was written)"),
        "{notes:?}"
    );
}
