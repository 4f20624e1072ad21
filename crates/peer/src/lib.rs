//! The BitTorrent peer engine: the parts that decide what to download from whom, whom to
//! upload to, where bytes live on disk, what survives a restart, and how to talk to trackers.
//!
//! Everything here is sans-IO and deterministic where it is protocol logic: time comes in as an
//! [`Instant`](std::time::Instant) argument and randomness from a caller-seeded [`Rng`], so a
//! simulation replays exactly.
//!
//! - [`storage`]: a torrent's [`Layout`](storage::Layout) (pieces spanning file boundaries), the
//!   [`Storage`](storage::Storage) trait, a path-safe [`FileStorage`](storage::FileStorage) with
//!   lazily created sparse files and a bounded cache of open descriptors, and
//!   [`MemoryStorage`](storage::MemoryStorage).
//! - [`Picker`]: rarest first with random tie-breaks, a random first piece, partial pieces
//!   first, 16 KiB blocks with in-flight tracking, endgame mode, sequential mode.
//! - [`Choker`]: tit-for-tat upload slots re-evaluated every 10 s, an optimistic unchoke rotated
//!   every 30 s (new peers three times as likely), anti-snubbing, round-robin when seeding.
//! - [`ResumeData`]: the verified pieces plus each file's size and mtime, written atomically
//!   and trusted only if everything matches ([`ResumeMismatch`] says what did not).
//! - [`tracker`]: HTTP and UDP (BEP 15) announce and scrape, announce-list tiers (BEP 12) with
//!   failover and backoff ([`tracker::Announcer`]), and a tokio driver
//!   ([`tracker::TrackerClient`]); the protocol itself is torrentkit-tracker-proto's.
//! - [`http`]: the workspace's one HTTP client (reqwest with rustls): HTTPS, bounded replies,
//!   [`http::send`] (feature `tokio`) for trackers, `.torrent` downloads, publishing, web seeds.
//! - [`webseed`]: BEP 19 and BEP 17 web seeds as piece sources beside peers.
//! - [`Connection`]: one peer connection — handshake checks (info-hash, our own peer id), BEP 3,
//!   6 and 10 messages, request pipelining with a queue that follows the peer's rate and honours
//!   its `reqq`, request timeouts and snubbing, keep-alives, serving requests.
//! - [`Torrent`]: one torrent's connections, picker and choker together; it decides which peers
//!   to dial and accept (a pool of addresses, the connection cap, bans, pause and resume), asks
//!   its driver to dial, write blocks through, read blocks for peers and verify pieces
//!   ([`Action`]), and bans peers whose blocks fail hash checks (blamed block by block).
//! - [`session`] (feature `tokio`): the driver that runs a [`Torrent`] over TCP with a disk
//!   thread for writes, reads and SHA-1 checks, and announces to trackers.
//!   [`SessionConfig::from_torrent`](session::SessionConfig::from_torrent) builds its settings
//!   from a `.torrent`; its [`Progress`](session::Progress) gives the share done and the time
//!   left with one rounding rule (100% only when complete).
//! - [`Placement`]: where a torrent's data and resume file live; with the `tokio` feature,
//!   [`Placement::find_start`] decides between trusting the resume file and hashing the data
//!   again, and does it.
//! - [`SeedLimits`]: when a completed torrent has seeded enough (ratio, time).
//! - [`manager`] (feature `tokio`): a [`Manager`](manager::Manager) of many torrents by
//!   info-hash over one port, one connection cap, one pair of rate limits and one open-file
//!   cap, with one check queue.
//!
//! # Example
//!
//! ```
//! use torrentkit_peer::storage::{Layout, MemoryStorage, Storage};
//! use torrentkit_peer::{ConnId, Picker, PickerConfig, Received};
//!
//! // Two files, pieces of 32 KiB: piece 1 spans the file boundary.
//! let layout = Layout::new([(["album", "a.flac"], 40_000u64), (["album", "b.flac"], 30_000)], 32 * 1024)?;
//! assert_eq!(layout.piece_count(), 3);
//! assert_eq!(layout.spans(1, 0, 32 * 1024).unwrap().len(), 2);
//!
//! let storage = MemoryStorage::new(layout.clone());
//! let mut picker = Picker::new(&layout, PickerConfig::default(), 42);
//! let seed = ConnId(1);
//! picker.add_peer(seed);
//! picker.peer_have_all(seed);
//!
//! // Ask for blocks, "receive" them, write them through, verify complete pieces.
//! while !picker.is_complete() {
//!     for block in picker.pick(seed, 8) {
//!         let data = vec![7u8; block.len as usize];
//!         if let Received::New { piece_complete, .. } =
//!             picker.block_received(seed, block.piece, block.offset, block.len)
//!         {
//!             storage.write(block.piece, block.offset, &data)?;
//!             if piece_complete {
//!                 picker.piece_verified(block.piece); // after checking its SHA-1
//!             }
//!         }
//!     }
//! }
//! assert_eq!(storage.read_piece(2)?.len(), 70_000 - 2 * 32 * 1024);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Magnet links
//!
//! A [`Session`](session::Session) can start from a magnet link alone: the metadata is fetched
//! from the link's peers and trackers ([`MetadataAssembler`] checks it against the info-hash and
//! drops peers that lie), its progress shows in
//! [`Progress::metadata`](session::Progress::metadata), and then the download goes on as for
//! a `.torrent`. Peers are exchanged with ut_pex (BEP 11), and each peer's
//! [`PeerSource`] shows in the peer list.
//!
//! ```no_run
//! # #[cfg(feature = "tokio")]
//! # async fn magnet() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use torrentkit_metainfo::Magnet;
//! use torrentkit_peer::session::{MagnetConfig, Session, SessionConfig};
//! use torrentkit_peer::{Bitfield, Placement};
//!
//! let link = Magnet::parse("magnet:?xt=urn:btih:c0fda1edafdbdbb96443424e0b3899af7159d10e&x.pe=127.0.0.1:6881")?;
//! let config = MagnetConfig::from_magnet(&link, *b"-TK0100-123456789012", 42);
//! let session = Session::start_magnet(config, None, |torrent| {
//!     // The metadata is in: say where the data goes and how to run the download.
//!     let placement = Placement::in_dir(torrent, std::path::Path::new("downloads"))
//!         .map_err(|e| torrentkit_peer::session::SessionError::Metadata(e.to_string()))?;
//!     let pieces = torrent.info().piece_count() as u32;
//!     let config = SessionConfig::from_torrent(torrent, *b"-TK0100-123456789012", 42);
//!     Ok((config, Arc::new(placement.storage()), Bitfield::new(pieces)))
//! });
//! let mut progress = session.progress();
//! progress.wait_for(|p| p.metadata.is_none() && p.total > 0).await?;
//! session.wait_complete().await;
//! session.stop().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Feature flags
//!
//! - `tokio` (default): [`tracker::TrackerClient`], [`http::send`] and [`session`], which
//!   perform tracker and HTTP requests and peer connections on a tokio runtime. Without it the crate does no network
//!   I/O at all.

mod choker;
mod conn_id;
mod connection;
pub mod http;
#[cfg(feature = "tokio")]
pub mod manager;
mod metadata;
mod peer_source;
mod picker;
mod placement;
mod priority;
mod rate;
mod resume;
mod resume_error;
mod rng;
mod seed_limit;
#[cfg(feature = "tokio")]
pub mod session;
pub mod storage;
mod torrent;
pub mod tracker;
pub mod webseed;

pub use choker::{ChokeChanges, Choker, ChokerConfig, PeerStats};
pub use conn_id::ConnId;
pub use connection::{CloseReason, ConnEvent, Connection, ConnectionConfig, ProtocolViolation};
pub use metadata::{
    LayerDrop, MetadataAssembler, MetadataDrop, PieceLayerFetcher, DEFAULT_MAX_METADATA_SIZE,
};
pub use peer_source::PeerSource;
pub use picker::{BlockRequest, Picker, PickerConfig, Received};
pub use placement::{Placement, PlacementError};
pub use priority::{piece_priorities, Priority, Window};
pub use rate::RateMeter;
pub use resume::{FileStamp, ResumeData};
pub use resume_error::{ResumeDecodeError, ResumeError, ResumeField, ResumeMismatch};
pub use rng::Rng;
pub use seed_limit::SeedLimits;
pub use torrent::{
    pex_flags, Action, DiskJob, HashTrees, MerklePiece, MerklePieces, Torrent, TorrentConfig,
    HUNT_WAIT,
};
/// The piece set type, shared with the wire codec.
pub use torrentkit_wire::Bitfield;

/// The README's examples, compiled and run as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
