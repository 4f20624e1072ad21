//! [`HttpError`]: why an HTTP exchange failed.

use std::fmt;
use std::io;

use super::UrlError;

/// An HTTP request that did not give a response.
#[derive(Debug)]
#[non_exhaustive]
pub enum HttpError {
    /// The URL cannot be used.
    Url(UrlError),
    /// The request failed: no connection, a TLS certificate that does not verify, a broken
    /// reply; the text names the cause.
    Request {
        /// The URL asked for.
        url: String,
        /// What went wrong, with its causes.
        detail: String,
    },
    /// The reply's body is longer than the caller allows.
    TooLarge {
        /// The URL asked for.
        url: String,
        /// The limit, in bytes.
        limit: usize,
    },
    /// A `--ca-cert` file cannot be used.
    CaCert {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        problem: String,
    },
    /// More redirects than allowed.
    TooManyRedirects(u32),
    /// The whole exchange took longer than its time limit.
    Timeout,
    /// A socket error.
    Io {
        /// What was being done (`resolve`, `connect`, `send`, `receive`).
        op: &'static str,
        /// The underlying error.
        source: io::Error,
    },
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::Url(e) => e.fmt(f),
            HttpError::Request { url, detail } if detail.contains(url.as_str()) => {
                f.write_str(detail)
            }
            HttpError::Request { url, detail } => write!(f, "{url}: {detail}"),
            HttpError::TooLarge { url, limit } => {
                write!(f, "{url}: the reply is larger than the {limit}-byte limit")
            }
            HttpError::CaCert { path, problem } => {
                write!(f, "--ca-cert {}: {problem}", path.display())
            }
            HttpError::TooManyRedirects(n) => write!(f, "more than {n} redirects"),
            HttpError::Timeout => f.write_str("no reply (timed out)"),
            HttpError::Io { op, source } => write!(f, "{op}: {source}"),
        }
    }
}

impl std::error::Error for HttpError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            HttpError::Url(e) => Some(e),
            HttpError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<UrlError> for HttpError {
    fn from(e: UrlError) -> Self {
        HttpError::Url(e)
    }
}
