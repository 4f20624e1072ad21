//! The tracker client's error type.

use std::fmt;
use std::io;

use torrentkit_tracker_proto::{PacketError, ReplyError};

use crate::http::{HttpError, UrlError};

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
    /// The HTTP(S) request failed: no connection, a certificate that does not verify, a
    /// broken reply; the text names the URL and the cause.
    Request(String),
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
            TrackerError::Request(detail) => write!(f, "tracker: {detail}"),
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

impl From<UrlError> for TrackerError {
    fn from(e: UrlError) -> Self {
        TrackerError::Url {
            url: e.url,
            problem: e.problem,
        }
    }
}

impl From<ReplyError> for TrackerError {
    fn from(e: ReplyError) -> Self {
        match e {
            ReplyError::Failure(reason) => TrackerError::Failure(reason),
            ReplyError::Malformed(problem) => TrackerError::Malformed(problem),
            other => TrackerError::Malformed(other.to_string()),
        }
    }
}

impl From<PacketError> for TrackerError {
    fn from(e: PacketError) -> Self {
        TrackerError::Malformed(e.to_string())
    }
}

impl From<HttpError> for TrackerError {
    fn from(e: HttpError) -> Self {
        match e {
            HttpError::Url(e) => e.into(),
            HttpError::Timeout => TrackerError::Timeout,
            e @ HttpError::Request { .. } => TrackerError::Request(e.to_string()),
            HttpError::Io { op, source } => TrackerError::Io { op, source },
            other => TrackerError::Malformed(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use torrentkit_tracker_proto::AnnounceResponse;

    #[test]
    fn reply_errors_keep_their_kind_under_the_tracker_prefix() {
        let err: TrackerError = AnnounceResponse::parse(b"d14:failure reason12:unregisterede")
            .unwrap_err()
            .into();
        assert_eq!(err.to_string(), "tracker: failure: unregistered");
        let err: TrackerError = AnnounceResponse::parse(b"d5:peers0:e").unwrap_err().into();
        assert_eq!(err.to_string(), "tracker: malformed reply: no `interval`");
        let err: TrackerError = HttpError::TooLarge {
            url: "https://t/a".into(),
            limit: 4,
        }
        .into();
        assert_eq!(
            err.to_string(),
            "tracker: malformed reply: https://t/a: the reply is larger than the 4-byte limit"
        );
    }
}
