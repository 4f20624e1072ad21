//! Consistency of hybrid torrents: the v1 `files` list must describe the same files as the v2
//! `file tree`, each starting on a piece boundary (BEP 52), as libtorrent requires.

use torrentkit_bencode::{Dict, Value};

use crate::error::{Error, Result};
use crate::info::FileEntry;
use crate::path::sanitize_path;

/// One file of the v2 tree: sanitised path below the torrent's top directory, and length.
struct TreeFile {
    path: Vec<String>,
    length: u64,
}

/// Checks a hybrid `info` dictionary. `files` hold v1 paths relative to the top directory
/// (not yet prefixed with the name) and their offsets.
pub(crate) fn check(
    info: &Dict<'_>,
    raw_name: &[u8],
    files: &[FileEntry],
    multi_file: bool,
    piece_length: u64,
) -> Result<()> {
    let tree = info
        .get(b"file tree")
        .and_then(Value::as_dict)
        .ok_or_else(|| Error::invalid("info.file tree", "not a dictionary"))?;
    let mut v2 = Vec::new();
    walk(tree, &mut Vec::new(), &mut v2)?;

    let v1: Vec<&FileEntry> = files.iter().filter(|f| !f.pad).collect();
    if v1.len() != v2.len() {
        return Err(mismatch(format!(
            "{} v1 files but {} v2 files",
            v1.len(),
            v2.len()
        )));
    }
    for (a, b) in v1.iter().zip(&v2) {
        let v1_path = if multi_file {
            a.path.clone()
        } else {
            sanitize_path([raw_name])
        };
        if v1_path != b.path || a.length != b.length {
            return Err(mismatch(format!(
                "v1 file {:?} ({} bytes) against v2 file {:?} ({} bytes)",
                v1_path.join("/"),
                a.length,
                b.path.join("/"),
                b.length
            )));
        }
        if a.length > 0 && a.offset % piece_length != 0 {
            return Err(mismatch(format!(
                "v1 file {:?} starts at byte {}, not on a piece boundary",
                v1_path.join("/"),
                a.offset
            )));
        }
    }
    Ok(())
}

fn walk<'a>(dir: &Dict<'a>, prefix: &mut Vec<&'a [u8]>, out: &mut Vec<TreeFile>) -> Result<()> {
    for (key, value) in dir.iter() {
        let field = || {
            let mut parts: Vec<String> = prefix
                .iter()
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .collect();
            parts.push(String::from_utf8_lossy(key).into_owned());
            format!("info.file tree/{}", parts.join("/"))
        };
        let node = value
            .as_dict()
            .ok_or_else(|| Error::invalid(field(), "failed to parse files: not a dictionary"))?;
        if key.is_empty() {
            if prefix.is_empty() {
                return Err(Error::invalid(
                    field(),
                    "failed to parse files: a file has no name",
                ));
            }
            let length = node
                .get(b"length")
                .and_then(Value::as_int)
                .filter(|&l| l >= 0)
                .ok_or_else(|| Error::invalid(field(), "failed to parse files: bad length"))?;
            out.push(TreeFile {
                path: sanitize_path(prefix.iter().copied()),
                length: length as u64,
            });
        } else {
            prefix.push(key);
            walk(node, prefix, out)?;
            prefix.pop();
        }
    }
    Ok(())
}

fn mismatch(reason: String) -> Error {
    Error::HybridMismatch { reason }
}
