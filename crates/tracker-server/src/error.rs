//! The error types: [`RequestError`] (a bad announce or scrape, sent back as `failure reason`),
//! [`TorrentError`] (a `.torrent` the tracker cannot host) and [`Error`] (I/O around the tracker).

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Why an announce or scrape was refused. Its `Display` is the `failure reason` sent to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestError {
    /// A required parameter (`info_hash`, `peer_id`, `port`) is absent.
    Missing(&'static str),
    /// A parameter appears twice where only one is allowed.
    Duplicate(&'static str),
    /// A 20-byte parameter decoded to another length.
    BadLength {
        /// The parameter.
        field: &'static str,
        /// How many bytes it decoded to.
        len: usize,
    },
    /// A `%` not followed by two hexadecimal digits.
    BadEncoding(&'static str),
    /// A numeric parameter that is not a number in range.
    BadNumber {
        /// The parameter.
        field: &'static str,
        /// Its value, escaped and shortened for display.
        value: String,
    },
    /// `port=0`.
    PortZero,
    /// An `event` other than `started`, `completed`, `stopped`, `paused` or empty.
    BadEvent(String),
    /// An `ip=` (or forwarded address) that is not an IP address.
    BadIp(String),
    /// The query string is longer than the configured limit.
    QueryTooLong {
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A scrape without any `info_hash`.
    NoInfoHash,
    /// A scrape with more info-hashes than the configured limit.
    TooManyInfoHashes {
        /// How many were sent.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// The tracker only tracks the torrents of its allowed directory and this is not one.
    NotAllowed,
    /// The tracker already tracks its maximum number of torrents.
    TooManyTorrents(usize),
    /// The peer id is already in the swarm at another address, announced with a different `key`.
    KeyMismatch,
    /// Neither the connection nor a trusted header says who the client is.
    NoClientAddress,
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::Missing(field) => write!(f, "missing {field}"),
            RequestError::Duplicate(field) => write!(f, "duplicate {field}"),
            RequestError::BadLength { field, len } => {
                write!(f, "bad {field} length {len} (expected 20 bytes)")
            }
            RequestError::BadEncoding(field) => write!(f, "bad percent-encoding in {field}"),
            RequestError::BadNumber { field, value } => write!(f, "bad {field} `{value}`"),
            RequestError::PortZero => f.write_str("bad port `0`"),
            RequestError::BadEvent(value) => write!(
                f,
                "bad event `{value}` (expected started, completed, stopped, paused or empty)"
            ),
            RequestError::BadIp(value) => write!(f, "bad ip `{value}`"),
            RequestError::QueryTooLong { len, max } => {
                write!(f, "request too long ({len} bytes, limit {max})")
            }
            RequestError::NoInfoHash => f.write_str("scrape needs at least one info_hash"),
            RequestError::TooManyInfoHashes { count, max } => {
                write!(f, "too many info_hash values ({count}, limit {max})")
            }
            RequestError::NotAllowed => {
                f.write_str("torrent not tracked here (not in allowed list)")
            }
            RequestError::TooManyTorrents(max) => {
                write!(f, "tracker full: already tracking {max} torrents")
            }
            RequestError::KeyMismatch => {
                f.write_str("peer_id already in use from another address with a different key")
            }
            RequestError::NoClientAddress => f.write_str("client address unknown"),
        }
    }
}

impl std::error::Error for RequestError {}

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
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::File { source, .. } | Error::Socket { source, .. } => Some(source),
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
