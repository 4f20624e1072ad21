//! The tokio side of the HTTP client, on reqwest (rustls with the `ring` provider): HTTPS with
//! the system's root certificates plus any `--ca-cert` files, gzip, `HTTP(S)_PROXY`/`NO_PROXY`,
//! a connect timeout and a total one, bounded redirects and a bounded body.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use super::{HttpError, Request, Response};

/// Limits of one [`send`].
#[derive(Debug, Clone)]
pub struct Options {
    /// Time limit for the whole exchange (connect, request, reply, redirects).
    pub timeout: Duration,
    /// Redirects (301, 302, 303, 307, 308 with a `Location`) followed with the same request;
    /// 0 returns the redirect itself. Requests with a body should use 0.
    pub max_redirects: u32,
    /// The largest body accepted (after gzip is undone); a longer one is
    /// [`HttpError::TooLarge`].
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

/// How the process's HTTP client is built: the trust roots and the connect timeout.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// PEM files of extra certificate authorities trusted beside the system's (`--ca-cert`).
    pub ca_certs: Vec<PathBuf>,
    /// Time limit for the TCP connect and TLS handshake of one connection.
    pub connect_timeout: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            ca_certs: Vec::new(),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// A configured client; cheap to clone (connections are pooled inside).
#[derive(Debug, Clone)]
pub struct Client {
    inner: reqwest::Client,
}

/// The process's configuration and the client [`send`] uses, replaced by [`configure`].
static DEFAULT: RwLock<Option<(Arc<ClientConfig>, Client)>> = RwLock::new(None);

/// Makes `config` the one every later [`send`] (trackers, `.torrent` downloads) and every web
/// seed uses; fails, changing nothing, when a CA file cannot be read.
pub fn configure(config: ClientConfig) -> Result<(), HttpError> {
    let client = Client::build(&config, false)?;
    *DEFAULT.write().unwrap_or_else(|e| e.into_inner()) = Some((Arc::new(config), client));
    Ok(())
}

/// The configuration [`configure`] set (the default one before that).
pub fn current_config() -> ClientConfig {
    DEFAULT
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
        .map(|(c, _)| ClientConfig::clone(c))
        .unwrap_or_default()
}

/// The client [`send`] uses, built on first use.
fn shared() -> Result<Client, HttpError> {
    if let Some((_, c)) = DEFAULT.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
        return Ok(c.clone());
    }
    configure(ClientConfig::default())?;
    shared()
}

impl Client {
    /// A client trusting the system's roots and `config.ca_certs`, keeping idle connections
    /// open for reuse (for a long-lived caller such as a web seed).
    pub fn new(config: &ClientConfig) -> Result<Client, HttpError> {
        Client::build(config, true)
    }

    /// The client; `pooled` keeps idle connections. The shared one does not: `send_blocking`
    /// runs each request on a runtime of its own, and a pooled connection dies with its runtime.
    fn build(config: &ClientConfig, pooled: bool) -> Result<Client, HttpError> {
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .user_agent(concat!("torrentkit/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(config.connect_timeout)
            // Redirects are followed by `send`, counted against the caller's limit.
            .redirect(reqwest::redirect::Policy::none());
        if !pooled {
            builder = builder.pool_max_idle_per_host(0);
        }
        for path in &config.ca_certs {
            let pem = std::fs::read(path).map_err(|e| HttpError::CaCert {
                path: path.clone(),
                problem: e.to_string(),
            })?;
            let certs =
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| HttpError::CaCert {
                    path: path.clone(),
                    problem: e.to_string(),
                })?;
            if certs.is_empty() {
                return Err(HttpError::CaCert {
                    path: path.clone(),
                    problem: "no PEM certificate in it".into(),
                });
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let inner = builder.build().map_err(|e| HttpError::Request {
            url: String::new(),
            detail: chain(&e),
        })?;
        Ok(Client { inner })
    }

    /// Sends `req` and returns the response (any status: the caller decides what a 404 means).
    pub async fn send(&self, req: &Request<'_>, options: &Options) -> Result<Response, HttpError> {
        self.send_expecting(req, options, None).await
    }

    /// [`send`](Self::send), but a final reply whose status is not `want` comes back without
    /// its body (a web seed's range request answered `200` with a whole file is not read).
    pub async fn send_expecting(
        &self,
        req: &Request<'_>,
        options: &Options,
        want: Option<u16>,
    ) -> Result<Response, HttpError> {
        let work = async {
            let mut url = req.url.to_string();
            for _ in 0..=options.max_redirects {
                let resp = self.exchange(req, &url, options.max_response, want).await?;
                match (resp.status, &resp.location) {
                    (301 | 302 | 303 | 307 | 308, Some(loc)) if options.max_redirects > 0 => {
                        url = reqwest::Url::parse(&url)
                            .and_then(|base| base.join(loc))
                            .map_err(|e| HttpError::Request {
                                url: url.clone(),
                                detail: format!("bad redirect to {loc:?}: {e}"),
                            })?
                            .to_string();
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

    /// One request and its whole response, the body bounded by `max` (and left unread when
    /// the status is not `want`, if given).
    async fn exchange(
        &self,
        req: &Request<'_>,
        url: &str,
        max: usize,
        want: Option<u16>,
    ) -> Result<Response, HttpError> {
        let failed = |e: reqwest::Error| HttpError::Request {
            url: url.to_string(),
            detail: chain(&e),
        };
        let method =
            reqwest::Method::from_bytes(req.method.as_bytes()).map_err(|e| HttpError::Request {
                url: url.to_string(),
                detail: format!("bad method {:?}: {e}", req.method),
            })?;
        let mut builder = self.inner.request(method, url);
        for (name, value) in req.headers {
            builder = builder.header(*name, *value);
        }
        if !req.body.is_empty() {
            builder = builder.body(req.body.to_vec());
        }
        let mut resp = builder.send().await.map_err(failed)?;
        let status = resp.status();
        let skip_body = want.is_some_and(|w| w != status.as_u16()) && !status.is_redirection();
        let too_large = || HttpError::TooLarge {
            url: url.to_string(),
            limit: max,
        };
        // A declared length over the limit is refused before any of the body is read (with
        // gzip the declared length is the compressed one, so the count below still applies).
        if !skip_body && resp.content_length().is_some_and(|n| n > max as u64) {
            return Err(too_large());
        }
        let header = |name: reqwest::header::HeaderName| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let location = header(reqwest::header::LOCATION);
        let content_range = header(reqwest::header::CONTENT_RANGE);
        let mut body = Vec::new();
        while let Some(chunk) = if skip_body {
            None
        } else {
            resp.chunk().await.map_err(failed)?
        } {
            if body.len() + chunk.len() > max {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        let reason = status.canonical_reason().unwrap_or_default().to_string();
        Ok(Response {
            status: status.as_u16(),
            status_line: format!("{} {reason}", status.as_u16())
                .trim_end()
                .to_string(),
            reason,
            location,
            content_range,
            body,
        })
    }
}

/// An error and its causes on one line ("error sending request for url (...): ... : invalid
/// peer certificate: UnknownIssuer"), since the root cause is what a user needs.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

/// Sends `req` with the process's client (see [`configure`]).
pub async fn send(req: &Request<'_>, options: &Options) -> Result<Response, HttpError> {
    shared()?.send(req, options).await
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
pub(crate) async fn resolve(url: &super::Url) -> Result<std::net::SocketAddr, HttpError> {
    tokio::net::lookup_host(url.authority())
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
