//! The one atomic file writer, shared by the dfile saves and published torrents:
//! torrentkit-metainfo's (temporary file beside the target, fsync, rename, clean-up on failure),
//! with its errors in this crate's [`Error`].

use std::path::Path;

use crate::error::Error;

/// Writes `bytes` to `path` so that a crash or a reader sees either the old file or the whole new
/// one: a uniquely named temporary file beside it, flushed to disk, renamed over `path`, then the
/// directory flushed; the temporary file is removed if anything fails.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    torrentkit_metainfo::write_atomic(path, bytes).map_err(|e| match e {
        // The path is the temporary file, or `path` when the rename failed.
        torrentkit_metainfo::Error::Io { path, source } => Error::file(path, "creating", source),
        // The writer fails only with `Io`; anything else still names the file.
        other => Error::file(path, "creating", std::io::Error::other(other.to_string())),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::path::PathBuf;

    /// A fresh scratch directory for the tests of this crate that need files.
    pub(crate) fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tk-tracker-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn names(dir: &Path) -> Vec<std::ffi::OsString> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect()
    }

    #[test]
    fn replaces_the_file_and_leaves_nothing_beside_it() {
        let dir = scratch("files");
        let path = dir.join("state");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(names(&dir), ["state"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Regression: the old writer used a fixed `PATH.tmp` and left it behind when a step failed.
    #[test]
    fn a_failed_write_names_the_file_and_leaves_no_temporary_file() {
        let dir = scratch("files-fail");
        // A directory where the file should go: the rename over it fails.
        std::fs::create_dir(dir.join("state")).unwrap();
        let err = write_atomic(&dir.join("state"), b"x")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("creating "), "{err}");
        assert!(err.contains("state"), "{err}");
        assert_eq!(names(&dir), ["state"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
