//! The tokio side of the HTTP client: connect, send, read until the response is complete,
//! follow redirects, all within one time limit.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{lookup_host, TcpStream};

use super::{parse_response, request_head, HttpError, Request, Response, Scheme, Url};

/// Limits of one [`send`].
#[derive(Debug, Clone)]
pub struct Options {
    /// Time limit for the whole exchange (connect, request, reply, redirects).
    pub timeout: Duration,
    /// Redirects (301, 302, 303, 307, 308 with a `Location`) followed with the same request;
    /// 0 returns the redirect itself. Requests with a body should use 0.
    pub max_redirects: u32,
    /// The largest response accepted (headers and body).
    pub max_response: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            timeout: Duration::from_secs(30),
            max_redirects: 3,
            max_response: 4 << 20,
        }
    }
}

/// Sends `req` and returns the response (any status: the caller decides what a 404 means).
/// `https://` URLs are refused with [`HttpError::Https`].
pub async fn send(req: &Request<'_>, options: &Options) -> Result<Response, HttpError> {
    let work = async {
        let mut url = Url::parse(req.url)?;
        let mut target = url.target.clone();
        for _ in 0..=options.max_redirects {
            if url.scheme != Scheme::Http {
                return Err(HttpError::Https {
                    url: url.to_string(),
                });
            }
            let resp = exchange(req, &url, &target, options.max_response).await?;
            match (resp.status, &resp.location) {
                (301 | 302 | 303 | 307 | 308, Some(loc)) if options.max_redirects > 0 => {
                    if loc.starts_with('/') {
                        target = loc.clone();
                    } else {
                        url = Url::parse(loc)?;
                        target = url.target.clone();
                    }
                }
                _ => return Ok(resp),
            }
        }
        Err(HttpError::TooManyRedirects(options.max_redirects))
    };
    tokio::time::timeout(options.timeout, work)
        .await
        .map_err(|_| HttpError::Timeout)?
}

/// [`send`] for callers outside async code (such as the `bt` commands that fetch one file):
/// runs it on a small runtime of its own. Called from inside a tokio runtime, it refuses with
/// an error rather than block that runtime's thread.
pub fn send_blocking(req: &Request<'_>, options: &Options) -> Result<Response, HttpError> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(HttpError::Io {
            op: "start a runtime",
            source: std::io::Error::other("send_blocking called inside a tokio runtime; use send"),
        });
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| HttpError::Io {
            op: "start a runtime",
            source,
        })?;
    runtime.block_on(send(req, options))
}

/// The first address of `url`'s host.
pub(crate) async fn resolve(url: &Url) -> Result<std::net::SocketAddr, HttpError> {
    lookup_host(url.authority())
        .await
        .map_err(|source| HttpError::Io {
            op: "resolve",
            source,
        })?
        .next()
        .ok_or_else(|| {
            HttpError::Url(super::UrlError {
                url: url.to_string(),
                problem: "the host has no address".into(),
            })
        })
}

/// One request and its response on a fresh connection.
async fn exchange(
    req: &Request<'_>,
    url: &Url,
    target: &str,
    max_response: usize,
) -> Result<Response, HttpError> {
    let addr = resolve(url).await?;
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|source| HttpError::Io {
            op: "connect",
            source,
        })?;
    let head = request_head(req.method, url, target, req.headers, req.body.len());
    let sent = async {
        stream.write_all(&head).await?;
        stream.write_all(req.body).await
    };
    sent.await
        .map_err(|source| HttpError::Io { op: "send", source })?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|source| HttpError::Io {
                op: "receive",
                source,
            })?;
        buf.extend_from_slice(&chunk[..n]);
        if let Some(resp) = parse_response(&buf, n == 0, max_response)? {
            return Ok(resp);
        }
    }
}
