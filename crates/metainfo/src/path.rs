//! Making the file names a torrent declares safe to use on disk, following libtorrent.
//!
//! The rules (libtorrent 2.0's `sanitize_append_path_element` and `resolve_duplicate_filenames`
//! are the reference, and the conformance run checks the outcome against libtorrent's verdicts):
//!
//! 1. Each path component is decoded as UTF-8; every invalid sequence becomes `_`.
//! 2. The separators `/` and `\`, NUL, and the Unicode direction overrides (U+202A..U+202E,
//!    U+200E, U+200F) are removed from inside a component; other control characters become `_`.
//! 3. A component that is empty in the torrent becomes `_`. A component that is left empty by
//!    rule 2 (such as `/`), or that is `.` or `..`, is dropped.
//! 4. A component longer than 240 bytes is cut at the first character boundary at or past 240
//!    bytes; its extension (from the last `.`) is kept when that dot was cut off and the extension
//!    is shorter than 10 bytes.
//! 5. A path left with no components becomes `_`.
//! 6. In a multi-file torrent, a file whose path (compared ASCII case-insensitively) repeats an
//!    earlier file or names a directory of another file gets `.1`, `.2`, ... inserted before its
//!    extension, the first number that is free.
//! 7. The torrent's name follows rules 1 to 4. A single-file torrent whose name is empty or
//!    sanitises to nothing is rejected ("missing name"); a multi-file torrent's name that
//!    sanitises to nothing (`.`, `..`, `/`) is replaced by the info-hash in hex.
//!
//! Every path therefore names a place inside the download directory: no component is empty,
//! `.`, `..` or contains a separator, and no path is absolute.

use std::collections::HashSet;

/// The longest component kept whole, in bytes.
const MAX_COMPONENT: usize = 240;
/// An extension kept after truncation must be shorter than this, in bytes (dot included).
const MAX_KEPT_EXTENSION: usize = 10;

/// One unit of a sanitised component: the character to emit (if any) and where it ends in the
/// raw bytes.
fn chars_of(raw: &[u8]) -> Vec<(Option<char>, usize)> {
    let mut out = Vec::with_capacity(raw.len());
    let mut pos = 0;
    for chunk in raw.utf8_chunks() {
        for c in chunk.valid().chars() {
            pos += c.len_utf8();
            out.push((map_char(c), pos));
        }
        if !chunk.invalid().is_empty() {
            pos += chunk.invalid().len();
            out.push((Some('_'), pos));
        }
    }
    out
}

/// What one character becomes: removed (`None`), replaced, or kept.
fn map_char(c: char) -> Option<char> {
    match c {
        '/' | '\\' | '\0' => None,
        '\u{202a}'..='\u{202e}' | '\u{200e}' | '\u{200f}' => None,
        c if (c as u32) < 0x20 => Some('_'),
        c => Some(c),
    }
}

/// Sanitises one path component; `None` means the component is dropped.
pub(crate) fn sanitize_component(raw: &[u8]) -> Option<String> {
    if raw.is_empty() {
        return Some("_".to_owned());
    }
    let units = chars_of(raw);
    let mut out = String::with_capacity(raw.len());
    let mut cut_at = None;
    for &(c, end) in &units {
        if let Some(c) = c {
            out.push(c);
        }
        if out.len() >= MAX_COMPONENT && end < raw.len() {
            cut_at = Some(end);
            break;
        }
    }
    if let Some(cut) = cut_at {
        if let Some(dot) = raw.iter().rposition(|&b| b == b'.') {
            if dot >= cut && raw.len() - dot < MAX_KEPT_EXTENSION {
                for (c, _) in chars_of(&raw[dot..]) {
                    out.extend(c);
                }
            }
        }
    }
    if out.is_empty() || out == "." || out == ".." {
        None
    } else {
        Some(out)
    }
}

/// Sanitises a list of components; the result is never empty.
pub(crate) fn sanitize_path<'a>(components: impl IntoIterator<Item = &'a [u8]>) -> Vec<String> {
    let mut out: Vec<String> = components
        .into_iter()
        .filter_map(sanitize_component)
        .collect();
    if out.is_empty() {
        out.push("_".to_owned());
    }
    out
}

/// Renames files whose paths collide (rule 6). `paths[i]` is `None` for files that take no part
/// (pad files). Returns the indices of renamed files.
pub(crate) fn resolve_duplicates(paths: &mut [Option<&mut Vec<String>>]) -> Vec<usize> {
    let key = |p: &[String]| p.join("/").to_ascii_lowercase();
    let mut dirs = HashSet::new();
    for p in paths.iter().flatten() {
        for n in 1..p.len() {
            dirs.insert(key(&p[..n]));
        }
    }
    let mut seen = HashSet::new();
    let mut renamed = Vec::new();
    for (i, p) in paths.iter_mut().enumerate() {
        let Some(p) = p else { continue };
        let k = key(p);
        if !dirs.contains(&k) && seen.insert(k) {
            continue;
        }
        let last = p.len() - 1;
        let file = p[last].clone();
        let (stem, ext) = match file.rfind('.') {
            Some(dot) => file.split_at(dot),
            None => (file.as_str(), ""),
        };
        for n in 1u64.. {
            p[last] = format!("{stem}.{n}{ext}");
            let k = key(p);
            if !dirs.contains(&k) && seen.insert(k) {
                break;
            }
        }
        renamed.push(i);
    }
    renamed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(raw: &[u8]) -> Option<String> {
        sanitize_component(raw)
    }

    // Each expectation below is what libtorrent 2.0.8 produced for the same input.
    #[test]
    fn components_follow_libtorrent() {
        assert_eq!(s(b"").as_deref(), Some("_"));
        assert_eq!(s(b"."), None);
        assert_eq!(s(b".."), None);
        assert_eq!(s(b"/"), None);
        assert_eq!(s(b"\\"), None);
        assert_eq!(s(b"/."), None);
        assert_eq!(s(b"...").as_deref(), Some("..."));
        assert_eq!(s(b"foo/../../../bar").as_deref(), Some("foo......bar"));
        assert_eq!(s(b"\\est2").as_deref(), Some("est2"));
        assert_eq!(s(b"a\0b").as_deref(), Some("ab"));
        assert_eq!(s(b"\0"), None);
        assert_eq!(s(b"\x01a").as_deref(), Some("_a"));
        assert_eq!(s(b"a\xffb").as_deref(), Some("a_b"));
        assert_eq!(s("a\u{202e}b".as_bytes()).as_deref(), Some("ab"));
        assert_eq!(s(b"a:b").as_deref(), Some("a:b"));
        assert_eq!(s(b" a ").as_deref(), Some(" a "));
    }

    #[test]
    fn long_components_are_cut_keeping_short_extensions() {
        let a = |n| "a".repeat(n);
        assert_eq!(s(a(240).as_bytes()), Some(a(240)));
        assert_eq!(s(a(241).as_bytes()), Some(a(240)));
        assert_eq!(
            s(format!("{}.txt", a(300)).as_bytes()),
            Some(format!("{}.txt", a(240)))
        );
        assert_eq!(
            s(format!("{}.{}", a(300), "b".repeat(8)).as_bytes()),
            Some(format!("{}.{}", a(240), "b".repeat(8)))
        );
        assert_eq!(
            s(format!("{}.{}", a(300), "b".repeat(9)).as_bytes()),
            Some(a(240))
        );
        assert_eq!(
            s(format!("{}.x.y", a(245)).as_bytes()),
            Some(format!("{}.y", a(240)))
        );
        assert_eq!(
            s(format!("{}.t/x", a(245)).as_bytes()),
            Some(format!("{}.tx", a(240)))
        );
        // The dot survives the cut: no extension is appended.
        assert_eq!(
            s(format!("{}.txt", a(238)).as_bytes()),
            Some(format!("{}.t", a(238)))
        );
        assert_eq!(s("é".repeat(300).as_bytes()), Some("é".repeat(120)));
        assert_eq!(
            s(format!("{}€€€", a(239)).as_bytes()),
            Some(format!("{}€", a(239)))
        );
    }

    #[test]
    fn paths_never_empty_and_never_escape() {
        assert_eq!(sanitize_path([&b".."[..], b"..", b"bar"]), ["bar"]);
        assert_eq!(sanitize_path([&b"/"[..], b"/", b"bar"]), ["bar"]);
        assert_eq!(sanitize_path([&b"."[..], b"."]), ["_"]);
        assert_eq!(sanitize_path([&b""[..], b""]), ["_", "_"]);
        assert_eq!(sanitize_path([&b"/etc"[..], b"passwd"]), ["etc", "passwd"]);
        assert_eq!(sanitize_path([&b"x"[..], b".."]), ["x"]);
    }

    fn resolve(list: &[&[&str]]) -> Vec<String> {
        let mut paths: Vec<Vec<String>> = list
            .iter()
            .map(|p| p.iter().map(|c| c.to_string()).collect())
            .collect();
        let mut refs: Vec<Option<&mut Vec<String>>> = paths.iter_mut().map(Some).collect();
        resolve_duplicates(&mut refs);
        paths.iter().map(|p| p.join("/")).collect()
    }

    #[test]
    fn duplicates_are_renamed_like_libtorrent() {
        assert_eq!(resolve(&[&["a"], &["a"], &["a"]]), ["a", "a.1", "a.2"]);
        assert_eq!(resolve(&[&["a.txt"], &["A.txt"]]), ["a.txt", "A.1.txt"]);
        assert_eq!(
            resolve(&[&["a.b.c"], &["a.b.c"], &["a.b.1.c"]]),
            ["a.b.c", "a.b.1.c", "a.b.1.1.c"]
        );
        assert_eq!(resolve(&[&["d", "x"], &["d"]]), ["d/x", "d.1"]);
        assert_eq!(resolve(&[&["d"], &["d", "x"]]), ["d.1", "d/x"]);
        assert_eq!(
            resolve(&[&[".hidden"], &[".hidden"]]),
            [".hidden", ".1.hidden"]
        );
        assert_eq!(resolve(&[&["x.1"], &["x"], &["x"]]), ["x.1", "x", "x.2"]);
    }
}
