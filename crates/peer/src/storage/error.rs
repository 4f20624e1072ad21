//! The storage error type: every variant names the file or range involved.

use std::fmt;
use std::io;
use std::path::PathBuf;

use super::path::PathProblem;

/// A storage operation that failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum StorageError {
    /// The range does not lie inside one piece of the torrent.
    OutOfRange {
        /// The piece asked for.
        piece: u32,
        /// The offset inside it.
        offset: u32,
        /// The length asked for.
        len: usize,
    },
    /// A path component is unsafe.
    UnsafePath {
        /// The torrent path, joined with `/`.
        path: String,
        /// What is wrong.
        problem: PathProblem,
    },
    /// An existing directory on the way, or the file itself, is a symlink; it is not followed.
    Symlink {
        /// The symlink.
        path: PathBuf,
    },
    /// An existing path on the way is a file where a directory is needed.
    NotADirectory {
        /// The offending path.
        path: PathBuf,
    },
    /// The disk is full (`ENOSPC`) or the quota exceeded.
    DiskFull {
        /// The file being written.
        path: PathBuf,
    },
    /// The file to read does not exist (yet).
    Missing {
        /// The missing file.
        path: PathBuf,
    },
    /// The file is shorter than the torrent says.
    Truncated {
        /// The short file.
        path: PathBuf,
    },
    /// Any other I/O error.
    Io {
        /// What was being done (`open`, `read`, `write`, `allocate`, `sync`).
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A backend other than files (a database, say) failed: what it was doing and why. Backends
    /// outside this crate report their own errors through it.
    Backend {
        /// The backend and what it was doing: `sqlite: write piece 3`.
        what: String,
        /// The backend's error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl StorageError {
    /// Classifies an I/O error on `path` during `op`.
    pub(crate) fn from_io(op: &'static str, path: PathBuf, source: io::Error) -> Self {
        match source.raw_os_error() {
            Some(libc::ENOSPC) | Some(libc::EDQUOT) => return StorageError::DiskFull { path },
            Some(libc::ELOOP) => return StorageError::Symlink { path },
            Some(libc::ENOTDIR) => return StorageError::NotADirectory { path },
            _ => {}
        }
        match source.kind() {
            io::ErrorKind::StorageFull => StorageError::DiskFull { path },
            io::ErrorKind::NotFound if op == "open" => StorageError::Missing { path },
            io::ErrorKind::UnexpectedEof => StorageError::Truncated { path },
            _ => StorageError::Io { op, path, source },
        }
    }

    /// Whether this error means "the data is not there" rather than a failure: a missing or
    /// truncated file, which a re-check treats as pieces not yet downloaded.
    pub fn is_absent(&self) -> bool {
        matches!(
            self,
            StorageError::Missing { .. } | StorageError::Truncated { .. }
        )
    }
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StorageError::OutOfRange { piece, offset, len } => {
                write!(f, "storage: {len} bytes at offset {offset} are outside piece {piece}")
            }
            StorageError::UnsafePath { path, problem } => {
                write!(f, "storage: unsafe path `{path}`: {problem}")
            }
            StorageError::Symlink { path } => write!(
                f,
                "storage: refusing to follow symlink `{}` (it could lead outside the download directory)",
                path.display()
            ),
            StorageError::NotADirectory { path } => {
                write!(f, "storage: `{}` is not a directory", path.display())
            }
            StorageError::DiskFull { path } => {
                write!(f, "storage: no space left on device writing `{}`", path.display())
            }
            StorageError::Missing { path } => write!(f, "storage: `{}` does not exist", path.display()),
            StorageError::Truncated { path } => {
                write!(f, "storage: `{}` is shorter than the torrent says", path.display())
            }
            StorageError::Io { op, path, source } => {
                write!(f, "storage: {op} `{}`: {source}", path.display())
            }
            StorageError::Backend { what, source } => write!(f, "storage: {what}: {source}"),
        }
    }
}

impl std::error::Error for StorageError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StorageError::Io { source, .. } => Some(source),
            StorageError::Backend { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enospc_is_a_clear_disk_full_error_naming_the_file() {
        let e = StorageError::from_io(
            "write",
            "/dl/movie.mkv".into(),
            io::Error::from_raw_os_error(libc::ENOSPC),
        );
        assert!(matches!(e, StorageError::DiskFull { .. }));
        assert_eq!(
            e.to_string(),
            "storage: no space left on device writing `/dl/movie.mkv`"
        );
        let e = StorageError::from_io(
            "open",
            "/dl/x".into(),
            io::Error::from(io::ErrorKind::NotFound),
        );
        assert!(e.is_absent());
        let e = StorageError::from_io(
            "write",
            "/dl/x".into(),
            io::Error::from(io::ErrorKind::PermissionDenied),
        );
        assert!(e.to_string().starts_with("storage: write `/dl/x`: "), "{e}");
    }
}
