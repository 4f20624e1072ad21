//! The error types: [`TorrentError`] (a `.torrent` the tracker cannot host) and [`Error`] (I/O
//! around the tracker). [`RequestError`] (a bad announce or scrape, sent back as
//! `failure reason`) is torrentkit-tracker-proto's, re-exported here.

use std::fmt;
use std::io;
use std::path::PathBuf;

pub(crate) use torrentkit_tracker_proto::RequestError;

/// Why a `.torrent` file cannot be hosted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TorrentError {
    /// It is not valid bencode.
    Bencode(torrentkit_bencode::Error),
    /// It has no `info` dictionary.
    NoInfo,
    /// torrentkit-metainfo cannot read it as a torrent a client could use; the text names the
    /// field at fault (`invalid `info.length`: ...`).
    Invalid(String),
    /// It is larger than the configured limit.
    TooLarge {
        /// Its size in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
}

impl fmt::Display for TorrentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TorrentError::Bencode(e) => write!(f, "not a torrent file: {e}"),
            TorrentError::NoInfo => f.write_str("not a torrent file: no `info` dictionary"),
            TorrentError::Invalid(reason) => write!(f, "not a usable torrent: {reason}"),
            TorrentError::TooLarge { len, max } => {
                write!(f, "torrent file too large ({len} bytes, limit {max})")
            }
        }
    }
}

impl std::error::Error for TorrentError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TorrentError::Bencode(e) => Some(e),
            _ => None,
        }
    }
}

/// An I/O failure around the tracker: the dfile, the allowed directory, the sockets.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a file failed.
    File {
        /// The file or directory.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// The cause.
        source: io::Error,
    },
    /// Two settings that cannot be used together.
    Conflict(&'static str),
    /// A socket operation failed.
    Socket {
        /// What was being done.
        action: &'static str,
        /// The cause.
        source: io::Error,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::File {
                path,
                action,
                source,
            } => write!(f, "{action} {}: {source}", path.display()),
            Error::Socket { action, source } => write!(f, "{action}: {source}"),
            Error::Conflict(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::File { source, .. } | Error::Socket { source, .. } => Some(source),
            Error::Conflict(_) => None,
        }
    }
}

impl Error {
    pub(crate) fn file(path: impl Into<PathBuf>, action: &'static str, source: io::Error) -> Self {
        Error::File {
            path: path.into(),
            action,
            source,
        }
    }
}
