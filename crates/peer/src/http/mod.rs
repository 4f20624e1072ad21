//! The workspace's one HTTP client, for trackers, `.torrent` downloads and `bt publish`: plain
//! HTTP/1.1 over TCP, no TLS (`https://` is refused with a clear error).
//!
//! The protocol half is sans-IO: [`Url`] parses URLs, [`request_head`] writes a request and
//! [`parse_response`] reads a response (status line, headers, `Content-Length`, chunked or
//! close-delimited bodies) with a size cap, reporting "need more bytes" as `Ok(None)`. With the
//! `tokio` feature, [`send`] moves the bytes: it connects, sends, reads until the response is
//! complete and follows redirects, all within one time limit; [`send_blocking`] does the same
//! for code that is not async.
//!
//! ```
//! use torrentkit_peer::http::parse_response;
//!
//! let reply = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
//! assert_eq!(parse_response(&reply[..20], false, 1 << 20)?, None);
//! let resp = parse_response(reply, false, 1 << 20)?.unwrap();
//! assert_eq!((resp.status, resp.body.as_slice()), (200, &b"abc"[..]));
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
pub use client::{send, send_blocking, Options};
pub use error::HttpError;
pub use request::{request_head, Request};
pub use response::{parse_response, Response};
pub use url::{Scheme, Url, UrlError};
