//! The workspace's one HTTP client, for trackers, `.torrent` downloads, `bt publish` and web
//! seeds: reqwest with rustls (the `ring` provider), so HTTPS works with the system's root
//! certificates plus any added with [`configure`] (`--ca-cert`), gzip replies are undone,
//! `HTTP_PROXY`/`HTTPS_PROXY`/`NO_PROXY` are honoured, redirects are bounded and every reply
//! is read whole under a size cap and a time limit.
//!
//! [`Url`] parses tracker URLs (also `udp://`); with the `tokio` feature [`send`] performs a
//! [`Request`] and [`send_blocking`] does the same for code that is not async.
//!
//! ```
//! use torrentkit_peer::http::{Response, Url};
//!
//! let url = Url::parse("https://t.example/announce?passkey=p")?;
//! assert_eq!((url.port, url.target.as_str()), (443, "/announce?passkey=p"));
//! assert_eq!(Response::new(200, b"ok".to_vec()).status_line, "200");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#[cfg(feature = "tokio")]
mod client;
mod error;
mod request;
mod response;
mod url;

#[cfg(feature = "tokio")]
pub(crate) use client::resolve;
#[cfg(feature = "tokio")]
pub use client::{configure, current_config, send, send_blocking, Client, ClientConfig, Options};
pub use error::HttpError;
pub use request::Request;
pub use response::Response;
pub use url::{Scheme, Url, UrlError};
