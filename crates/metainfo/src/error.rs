//! The error type of reading, creating and verifying torrents, naming the field or file at fault.

use std::fmt;
use std::path::PathBuf;

/// Why a torrent could not be read, created, edited or checked.
///
/// Messages are lower-case and name the field (`info.files[3].length`) or the file on disk.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The bytes are not valid bencode (the inner error carries the byte offset).
    Bencode(torrentkit_bencode::Error),
    /// The top-level value is not a dictionary.
    NotADictionary,
    /// The `info` key is missing or is not a dictionary.
    MissingInfo,
    /// A required field is missing or has the wrong type.
    Missing {
        /// The field, such as `info.name` or `info.files[2].path`.
        field: String,
    },
    /// A field is present but its value is not acceptable.
    Invalid {
        /// The field, such as `info.piece length`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The multi-file `files` list is empty.
    NoFiles,
    /// The total length is zero, or a length is negative or too large.
    InvalidLength {
        /// The field holding the bad length.
        field: String,
        /// The length found.
        length: i64,
    },
    /// More pieces than any client accepts (more than `i32::MAX / 20`).
    TooManyPieces {
        /// The number of pieces the lengths imply.
        pieces: u64,
    },
    /// The `pieces` string does not hold one 20-byte hash per piece.
    PieceCount {
        /// Pieces implied by the total length and piece length.
        expected: u64,
        /// Length of the `pieces` string in bytes.
        found_bytes: u64,
    },
    /// A hybrid torrent whose v1 file list disagrees with its v2 file tree.
    HybridMismatch {
        /// What disagrees.
        reason: String,
    },
    /// A magnet link that cannot be used.
    Magnet {
        /// Why.
        reason: String,
    },
    /// A request to create or edit a torrent that cannot be honoured.
    Build {
        /// Why.
        reason: String,
    },
    /// Reading or writing a file failed.
    Io {
        /// The file.
        path: PathBuf,
        /// The operating-system error.
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn missing(field: impl Into<String>) -> Self {
        Error::Missing {
            field: field.into(),
        }
    }

    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn magnet(reason: impl Into<String>) -> Self {
        Error::Magnet {
            reason: reason.into(),
        }
    }

    pub(crate) fn build(reason: impl Into<String>) -> Self {
        Error::Build {
            reason: reason.into(),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Bencode(e) => write!(f, "invalid bencoding: {e}"),
            Error::NotADictionary => f.write_str("torrent file is not a dictionary"),
            Error::MissingInfo => f.write_str("missing or invalid `info` dictionary"),
            Error::Missing { field } => write!(f, "missing or invalid `{field}`"),
            Error::Invalid { field, reason } => write!(f, "invalid `{field}`: {reason}"),
            Error::NoFiles => f.write_str("no files in torrent (`info.files` is empty)"),
            Error::InvalidLength { field, length } => {
                write!(f, "invalid length of torrent: `{field}` is {length}")
            }
            Error::TooManyPieces { pieces } => {
                write!(f, "too many pieces in torrent ({pieces})")
            }
            Error::PieceCount {
                expected,
                found_bytes,
            } => write!(
                f,
                "incorrect number of piece hashes: the lengths need {expected} pieces \
                 ({} bytes of `info.pieces`) but it has {found_bytes} bytes",
                expected.saturating_mul(20)
            ),
            Error::HybridMismatch { reason } => {
                write!(f, "the v1 and v2 file metadata does not match: {reason}")
            }
            Error::Magnet { reason } => write!(f, "invalid magnet link: {reason}"),
            Error::Build { reason } => f.write_str(reason),
            Error::Io { path, source } => write!(f, "{}: {source}", path.display()),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        // The messages already include the inner errors' text; a source would repeat it.
        None
    }
}

impl From<torrentkit_bencode::Error> for Error {
    fn from(e: torrentkit_bencode::Error) -> Self {
        Error::Bencode(e)
    }
}

/// Shorthand for results in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
