//! A BitTorrent tracker (HTTP and UDP) as a library, and the server behind `bt tracker`.
//!
//! A tracker introduces downloaders to each other. This crate answers HTTP announces
//! ([BEP 3], compact peers per [BEP 23], `peers6` per [BEP 7]), scrapes ([BEP 48]) and the UDP
//! tracker protocol ([BEP 15]); keeps swarms in a sharded in-memory [`Store`] with bounds and peer
//! expiry, or in Redis ([`StoreConfig::Redis`]) shared by several trackers; saves in-memory swarms
//! to a dfile so a restart loses nothing; hosts `.torrent` files from an allowed
//! directory or `POST /publish`; and shows an HTML index, Prometheus `/metrics` and `/stats.json`.
//!
//! The protocol core is plain code that needs neither sockets, files nor the clock:
//! [`AnnounceRequest::parse`] and [`ScrapeRequest::parse`] read raw query bytes,
//! [`Tracker::http_announce`] and [`Tracker::handle_udp`] turn a request into reply bytes, with
//! the time passed in ([`Tracker::new`] too takes its start time). On top sit thin layers that do
//! the clock and file work: [`router`] (an axum `Router<Tracker>` a host nests into its own app),
//! [`UdpService`] (runs on the host's socket), [`Tracker::load_dfile`] and
//! [`Tracker::save_dfile`], [`Tracker::rescan`] and [`Tracker::publish`] (the allowed directory),
//! and [`serve`] (everything). Hosted torrents are read with `torrentkit-metainfo`.
//!
//! # Example
//!
//! ```
//! use std::time::Instant;
//! use torrentkit_tracker_server::{Config, Tracker};
//!
//! let now = Instant::now();
//! let tracker = Tracker::new(Config::default(), now);
//! let hash = "info_hash=%AA%BB%CC%DD%EE%FF%00%11%22%33%44%55%66%77%88%99%AA%BB%CC%DD";
//! let seed = format!("{hash}&peer_id=-TK0001-000000000001&port=6881&left=0&compact=1");
//! let leech = format!("{hash}&peer_id=-TK0001-000000000002&port=6882&left=100&compact=1");
//!
//! let mut reply = Vec::new();
//! tracker.http_announce(seed.as_bytes(), Some("10.0.0.1".parse()?), now, &mut reply)?;
//! reply.clear();
//! tracker.http_announce(leech.as_bytes(), Some("10.0.0.2".parse()?), now, &mut reply)?;
//! // One seeder, one leecher, and the seed's address in compact form: 10.0.0.1:6881.
//! assert!(reply.starts_with(b"d8:completei1e10:downloadedi0e10:incompletei1e"));
//! assert!(reply.ends_with(b"5:peers6:\x0a\x00\x00\x01\x1a\xe1e"));
//!
//! // A malformed announce gets a bencoded failure reason naming the problem.
//! reply.clear();
//! let err = tracker.http_announce(b"info_hash=short&port=1", None, now, &mut reply).unwrap_err();
//! assert_eq!(reply, b"d14:failure reason42:bad info_hash length 5 (expected 20 bytes)e");
//! assert_eq!(err.to_string(), "bad info_hash length 5 (expected 20 bytes)");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! To embed the HTTP side in an existing axum service, nest the router with its state applied,
//! and serve with connection info so the tracker sees client addresses:
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use std::net::SocketAddr;
//! use axum::{routing::get, Router};
//! use torrentkit_tracker_server::{router, Config, Tracker};
//!
//! let tracker = Tracker::new(Config::default(), std::time::Instant::now());
//! let app = Router::new()
//!     .route("/", get(|| async { "my service" }))
//!     .nest("/tracker", router().with_state(tracker));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await?;
//! # Ok(()) }
//! ```
//!
//! # Feature flags
//!
//! None.
//!
//! [BEP 3]: https://www.bittorrent.org/beps/bep_0003.html
//! [BEP 7]: https://www.bittorrent.org/beps/bep_0007.html
//! [BEP 15]: https://www.bittorrent.org/beps/bep_0015.html
//! [BEP 23]: https://www.bittorrent.org/beps/bep_0023.html
//! [BEP 48]: https://www.bittorrent.org/beps/bep_0048.html

mod access_log;
mod allowed_dir;
mod config;
mod dfile;
mod dfile_io;
mod error;
mod files;
mod hash;
mod hosting;
mod http;
mod open_files;
mod peer_index;
mod redis;
mod reply;
mod serve;
mod shared;
mod stats;
mod store;
mod swarm;
mod tls;
mod tracker;
mod udp;

pub use access_log::AccessLog;
pub use config::{Config, StoreConfig, UdpBind};
pub use dfile::{DfileError, Restored};
pub use error::{Error, TorrentError};
pub use hosting::{HostedTorrent, ScanReport, TorrentInfo};
pub use http::router;
pub use redis::{RedisConfig, StoreError};
pub use reply::{write_compact, write_dictionary, write_failure, write_scrape, Intervals};
pub use serve::serve;
pub use shared::AnnounceError;
pub use stats::{CloseReason, RequestCounts};
pub use store::{Announce, Store, StoreLimits, Totals};
pub use swarm::{PeerList, SwarmStats};
pub use tls::{TlsConfig, TlsError};
pub use torrentkit_tracker_proto::{
    transaction_id_of, AnnounceRequest, Event, InfoHash, PacketError, PeerId, RequestError,
    ScrapeRequest, UdpAnnounce, UdpRequest, UdpResponse, ANNOUNCE_LEN, PROTOCOL_ID,
};
pub use tracker::{DfileStatus, Notice, NoticeHandler, PublishError, Tracker};
pub use udp::{ConnectionIds, UdpService};

/// The dfile format: encoding and decoding of saved swarms, and the file work around it (the
/// atomic writer is torrentkit-metainfo's, with this crate's error type).
pub mod dfile_format {
    pub use crate::dfile::{restore, snapshot};
    pub use crate::dfile_io::{move_aside, read};
    pub use crate::files::write_atomic;
}

/// The README's examples, compiled and run as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
