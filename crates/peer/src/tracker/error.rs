//! The tracker client's error type.

use std::fmt;
use std::io;

/// An announce or scrape that did not succeed.
#[derive(Debug)]
#[non_exhaustive]
pub enum TrackerError {
    /// The tracker URL cannot be used.
    Url {
        /// The URL.
        url: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The tracker refused: its `failure reason` (HTTP) or error message (UDP).
    Failure(String),
    /// The reply is not what the protocol says.
    Malformed(String),
    /// An HTTP status other than 200.
    HttpStatus {
        /// The status code.
        status: u16,
        /// The reason phrase.
        reason: String,
    },
    /// No reply in time (after all UDP retransmissions, or the HTTP timeout).
    Timeout,
    /// A socket error.
    Io {
        /// What was being done (`connect`, `send`, `receive`, `resolve`).
        op: &'static str,
        /// The underlying error.
        source: io::Error,
    },
}

impl fmt::Display for TrackerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrackerError::Url { url, problem } => write!(f, "tracker: bad URL `{url}`: {problem}"),
            TrackerError::Failure(reason) => write!(f, "tracker: failure: {reason}"),
            TrackerError::Malformed(problem) => write!(f, "tracker: malformed reply: {problem}"),
            TrackerError::HttpStatus { status, reason } => {
                write!(f, "tracker: HTTP {status} {reason}")
            }
            TrackerError::Timeout => f.write_str("tracker: no reply (timed out)"),
            TrackerError::Io { op, source } => write!(f, "tracker: {op}: {source}"),
        }
    }
}

impl std::error::Error for TrackerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TrackerError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
