//! The errors of resume files: reading or writing one failed ([`ResumeError`]), its bytes are
//! malformed ([`ResumeDecodeError`], naming the [`ResumeField`]), or it no longer matches the
//! files on disk ([`ResumeMismatch`]).

use std::fmt;
use std::io;
use std::path::PathBuf;

/// A resume file that could not be read or written.
#[derive(Debug)]
#[non_exhaustive]
pub enum ResumeError {
    /// Reading, writing, syncing or renaming failed.
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The file is not valid bencode, or a field is missing or wrong.
    Malformed {
        /// The resume file.
        path: PathBuf,
        /// What is wrong, and where.
        problem: ResumeDecodeError,
    },
}

impl fmt::Display for ResumeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResumeError::Io { path, source } => write!(f, "resume: `{}`: {source}", path.display()),
            ResumeError::Malformed { path, problem } => {
                write!(f, "resume: `{}`: {problem}", path.display())
            }
        }
    }
}

impl std::error::Error for ResumeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ResumeError::Io { source, .. } => Some(source),
            ResumeError::Malformed { problem, .. } => Some(problem),
        }
    }
}

/// Why a resume file cannot be trusted: the caller re-checks the data instead.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResumeMismatch {
    /// It is for another torrent.
    InfoHash,
    /// The piece count differs from the torrent's.
    PieceCount {
        /// Pieces in the torrent.
        expected: u32,
        /// Pieces in the resume file.
        actual: u32,
    },
    /// The file count differs from the torrent's.
    FileCount {
        /// Files in the torrent.
        expected: usize,
        /// Files in the resume file.
        actual: usize,
    },
    /// A file's size changed (or it appeared or vanished).
    Size {
        /// The file, relative to the download directory.
        path: String,
        /// Size recorded (`None`: absent).
        recorded: Option<u64>,
        /// Size now (`None`: absent).
        actual: Option<u64>,
    },
    /// A file was modified after the resume file was written.
    Mtime {
        /// The file, relative to the download directory.
        path: String,
    },
}

impl fmt::Display for ResumeMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let size = |s: &Option<u64>| s.map_or("absent".to_string(), |n| format!("{n} bytes"));
        match self {
            ResumeMismatch::InfoHash => {
                f.write_str("resume file is for another torrent (info-hash differs)")
            }
            ResumeMismatch::PieceCount { expected, actual } => {
                write!(f, "resume file has {actual} pieces, the torrent {expected}")
            }
            ResumeMismatch::FileCount { expected, actual } => {
                write!(f, "resume file has {actual} files, the torrent {expected}")
            }
            ResumeMismatch::Size {
                path,
                recorded,
                actual,
            } => {
                write!(
                    f,
                    "`{path}` is {} now, {} when the resume file was written",
                    size(actual),
                    size(recorded)
                )
            }
            ResumeMismatch::Mtime { path } => {
                write!(f, "`{path}` was modified after the resume file was written")
            }
        }
    }
}

impl std::error::Error for ResumeMismatch {}

/// What is wrong with a resume file's bytes ([`ResumeData::decode`](crate::ResumeData::decode)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResumeDecodeError {
    /// The bytes are not valid bencode; the error has the byte offset.
    Bencode(torrentkit_bencode::Error),
    /// The top level is not a dictionary.
    NotADictionary,
    /// A field is missing.
    Missing {
        /// The field.
        field: ResumeField,
    },
    /// A field has the wrong type or length.
    WrongType {
        /// The field.
        field: ResumeField,
        /// What it should be (`"an integer"`, `"20 bytes"`...).
        expected: &'static str,
    },
    /// An integer field is out of its range.
    OutOfRange {
        /// The field.
        field: ResumeField,
        /// The value found.
        value: i64,
    },
    /// The `version` is not one this code reads (only 1).
    UnsupportedVersion(i64),
    /// The `pieces` bitfield does not fit `piece-count`.
    Pieces(torrentkit_wire::Error),
}

impl fmt::Display for ResumeDecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResumeDecodeError::Bencode(e) => e.fmt(f),
            ResumeDecodeError::NotADictionary => f.write_str("not a dictionary"),
            ResumeDecodeError::Missing { field } => write!(f, "missing {field}"),
            ResumeDecodeError::WrongType { field, expected } => {
                write!(f, "{field} is not {expected}")
            }
            ResumeDecodeError::OutOfRange { field, value } => {
                write!(f, "{field} is out of range: {value}")
            }
            ResumeDecodeError::UnsupportedVersion(v) => write!(f, "unsupported `version` {v}"),
            ResumeDecodeError::Pieces(e) => write!(f, "{}: {e}", ResumeField::Pieces),
        }
    }
}

impl std::error::Error for ResumeDecodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ResumeDecodeError::Bencode(e) => Some(e),
            ResumeDecodeError::Pieces(e) => Some(e),
            _ => None,
        }
    }
}

/// A field of a resume file, as errors name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResumeField {
    /// `version`.
    Version,
    /// `info-hash`.
    InfoHash,
    /// `piece-count`.
    PieceCount,
    /// `pieces`, the verified-piece bitfield.
    Pieces,
    /// `files`, the list of file stamps.
    Files,
    /// `files[i]`, one file's entry.
    File(usize),
    /// `files[i].size`.
    FileSize(usize),
    /// `files[i].mtime`.
    FileMtime(usize),
    /// `files[i].mtime-ns`.
    FileMtimeNanos(usize),
}

impl fmt::Display for ResumeField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResumeField::Version => f.write_str("`version`"),
            ResumeField::InfoHash => f.write_str("`info-hash`"),
            ResumeField::PieceCount => f.write_str("`piece-count`"),
            ResumeField::Pieces => f.write_str("`pieces`"),
            ResumeField::Files => f.write_str("`files`"),
            ResumeField::File(i) => write!(f, "`files[{i}]`"),
            ResumeField::FileSize(i) => write!(f, "`files[{i}].size`"),
            ResumeField::FileMtime(i) => write!(f, "`files[{i}].mtime`"),
            ResumeField::FileMtimeNanos(i) => write!(f, "`files[{i}].mtime-ns`"),
        }
    }
}
