//! The tokio driver for a [`Torrent`]: TCP connections in and out, a disk thread for writes,
//! reads and SHA-1 checks, and the tracker announces. It moves bytes and calls the sans-IO
//! state machines; it decides nothing itself.
//!
//! Order of calls, per input: feed the input to the [`Torrent`] (`handle_bytes`,
//! `handle_timeout`, `handle_read`, `handle_verified`, `handle_connected`...), then send every
//! connection's `poll_transmit`, then perform every `poll_action`.
//!
//! This file is the public handle ([`Session`]); `config.rs` holds its settings, `driver.rs`
//! the task that runs the torrent, `sockets.rs` the listener, dials and per-connection tasks,
//! `disk.rs` the disk and hashing threads.

mod announce;
mod config;
mod dht_search;
mod disk;
mod driver;
mod encryption;
mod error;
mod from_torrent;
mod limit;
mod magnet;
mod piece_check;
mod progress;
mod reader;
mod shared;
mod sockets;
mod start;
mod transport;
mod udp_port;
mod webseeds;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

pub use config::SessionConfig;
pub use dht_search::DHT_ANNOUNCE_INTERVAL;
pub use disk::recheck;
pub use encryption::Encryption;
pub use error::SessionError;
pub use magnet::{fetch_metadata, MagnetConfig};
pub use piece_check::{piece_hashes, PieceHashes, V2Hashes};
pub use progress::{MetadataProgress, PeerInfo, Percent, Progress};
pub use reader::{BlockingReader, Reader, Readers, DEFAULT_READAHEAD};
pub use shared::{Permit, Shared, SharedConfig};
pub use sockets::bind_listener;
pub use start::{RecheckReason, Start, StartError, StartKind, StartNote};
pub use transport::{Transport, UTP_FALLBACK};
pub use udp_port::{classify, UdpPort, UdpProtocol};

use crate::storage::Storage;
use crate::Bitfield;
#[cfg(doc)]
use crate::Torrent;

/// How a session ended: the verified pieces (to save in a resume file, also after an error),
/// the totals, and the error if it ended on one.
#[derive(Debug)]
pub struct Summary {
    /// Verified pieces.
    pub have: Bitfield,
    /// Payload bytes downloaded.
    pub downloaded: u64,
    /// Payload bytes uploaded.
    pub uploaded: u64,
    /// Of `downloaded`, the bytes that were not needed: endgame duplicates and blocks that
    /// arrived after their piece was done.
    pub duplicates: u64,
    /// The error that ended the session, if any.
    pub error: Option<SessionError>,
}

#[derive(Debug)]
pub(super) enum Command {
    Connect(SocketAddr),
    /// A peer learnt from somewhere other than the user (a tracker, a magnet link).
    ConnectFrom(SocketAddr, crate::PeerSource),
    /// A peer that connected to a [`Shared`] listener; `prefix` holds the handshake bytes the
    /// listener read to find the torrent.
    Incoming {
        addr: SocketAddr,
        stream: transport::PeerStream,
        prefix: Vec<u8>,
        /// The RC4 streams of a peer that came in with MSE and chose RC4.
        streams: Option<Box<torrentkit_wire::mse::Streams>>,
    },
    Pause,
    Resume,
    Stop,
    /// A reader's window moved (`None`: the reader is gone).
    Window {
        reader: u64,
        pieces: Option<std::ops::Range<u32>>,
    },
    /// New piece priorities (file selection).
    Priorities(Vec<crate::Priority>),
}

/// A torrent being downloaded and/or seeded on the current tokio runtime.
#[derive(Debug)]
pub struct Session {
    commands: mpsc::UnboundedSender<Command>,
    progress: watch::Receiver<Progress>,
    task: JoinHandle<Summary>,
    /// The storage, for [`Reader`]s; a magnet's is set once its metadata is fetched.
    storage: reader::StorageCell,
}

impl Session {
    /// Starts a session over `storage`, which already holds the pieces in `have`; accepts peers
    /// on `listener` if given. Must be called inside a tokio runtime.
    pub fn start(
        config: SessionConfig,
        storage: Arc<dyn Storage>,
        have: Bitfield,
        listener: Option<TcpListener>,
    ) -> Session {
        let (commands, command_rx) = mpsc::unbounded_channel();
        let (progress_tx, progress) = watch::channel(Progress::default());
        let announce_cmds = commands.clone();
        let cell = reader::StorageCell::default();
        let _ = cell.0.set(storage.clone());
        let task = tokio::spawn(driver::run(
            config,
            storage,
            have,
            listener,
            command_rx,
            announce_cmds,
            progress_tx,
        ));
        Session {
            commands,
            progress,
            task,
            storage: cell,
        }
    }

    /// Starts a session from a magnet link: first the metadata is fetched (BEP 9; its progress
    /// in [`Progress::metadata`]), then `open` is given the torrent made of it and says how
    /// to run it (the settings, usually [`SessionConfig::from_torrent`], the storage and the
    /// pieces already there), and the session goes on as [`start`](Self::start)'s would.
    /// The link's peers are dialled again with their source, unless the torrent is private
    /// (BEP 27). A [`stop`](Self::stop) during the first phase ends it with nothing done; an
    /// error of `open` ends it with that error.
    pub fn start_magnet<F>(config: MagnetConfig, listener: Option<TcpListener>, open: F) -> Session
    where
        F: FnOnce(
                &torrentkit_metainfo::Torrent,
            ) -> Result<(SessionConfig, Arc<dyn Storage>, Bitfield), SessionError>
            + Send
            + 'static,
    {
        let (commands, mut command_rx) = mpsc::unbounded_channel();
        let (progress_tx, progress) = watch::channel(Progress::default());
        let announce_cmds = commands.clone();
        let cell = reader::StorageCell::default();
        let storage_cell = cell.clone();
        let task =
            tokio::spawn(async move {
                let nothing = |error| Summary {
                    have: Bitfield::new(0),
                    downloaded: 0,
                    uploaded: 0,
                    duplicates: 0,
                    error,
                };
                let torrent =
                    match magnet::fetch(&config, listener.as_ref(), &mut command_rx, &progress_tx)
                        .await
                    {
                        Ok(Some(t)) => t,
                        Ok(None) => return nothing(None),
                        Err(e) => return nothing(Some(e)),
                    };
                let (sc, storage, have) = match open(&torrent) {
                    Ok(x) => x,
                    Err(e) => return nothing(Some(e)),
                };
                let _ = storage_cell.0.set(storage.clone());
                if !torrent.info().is_private() {
                    for &(addr, source) in &config.peers {
                        let _ = announce_cmds.send(Command::ConnectFrom(addr, source));
                    }
                }
                driver::run(
                    sc,
                    storage,
                    have,
                    listener,
                    command_rx,
                    announce_cmds,
                    progress_tx,
                )
                .await
            });
        Session {
            commands,
            progress,
            task,
            storage: cell,
        }
    }

    /// Sets every piece's priority (file selection, see [`crate::piece_priorities`]): pieces
    /// of priority 0 are no longer started.
    pub fn set_priorities(&self, priorities: Vec<crate::Priority>) {
        let _ = self.commands.send(Command::Priorities(priorities));
    }

    /// A [`Reader`] over file `file` of the torrent (`None`: the whole torrent's data), with
    /// the default readahead; `None` while a magnet's metadata is not fetched yet, or if there
    /// is no such file. Must be called inside a tokio runtime.
    pub fn reader(&self, file: Option<usize>) -> Option<Reader> {
        self.readers().reader(file)
    }

    /// What makes [`Reader`]s of this session, to hand to other tasks (an HTTP server, a file
    /// system) while the session itself stays here to be stopped.
    pub fn readers(&self) -> Readers {
        Readers {
            storage: self.storage.clone(),
            commands: self.commands.clone(),
            progress: self.progress.clone(),
        }
    }

    /// Connects to a peer (ignored if banned or already known; kept waiting at the connection
    /// limit; see [`Torrent::add_peer`]).
    pub fn add_peer(&self, addr: SocketAddr) {
        let _ = self.commands.send(Command::Connect(addr));
    }

    /// [`add_peer`](Self::add_peer) of a peer learnt from `source`, shown in its peer list
    /// entry.
    pub fn add_peer_from(&self, addr: SocketAddr, source: crate::PeerSource) {
        let _ = self.commands.send(Command::ConnectFrom(addr, source));
    }

    /// Disconnects every peer, announces `stopped` to the trackers, and accepts or makes no
    /// connections until [`resume`](Self::resume). The verified data stays; nothing is lost.
    pub fn pause(&self) {
        let _ = self.commands.send(Command::Pause);
    }

    /// Ends a [`pause`](Self::pause): announces `started` and dials the peers it disconnected
    /// from again.
    pub fn resume(&self) {
        let _ = self.commands.send(Command::Resume);
    }

    /// A receiver of progress snapshots.
    pub fn progress(&self) -> watch::Receiver<Progress> {
        self.progress.clone()
    }

    /// Waits until the download is complete (returns at once for a seed).
    pub async fn wait_complete(&self) {
        let mut rx = self.progress.clone();
        let _ = rx.wait_for(|p| p.complete).await;
    }

    /// Stops: announces `stopped`, flushes the data, and returns the summary.
    pub async fn stop(self) -> Summary {
        let _ = self.commands.send(Command::Stop);
        self.join().await
    }

    /// Waits for the session to end by itself (complete and not seeding, or an error).
    pub async fn join(self) -> Summary {
        match self.task.await {
            Ok(summary) => summary,
            Err(e) => Summary {
                have: Bitfield::new(0),
                downloaded: 0,
                uploaded: 0,
                duplicates: 0,
                error: Some(SessionError::Disk(format!("session task failed: {e}"))),
            },
        }
    }
}
