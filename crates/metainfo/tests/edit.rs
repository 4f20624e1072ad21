//! Edits: every other key stays byte for byte, edits outside `info` keep the info-hash, and
//! files are replaced atomically.

use torrentkit_metainfo::Torrent;

use crate::util::single_info;

/// A torrent with unknown keys at the top and inside `info`, and an unsorted `info`.
fn odd_torrent() -> (Vec<u8>, Vec<u8>) {
    let info = b"d6:lengthi40000e4:name5:a.txt12:piece lengthi16384e6:pieces60:\
        aaaaaaaaaaaaaaaaaaaabbbbbbbbbbbbbbbbbbbbcccccccccccccccccccc\
        7:privatei1e1:zi9e3:abc3:xyze"
        .to_vec();
    let mut t =
        b"d8:announce12:http://a/ann16:x-custom-top-keyl1:1i2ee7:comment2:hi4:info".to_vec();
    t.extend_from_slice(&info);
    t.extend_from_slice(b"10:zz-unknownd1:ki1eee");
    (t, info)
}

#[test]
fn unedited_torrents_write_back_byte_for_byte() {
    let (bytes, info) = odd_torrent();
    let t = Torrent::from_bytes(&bytes).unwrap();
    assert_eq!(t.to_bytes(), bytes);
    assert_eq!(t.info().raw(), &info[..]);
    assert_eq!(
        t.info_hash(),
        torrentkit_metainfo::InfoHash::of_info_bytes(&info)
    );
    assert!(t.info().is_private());
    let unknown: Vec<&[u8]> = t.unknown_keys().collect();
    assert_eq!(unknown, [&b"x-custom-top-key"[..], b"zz-unknown"]);
}

#[test]
fn edits_outside_info_keep_everything_else() {
    let (bytes, info) = odd_torrent();
    let original = Torrent::from_bytes(&bytes).unwrap();
    let hash = original.info_hash();
    let keep = |t: &Torrent| {
        let out = t.to_bytes();
        assert_eq!(t.info_hash(), hash);
        // The info bytes, and both unknown entries, appear verbatim.
        for needle in [
            &info[..],
            b"16:x-custom-top-keyl1:1i2ee",
            b"10:zz-unknownd1:ki1ee",
        ] {
            assert!(
                out.windows(needle.len()).any(|w| w == needle),
                "lost {:?}",
                String::from_utf8_lossy(needle)
            );
        }
        out
    };

    let mut t = original.clone();
    t.reannounce("udp://new:1").unwrap();
    let out = keep(&t);
    assert_eq!(t.announce(), Some("udp://new:1"));
    assert!(out.starts_with(b"d8:announce11:udp://new:1"));

    let mut t = original.clone();
    t.set_trackers(&[
        vec!["http://a/1".into(), "http://a/2".into()],
        vec!["http://b".into()],
    ])
    .unwrap();
    keep(&t);
    assert_eq!(
        t.trackers(),
        [vec!["http://a/1", "http://a/2"], vec!["http://b"]]
    );
    assert_eq!(t.announce(), Some("http://a/1"));

    let mut t = original.clone();
    t.set_web_seeds(&["http://w/1".into(), "http://w/2".into()])
        .unwrap();
    t.set_http_seeds(&["http://h/".into()]).unwrap();
    let out = keep(&t);
    assert_eq!(t.web_seeds(), ["http://w/1", "http://w/2"]);
    assert_eq!(t.http_seeds(), ["http://h/"]);
    // New keys go to their sorted place among the old ones.
    let pos = |k: &[u8]| out.windows(k.len()).position(|w| w == k).unwrap();
    assert!(pos(b"9:httpseeds") < pos(b"4:info"));
    // (This file's keys are unsorted: a new key goes before the first key above it.)
    assert!(pos(b"8:url-list") < pos(b"16:x-custom-top-key"));
    t.set_web_seeds(&[]).unwrap();
    t.set_http_seeds(&[]).unwrap();
    t.set_trackers(&[vec!["http://a/ann".into()]]).unwrap();
    assert_eq!(
        t.to_bytes(),
        bytes,
        "clearing the additions restores the file"
    );

    let mut t = original.clone();
    t.set_comment(Some("new comment")).unwrap();
    keep(&t);
    assert_eq!(t.comment(), Some("new comment"));
}

#[test]
fn copy_announce_copies_bytes() {
    let (bytes, _) = odd_torrent();
    let mut source = Torrent::from_bytes(&bytes).unwrap();
    source
        .set_trackers(&[vec!["udp://x:1".into()], vec!["udp://y:2".into()]])
        .unwrap();
    let mut dest = Torrent::from_bytes(&crate::util::torrent_with(&single_info("b", 5))).unwrap();
    let hash = dest.info_hash();
    dest.copy_announce_from(&source).unwrap();
    assert_eq!(dest.trackers(), source.trackers());
    assert_eq!(dest.info_hash(), hash);
}

#[test]
fn rename_changes_the_info_hash_and_keeps_other_info_keys() {
    let (bytes, _) = odd_torrent();
    let mut t = Torrent::from_bytes(&bytes).unwrap();
    let before = t.info_hash();
    t.rename("b.txt").unwrap();
    assert_ne!(t.info_hash(), before);
    assert_eq!(t.info().name(), "b.txt");
    assert!(t.info().is_private());
    let raw = t.info().raw();
    for needle in [&b"3:abc3:xyz"[..], b"1:zi9e", b"4:name5:b.txt"] {
        assert!(raw.windows(needle.len()).any(|w| w == needle));
    }
    assert!(t
        .to_bytes()
        .windows(20)
        .any(|w| w == b"10:zz-unknownd1:ki1e"));
    for bad in ["", ".", "..", "a/b", "a\\b", "a\0b"] {
        let e = t.rename(bad).unwrap_err().to_string();
        assert!(e.contains("not a safe file name"), "{bad:?}: {e}");
    }
}

#[test]
fn write_atomic_replaces_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.torrent");
    std::fs::write(&path, b"old").unwrap();
    let (bytes, _) = odd_torrent();
    let t = Torrent::from_bytes(&bytes).unwrap();
    t.write_atomic(&path).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "temporary files left behind: {names:?}");
    let e = t
        .write_atomic(dir.path().join("no/such/dir/x.torrent"))
        .unwrap_err();
    assert!(e.to_string().contains("no/such/dir"), "{e}");
}
