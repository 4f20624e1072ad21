//! Consistency of hybrid torrents: the v1 `files` list must describe the same files as the v2
//! `file tree`, in the same order, each starting on a piece boundary (BEP 52), as libtorrent
//! requires. Errors name the v1 field and the v2 path that disagree.

use crate::error::{Error, Result};
use crate::filetree::TreeFile;
use crate::info::FileEntry;
use crate::path::sanitize_path;

/// Checks a hybrid torrent's halves against each other and gives each v1 file its v2
/// `pieces root`. `files` hold v1 paths relative to the top directory (not yet prefixed with the
/// name) and their offsets.
pub(crate) fn check(
    tree: &[TreeFile],
    raw_name: &[u8],
    files: &mut [FileEntry],
    multi_file: bool,
    piece_length: u64,
) -> Result<()> {
    let real = files.iter().filter(|f| !f.pad).count();
    if real != tree.len() {
        return Err(mismatch(format!(
            "{real} v1 files (`info.files`) but {} v2 files (`info.file tree`)",
            tree.len()
        )));
    }
    let mut v2 = tree.iter();
    for (i, a) in files.iter_mut().enumerate() {
        if a.pad {
            continue;
        }
        let Some(b) = v2.next() else { break };
        let (field, v1_path) = if multi_file {
            (format!("info.files[{i}]"), a.path.clone())
        } else {
            ("info.name".to_owned(), sanitize_path([raw_name]))
        };
        if v1_path != b.path || a.length != b.length {
            return Err(mismatch(format!(
                "`{field}` is {:?} ({} bytes) but `{}` has {} bytes",
                v1_path.join("/"),
                a.length,
                b.field,
                b.length
            )));
        }
        if a.length > 0 && a.offset % piece_length != 0 {
            return Err(mismatch(format!(
                "`{field}` ({:?}) starts at byte {}, not on a piece boundary",
                v1_path.join("/"),
                a.offset
            )));
        }
        a.pieces_root = b.pieces_root;
    }
    Ok(())
}

fn mismatch(reason: String) -> Error {
    Error::HybridMismatch { reason }
}
