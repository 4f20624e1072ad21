//! The BEP 52 `file tree`: nested dictionaries whose leaves (`""` keys) describe each file, with
//! its length, `pieces root` and BEP 47 attributes, checked as libtorrent checks them.

use torrentkit_bencode::{Dict, Value};

use crate::error::{Error, Result};
use crate::info::MAX_LENGTH;
use crate::merkle::Hash256;
use crate::path::sanitize_path;

/// One file of a v2 tree, in tree order (keys sorted, depth first).
#[derive(Debug, Clone)]
pub(crate) struct TreeFile {
    /// `info.file tree/dir/name`, for error messages.
    pub(crate) field: String,
    /// The sanitised path below the torrent's top directory.
    pub(crate) path: Vec<String>,
    /// Length in bytes (0 for symlinks).
    pub(crate) length: u64,
    /// The Merkle root of the file's 16 KiB blocks; `None` for empty files and symlinks.
    pub(crate) pieces_root: Option<Hash256>,
    /// BEP 47 `x`.
    pub(crate) executable: bool,
    /// BEP 47 `h`.
    pub(crate) hidden: bool,
    /// BEP 47 `l` with a `symlink path`: the sanitised target.
    pub(crate) symlink: Option<Vec<String>>,
}

/// Reads the `file tree` of an `info` dictionary.
pub(crate) fn parse(info: &Dict<'_>) -> Result<Vec<TreeFile>> {
    let tree = info
        .get(b"file tree")
        .ok_or_else(|| Error::missing("info.file tree"))?
        .as_dict()
        .ok_or_else(|| Error::invalid("info.file tree", "not a dictionary"))?;
    let mut out = Vec::new();
    walk(tree, &mut Vec::new(), &mut out)?;
    if out.is_empty() {
        return Err(Error::NoFiles);
    }
    Ok(out)
}

fn walk<'a>(dir: &Dict<'a>, prefix: &mut Vec<&'a [u8]>, out: &mut Vec<TreeFile>) -> Result<()> {
    // The tree's order is the files' order (and so the data layout): libtorrent refuses a tree
    // whose keys are not sorted rather than guess it.
    if !dir.is_sorted() {
        let dir_name: Vec<String> = prefix
            .iter()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect();
        return Err(Error::invalid(
            format!("info.file tree/{}", dir_name.join("/")),
            "invalid bencoding: the keys of a v2 file tree must be sorted",
        ));
    }
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
            let path: Vec<String> = prefix
                .iter()
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .collect();
            out.push(file(
                node,
                prefix,
                format!("info.file tree/{}", path.join("/")),
            )?);
        } else {
            prefix.push(key);
            walk(node, prefix, out)?;
            prefix.pop();
        }
    }
    Ok(())
}

/// One leaf: `{length, pieces root, attr, symlink path}`.
fn file(node: &Dict<'_>, path: &[&[u8]], field: String) -> Result<TreeFile> {
    let length = match node.get(b"length") {
        Some(Value::Int(n)) if *n >= 0 && (*n as u64) <= MAX_LENGTH => *n as u64,
        Some(Value::Int(n)) => {
            return Err(Error::InvalidLength {
                field: format!("{field}.length"),
                length: *n,
            })
        }
        _ => {
            return Err(Error::invalid(
                format!("{field}.length"),
                "failed to parse files: missing or not an integer",
            ))
        }
    };
    let attr = node.get(b"attr").and_then(Value::as_bytes).unwrap_or(b"");
    if attr.contains(&b'p') {
        return Err(Error::invalid(
            format!("{field}.attr"),
            "a file in the v2 metadata has the pad attribute set",
        ));
    }
    let symlink = if attr.contains(&b'l') {
        node.get(b"symlink path")
            .and_then(Value::as_list)
            .and_then(|items| {
                items
                    .iter()
                    .map(Value::as_bytes)
                    .collect::<Option<Vec<_>>>()
            })
            .map(sanitize_path)
    } else {
        None
    };
    let length = if symlink.is_some() { 0 } else { length };
    let pieces_root = if length == 0 {
        None
    } else {
        match node.get(b"pieces root").and_then(Value::as_bytes) {
            Some(r) if r.len() == 32 && r.iter().any(|&b| b != 0) => {
                let mut h = [0u8; 32];
                h.copy_from_slice(r);
                Some(h)
            }
            _ => {
                return Err(Error::invalid(
                    format!("{field}.pieces root"),
                    "a v2 file entry has no root hash (it must be 32 bytes, not all zero)",
                ))
            }
        }
    };
    Ok(TreeFile {
        field,
        path: sanitize_path(path.iter().copied()),
        length,
        pieces_root,
        executable: attr.contains(&b'x'),
        hidden: attr.contains(&b'h'),
        symlink,
    })
}
