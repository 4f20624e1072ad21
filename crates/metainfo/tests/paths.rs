//! Path traversal in every form: the paths are sanitised, stay inside the download directory,
//! and a warning names the original.

use torrentkit_metainfo::{Torrent, Warning};

use crate::util::{multi_info, torrent_with};

fn load(files: &[(&[&[u8]], i64)]) -> Torrent {
    Torrent::from_bytes(&torrent_with(&multi_info(b"top", files))).unwrap()
}

/// No component is empty, `.` or `..`, or holds a separator or NUL; the first is the name.
fn assert_inside(t: &Torrent) {
    for f in t.info().files() {
        assert_eq!(f.path[0], t.info().name());
        for c in &f.path {
            assert!(
                !c.is_empty() && c != "." && c != ".." && !c.contains(['/', '\\', '\0']),
                "unsafe component {c:?} in {:?}",
                f.path
            );
        }
    }
}

#[test]
fn every_traversal_form_is_sanitised_with_a_warning() {
    let cases: &[(&[&[u8]], &str, &str)] = &[
        (
            &[b"..", b"..", b"etc", b"passwd"],
            "top/etc/passwd",
            "../../etc/passwd",
        ),
        (&[b"/etc", b"passwd"], "top/etc/passwd", "/etc/passwd"),
        (&[b"a/../../b"], "top/a....b", "a/../../b"),
        (
            &[b"..\\..\\win.ini"],
            "top/....win.ini",
            "..\\\\..\\\\win.ini",
        ),
        (&[b"", b"x"], "top/_/x", "/x"),
        (&[b".", b"x"], "top/x", "./x"),
        (&[b"a\0b"], "top/ab", "a\\0b"),
        (&[b"..", b"."], "top/_", "../."),
        (&[b"\xffbad"], "top/_bad", "\\xffbad"),
    ];
    for (path, want, original) in cases {
        let t = load(&[(path, 10)]);
        assert_inside(&t);
        assert_eq!(t.info().files()[0].display_path(), *want);
        let w = t
            .warnings()
            .iter()
            .find_map(|w| match w {
                Warning::PathSanitised { original, .. } => Some(original.clone()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no warning for {want}"));
        assert_eq!(w, *original);
    }
}

#[test]
fn hostile_names_are_sanitised_or_replaced() {
    let t = Torrent::from_bytes(&torrent_with(&multi_info(b"..", &[(&[b"x"], 3)]))).unwrap();
    assert_eq!(t.info().name(), t.info_hash().to_hex());
    assert_inside(&t);
    let t = Torrent::from_bytes(&torrent_with(&multi_info(b"../../x", &[(&[b"y"], 3)]))).unwrap();
    assert_eq!(t.info().name(), "....x");
    assert_inside(&t);
}

#[test]
fn duplicates_are_renamed() {
    let t = load(&[(&[b"a.txt"], 1), (&[b"A.TXT"], 1), (&[b"a.txt"], 1)]);
    let paths: Vec<String> = t.info().files().iter().map(|f| f.display_path()).collect();
    assert_eq!(paths, ["top/a.txt", "top/A.1.TXT", "top/a.2.txt"]);
    assert_eq!(
        t.warnings()
            .iter()
            .filter(|w| matches!(w, Warning::DuplicatePath { .. }))
            .count(),
        2
    );
}

#[test]
fn bitcomet_padding_files_are_pad_files() {
    let t = load(&[
        (&[b"a.bin"], 100),
        (&[b"_____padding_file_0"], 16284),
        (&[b"b.bin"], 5),
    ]);
    let pads: Vec<bool> = t.info().files().iter().map(|f| f.pad).collect();
    assert_eq!(pads, [false, true, false]);
}
