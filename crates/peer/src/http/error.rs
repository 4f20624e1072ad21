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
    /// An `https://` URL (also as a redirect target): the built-in client has no TLS.
    Https {
        /// The URL.
        url: String,
    },
    /// The reply is not HTTP/1.x as it should be; the text names the problem.
    Malformed(String),
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
            HttpError::Https { url } => write!(
                f,
                "{url}: https:// needs TLS, which the built-in HTTP client does not have"
            ),
            HttpError::Malformed(problem) => write!(f, "HTTP: {problem}"),
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
