//! The errors of the protocol: [`RequestError`] (a request a tracker refuses, its message the
//! `failure reason`) and [`ReplyError`] (a tracker reply a client cannot use).

use std::fmt;

/// Why a tracker refuses an announce or scrape: the request is malformed (the parsers here), or
/// the tracker will not take it (the last four variants, which a tracker implementation returns).
/// Its `Display` is the `failure reason` sent to the client, so every message names the problem.
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
    /// A UDP announce whose event number is not one of BEP 15's four.
    BadUdpEvent(u32),
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
    /// The peer id is already in the swarm at another IP address, and the announce does not carry
    /// the `key` it was stored with (a peer stored without a key cannot be moved or stopped from
    /// another IP at all).
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
            RequestError::BadUdpEvent(n) => write!(f, "bad event {n} (expected 0 to 3)"),
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
                f.write_str("peer_id already in use from another address without its key")
            }
            RequestError::NoClientAddress => f.write_str("client address unknown"),
        }
    }
}

impl std::error::Error for RequestError {}

/// Why a client cannot use a tracker's reply.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReplyError {
    /// The tracker refused: its `failure reason` (HTTP) or error message (UDP).
    Failure(String),
    /// The reply is not what the protocol says; the text names what is wrong.
    Malformed(String),
}

impl fmt::Display for ReplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplyError::Failure(reason) => write!(f, "failure: {reason}"),
            ReplyError::Malformed(problem) => write!(f, "malformed reply: {problem}"),
        }
    }
}

impl std::error::Error for ReplyError {}
