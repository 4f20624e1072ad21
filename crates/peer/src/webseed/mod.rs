//! Web seeds: plain HTTP servers as piece sources beside peers. BEP 19 (`url-list`) servers
//! hold the torrent's files and are asked for byte ranges mapped through the file layout;
//! BEP 17 (`httpseeds`, BitTornado) servers take `?info_hash=&piece=&ranges=`.
//!
//! The policy is sans-IO and lives with the [`Torrent`](crate::Torrent) (`torrent/webseed.rs`:
//! which seed gets which whole piece, backoff, strikes): [`WebSeeds`] is its book-keeping,
//! [`plan`] turns a piece range into the requests to make and [`check_range_reply`] decides
//! whether a reply is the asked range. With the `tokio` feature, `fetch` performs a
//! [`WebFetch`] with the workspace's HTTP client.
//!
//! ```
//! use torrentkit_peer::storage::Layout;
//! use torrentkit_peer::webseed::{plan, WebRequest, WebSeedKind};
//!
//! let layout = Layout::new([(["d", "a"], 10u64), (["d", "b"], 20)], 16)?;
//! let reqs = plan(WebSeedKind::Url, "http://h/", &layout, true, [0; 20], 0, 0, 16);
//! assert_eq!(reqs, [
//!     WebRequest::Range { url: "http://h/d/a".into(), start: 0, len: 10 },
//!     WebRequest::Range { url: "http://h/d/b".into(), start: 0, len: 6 },
//! ]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#[cfg(feature = "tokio")]
pub(crate) mod fetch;
mod plan;
mod state;

pub use plan::{check_range_reply, plan, WebRequest};
pub use state::{WebFetch, WebSeedConfig, WebSeedInfo, WebSeedKind, WebSeeds};
