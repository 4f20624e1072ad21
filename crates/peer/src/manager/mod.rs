//! [`Manager`]: many torrents in one program, on one port, under one connection cap, one pair
//! of rate limits ([`Shared`]) and one cap on open data files ([`FileCache`]).
//!
//! Torrents are added and removed by info-hash. Each one's data is checked first (the resume
//! file trusted if it still matches, else hashed again), one torrent at a time on a blocking
//! thread, then its [`Session`] downloads or seeds until it is removed or the manager stops.
//! [`Manager::stop_all`] stops every torrent, announcing `stopped` and saving every resume file.
//!
//! The program around it drives it: it awaits [`Manager::next_event`] in its loop (that is also
//! where checked torrents get their session started), and calls
//! [`save_resume_files`](Manager::save_resume_files) and [`dial_peers`](Manager::dial_peers)
//! on timers of its choosing.

mod entry;
mod event;

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinHandle;
use torrentkit_metainfo::{InfoHash, Torrent as Metainfo};

pub use self::event::{AddError, CheckError, Event, StopEnd, Stopped, TorrentStatus};

use self::entry::{spawn_check, Entry, Report, State};
use crate::session::{Session, SessionConfig, Shared, SharedConfig};
use crate::storage::FileCache;
use crate::{Bitfield, Placement, ResumeError};

/// How often [`Manager::next_event`] looks for torrents that have completed.
const COMPLETION_POLL: Duration = Duration::from_millis(250);

/// Settings for a [`Manager`].
#[derive(Debug, Clone)]
pub struct ManagerConfig {
    /// Limits over every torrent together: connections, upload and download rates.
    pub shared: SharedConfig,
    /// Most data files open at once over every torrent together.
    pub max_open_files: usize,
    /// Our peer id, the same for every torrent.
    pub peer_id: [u8; 20],
    /// Seed of the randomness (each torrent's session derives its own from it).
    pub seed: u64,
    /// The port peers reach us on, for announces (that of the listener given to
    /// [`Manager::serve`]).
    pub listen_port: u16,
    /// The address to tell trackers we are at (`ip=`), when it differs from the one they see.
    pub announce_ip: Option<IpAddr>,
    /// Peers every torrent dials when its session starts and on [`Manager::dial_peers`].
    pub peers: Vec<SocketAddr>,
    /// The DHT node every public torrent looks peers up in and announces to (one for all, on
    /// the listener's port); `None`: no DHT. Private torrents never use it.
    pub dht: Option<Arc<torrentkit_dht::Dht>>,
    /// Which transports every torrent's peer connections use.
    pub transport: crate::session::Transport,
    /// The uTP endpoint every torrent dials from (give it to [`Manager::serve_utp`] too);
    /// `None`: TCP only.
    pub utp: Option<std::sync::Arc<torrentkit_utp::UtpSocket>>,
}

impl ManagerConfig {
    /// Defaults for our `peer_id` and randomness `seed`: 200 connections, 64 open files, no
    /// rate limits, port 6881, no extra peers, no DHT.
    pub fn new(peer_id: [u8; 20], seed: u64) -> Self {
        ManagerConfig {
            shared: SharedConfig::default(),
            max_open_files: 64,
            peer_id,
            seed,
            listen_port: 6881,
            announce_ip: None,
            peers: Vec::new(),
            dht: None,
            transport: crate::session::Transport::default(),
            utp: None,
        }
    }
}

/// Many torrents downloaded and seeded together on the current tokio runtime.
///
/// ```
/// use torrentkit_metainfo::TorrentBuilder;
/// use torrentkit_peer::manager::{Event, Manager, ManagerConfig, StopEnd, TorrentStatus};
/// use torrentkit_peer::Placement;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // A file to seed, and its torrent.
/// let dir = tempfile::tempdir()?;
/// std::fs::write(dir.path().join("song.flac"), vec![7u8; 100_000])?;
/// let torrent = TorrentBuilder::new(dir.path().join("song.flac")).piece_length(16_384).build()?;
///
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let mut config = ManagerConfig::new(*b"-TK0100-embedded0001", 42);
/// config.listen_port = listener.local_addr()?.port();
/// let mut manager = Manager::new(config);
/// manager.serve(listener); // peers of every torrent come in on this port
///
/// // The data is beside the torrent; its check finds every piece.
/// let placement = Placement::in_dir(&torrent, dir.path())?;
/// let hash = manager.add(torrent, placement)?;
/// loop {
///     match manager.next_event().await {
///         Event::Started { start, .. } => println!("{} pieces on disk", start.have.count()),
///         Event::Completed { info_hash } if info_hash == hash => break,
///         Event::Failed { error, .. } => return Err(error.into()),
///         _ => {}
///     }
/// }
/// assert!(matches!(manager.status(&hash), Some(TorrentStatus::Running(p)) if p.complete));
///
/// // Stop: `stopped` announced, every resume file saved.
/// for stopped in manager.stop_all().await {
///     assert!(matches!(stopped.end, StopEnd::Ran { resume_error: None, .. }));
/// }
/// assert!(dir.path().join(".song.flac.bt-resume").is_file());
/// # Ok(())
/// # }
/// ```
pub struct Manager {
    config: ManagerConfig,
    shared: Shared,
    files: FileCache,
    /// One permit: one check at a time.
    check_turns: Arc<Semaphore>,
    torrents: HashMap<InfoHash, Entry>,
    reports_tx: mpsc::UnboundedSender<Report>,
    reports: mpsc::UnboundedReceiver<Report>,
    /// Events found but not yet handed out.
    queued: VecDeque<Event>,
    /// Counts additions: tells a torrent's check from that of an earlier addition.
    generation: u64,
    /// Torrents removed and still stopping.
    stopping: Vec<JoinHandle<()>>,
    server: Option<JoinHandle<()>>,
    /// Accepts uTP peers for every torrent ([`Manager::serve_utp`]).
    utp_server: Option<JoinHandle<()>>,
    completion_poll: Option<tokio::time::Interval>,
}

impl Manager {
    /// A manager with no torrents yet.
    pub fn new(config: ManagerConfig) -> Manager {
        let (reports_tx, reports) = mpsc::unbounded_channel();
        Manager {
            shared: Shared::new(config.shared.clone()),
            files: FileCache::new(config.max_open_files.max(1)),
            check_turns: Arc::new(Semaphore::new(1)),
            torrents: HashMap::new(),
            reports_tx,
            reports,
            queued: VecDeque::new(),
            generation: 0,
            stopping: Vec::new(),
            server: None,
            utp_server: None,
            completion_poll: None,
            config,
        }
    }

    /// Accepts peers on `listener` for every torrent (each handshake names the torrent), until
    /// [`stop_all`](Self::stop_all). Must be called inside a tokio runtime.
    pub fn serve(&mut self, listener: TcpListener) {
        if let Some(old) = self.server.replace(self.shared.serve(listener)) {
            old.abort();
        }
    }

    /// [`serve`](Self::serve) for the uTP peers of `utp` (the [`UdpPort`](crate::session::UdpPort)'s
    /// endpoint), with the same first-bytes dispatch.
    pub fn serve_utp(&mut self, utp: std::sync::Arc<torrentkit_utp::UtpSocket>) {
        if let Some(old) = self.utp_server.replace(self.shared.serve_utp(utp)) {
            old.abort();
        }
    }

    /// The limits and listener every session shares.
    pub fn shared(&self) -> &Shared {
        &self.shared
    }

    /// The cache of open data files every torrent's storage shares.
    pub fn files(&self) -> &FileCache {
        &self.files
    }

    /// Adds a torrent whose data is (or goes) at `placement` and queues its check; its session
    /// starts once [`next_event`](Self::next_event) hears the check is done. Must be called
    /// inside a tokio runtime.
    pub fn add(&mut self, torrent: Metainfo, placement: Placement) -> Result<InfoHash, AddError> {
        let info_hash = torrent.info_hash();
        if self.torrents.contains_key(&info_hash) {
            return Err(AddError::AlreadyAdded(info_hash));
        }
        self.generation += 1;
        let entry = Entry {
            generation: self.generation,
            torrent: Arc::new(torrent),
            placement: Arc::new(placement),
            state: State::Checking,
            saved: Bitfield::new(0),
            completion_reported: false,
        };
        spawn_check(
            entry.torrent.clone(),
            entry.placement.clone(),
            entry.generation,
            self.check_turns.clone(),
            self.files.clone(),
            self.reports_tx.clone(),
        );
        self.torrents.insert(info_hash, entry);
        Ok(info_hash)
    }

    /// Removes a torrent: it stops in the background (announcing `stopped`, saving its resume
    /// file) and [`next_event`](Self::next_event) reports [`Event::Stopped`]. False when there
    /// is no such torrent.
    pub fn remove(&mut self, info_hash: &InfoHash) -> bool {
        let Some(entry) = self.torrents.remove(info_hash) else {
            return false;
        };
        let reports = self.reports_tx.clone();
        self.stopping.retain(|t| !t.is_finished());
        self.stopping.push(tokio::spawn(async move {
            let _ = reports.send(Report::Stopped(entry.stop().await));
        }));
        true
    }

    /// The info-hashes of the torrents held, in no particular order.
    pub fn info_hashes(&self) -> impl Iterator<Item = &InfoHash> + '_ {
        self.torrents.keys()
    }

    /// A torrent's metainfo.
    pub fn torrent(&self, info_hash: &InfoHash) -> Option<&Arc<Metainfo>> {
        self.torrents.get(info_hash).map(|e| &e.torrent)
    }

    /// Where a torrent's data and resume file are.
    pub fn placement(&self, info_hash: &InfoHash) -> Option<&Arc<Placement>> {
        self.torrents.get(info_hash).map(|e| &e.placement)
    }

    /// A torrent's state, with its latest progress while it runs.
    pub fn status(&self, info_hash: &InfoHash) -> Option<TorrentStatus> {
        let entry = self.torrents.get(info_hash)?;
        Some(match &entry.state {
            State::Checking => TorrentStatus::Checking,
            State::Running { progress, .. } => TorrentStatus::Running(progress.borrow().clone()),
            State::Failed(e) => TorrentStatus::Failed(e.clone()),
        })
    }

    /// Pauses a running torrent ([`Session::pause`]); false if it is not running.
    pub fn pause(&self, info_hash: &InfoHash) -> bool {
        self.session(info_hash).map(Session::pause).is_some()
    }

    /// Resumes a paused torrent ([`Session::resume`]); false if it is not running.
    pub fn resume(&self, info_hash: &InfoHash) -> bool {
        self.session(info_hash).map(Session::resume).is_some()
    }

    /// Connects a running torrent to a peer; false if it is not running.
    pub fn add_peer(&self, info_hash: &InfoHash, addr: SocketAddr) -> bool {
        self.session(info_hash).map(|s| s.add_peer(addr)).is_some()
    }

    /// Dials [`ManagerConfig::peers`] again for every running torrent that
    /// [still needs data](crate::session::Progress::wants_peers): the engine does not retry a failed peer by itself, a tracker
    /// names it again, and these peers have no tracker behind them.
    pub fn dial_peers(&self) {
        for entry in self.torrents.values() {
            if let State::Running { session, progress } = &entry.state {
                if progress.borrow().wants_peers() {
                    for p in &self.config.peers {
                        session.add_peer(*p);
                    }
                }
            }
        }
    }

    /// Saves the resume file of every running torrent whose verified pieces changed since its
    /// last save; returns the failures.
    pub fn save_resume_files(&mut self) -> Vec<(InfoHash, ResumeError)> {
        let mut failed = Vec::new();
        for (hash, entry) in &mut self.torrents {
            if let Err(e) = entry.save_if_changed() {
                failed.push((*hash, e));
            }
        }
        failed
    }

    /// The next thing that happens to a torrent. Checked torrents get their session started
    /// here, so a program awaits this in its loop. Cancel-safe: an event is never lost when
    /// the future is dropped (in a `select!`).
    pub async fn next_event(&mut self) -> Event {
        loop {
            if let Some(event) = self.queued.pop_front() {
                return event;
            }
            let poll = self.completion_poll.get_or_insert_with(|| {
                let mut poll = tokio::time::interval(COMPLETION_POLL);
                poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                poll
            });
            tokio::select! {
                Some(report) = self.reports.recv() => self.handle(report),
                _ = poll.tick() => self.find_completions(),
            }
        }
    }

    /// Stops every torrent at once (each announces `stopped`, flushes, saves its resume file),
    /// waits for those removed earlier, and stops serving the listener. Returns how each ended
    /// that [`next_event`](Self::next_event) has not reported yet.
    pub async fn stop_all(mut self) -> Vec<Stopped> {
        let stops: Vec<JoinHandle<Stopped>> = std::mem::take(&mut self.torrents)
            .into_values()
            .map(|e| tokio::spawn(e.stop()))
            .collect();
        let mut stopped = Vec::new();
        for t in std::mem::take(&mut self.stopping) {
            let _ = t.await;
        }
        while let Ok(report) = self.reports.try_recv() {
            if let Report::Stopped(s) = report {
                stopped.push(s);
            }
        }
        for t in stops {
            if let Ok(s) = t.await {
                stopped.push(s);
            }
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
        if let Some(server) = self.utp_server.take() {
            server.abort();
        }
        stopped
    }

    fn session(&self, info_hash: &InfoHash) -> Option<&Session> {
        match &self.torrents.get(info_hash)?.state {
            State::Running { session, .. } => Some(session),
            _ => None,
        }
    }

    fn handle(&mut self, report: Report) {
        match report {
            Report::Checked {
                info_hash,
                generation,
                result,
            } => self.checked(info_hash, generation, result),
            Report::Note {
                info_hash,
                generation,
                line,
            } => {
                if self.is_current(&info_hash, generation) {
                    self.queued.push_back(Event::Note { info_hash, line });
                }
            }
            Report::Stopped(s) => self.queued.push_back(Event::Stopped(s)),
        }
    }

    fn is_current(&self, info_hash: &InfoHash, generation: u64) -> bool {
        self.torrents
            .get(info_hash)
            .is_some_and(|e| e.generation == generation)
    }

    /// Starts the session of a checked torrent (unless it was removed meanwhile).
    fn checked(
        &mut self,
        info_hash: InfoHash,
        generation: u64,
        result: Result<(crate::storage::FileStorage, crate::session::Start), CheckError>,
    ) {
        if !self.is_current(&info_hash, generation) {
            return;
        }
        let Some(entry) = self.torrents.get_mut(&info_hash) else {
            return;
        };
        let (storage, start) = match result {
            Ok(r) => r,
            Err(e) => {
                let error = Arc::new(e);
                entry.state = State::Failed(error.clone());
                self.queued.push_back(Event::Failed { info_hash, error });
                return;
            }
        };
        let c = &self.config;
        let mut sc = SessionConfig::from_torrent(&entry.torrent, c.peer_id, c.seed ^ generation);
        sc.listen_port = c.listen_port;
        sc.seed = true;
        sc.announce_ip = c.announce_ip;
        sc.shared = Some(self.shared.clone());
        sc.encryption = c.shared.encryption;
        sc.dht = c.dht.clone();
        sc.transport = c.transport;
        sc.utp = c.utp.clone();
        entry.saved = start.have.clone();
        let session = Session::start(sc, Arc::new(storage), start.have.clone(), None);
        for p in &c.peers {
            session.add_peer(*p);
        }
        let progress = session.progress();
        entry.state = State::Running { session, progress };
        self.queued.push_back(Event::Started { info_hash, start });
    }

    fn find_completions(&mut self) {
        for (hash, entry) in &mut self.torrents {
            if !entry.completion_reported && entry.is_complete() {
                entry.completion_reported = true;
                self.queued.push_back(Event::Completed { info_hash: *hash });
            }
        }
    }
}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manager")
            .field("torrents", &self.torrents.len())
            .field("shared", &self.shared)
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

impl Drop for Manager {
    /// A manager dropped without [`stop_all`](Manager::stop_all) stops serving its listener;
    /// its sessions stop with the runtime.
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
        }
        if let Some(server) = self.utp_server.take() {
            server.abort();
        }
    }
}
