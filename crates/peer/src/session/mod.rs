//! The tokio driver for a [`Torrent`]: TCP connections in and out, a disk thread for writes,
//! reads and SHA-1 checks, and the tracker announces. It moves bytes and calls the sans-IO
//! state machines; it decides nothing itself.
//!
//! Order of calls, per input: feed the input to the [`Torrent`] (`handle_bytes`,
//! `handle_timeout`, `handle_read`, `handle_verified`), then send every connection's
//! `poll_transmit`, then perform every `poll_action`.

mod announce;
mod disk;
mod limit;
mod progress;
mod shared;

use std::collections::HashMap;
use std::fmt;
use std::future::pending;
use std::net::{IpAddr, SocketAddr};
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use disk::recheck;
pub use progress::{PeerInfo, Progress};
pub use shared::{Permit, Shared, SharedConfig};

use self::disk::{DiskDone, DiskJob};

use crate::storage::{Storage, StorageError};
use crate::tracker::{AnnouncerConfig, ClientConfig};
use crate::{Action, Bitfield, ConnId, Torrent, TorrentConfig};

/// Settings for a [`Session`].
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// The torrent state machine's settings.
    pub torrent: TorrentConfig,
    /// The SHA-1 of every piece, from the metainfo.
    pub piece_hashes: Vec<[u8; 20]>,
    /// Announce-list tiers (empty: no trackers; add peers with [`Session::add_peer`]).
    pub trackers: Vec<Vec<String>>,
    /// The port we accept peers on, for announces.
    pub listen_port: u16,
    /// Keep seeding after the download completes (until [`Session::stop`]).
    pub seed: bool,
    /// Most simultaneous connections.
    pub max_connections: usize,
    /// Time limit for an outgoing TCP connect.
    pub connect_timeout: Duration,
    /// Tracker client settings.
    pub tracker_client: ClientConfig,
    /// Announce scheduling.
    pub announcer: AnnouncerConfig,
    /// Most bytes per second sent to all peers together (`None`: unlimited).
    pub max_upload_rate: Option<u64>,
    /// Most bytes per second received from all peers together (`None`: unlimited).
    pub max_download_rate: Option<u64>,
    /// The address to tell trackers we are at (`ip=`), when it differs from the one they see.
    pub announce_ip: Option<IpAddr>,
    /// Limits and the listening port shared with other sessions (`bt launch-many`): its
    /// connection cap and rates apply on top of this session's own, and peers that connect to
    /// its listener for this torrent's info-hash are handed to this session.
    pub shared: Option<Shared>,
}

impl SessionConfig {
    /// Defaults around a torrent's settings and piece hashes.
    pub fn new(torrent: TorrentConfig, piece_hashes: Vec<[u8; 20]>) -> Self {
        SessionConfig {
            torrent,
            piece_hashes,
            trackers: Vec::new(),
            listen_port: 6881,
            seed: false,
            max_connections: 50,
            connect_timeout: Duration::from_secs(10),
            tracker_client: ClientConfig::default(),
            announcer: AnnouncerConfig::default(),
            max_upload_rate: None,
            max_download_rate: None,
            announce_ip: None,
            shared: None,
        }
    }
}

/// Why a session ended early.
#[derive(Debug)]
#[non_exhaustive]
pub enum SessionError {
    /// Writing or reading the data failed (disk full, permissions...).
    Storage(StorageError),
    /// The disk thread could not be started or died.
    Disk(String),
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionError::Storage(e) => write!(f, "session: {e}"),
            SessionError::Disk(m) => write!(f, "session: disk thread: {m}"),
        }
    }
}

impl std::error::Error for SessionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SessionError::Storage(e) => Some(e),
            SessionError::Disk(_) => None,
        }
    }
}

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
    /// The error that ended the session, if any.
    pub error: Option<SessionError>,
}

#[derive(Debug)]
enum Command {
    Connect(SocketAddr),
    /// A peer that connected to a [`Shared`] listener; `prefix` holds the handshake bytes the
    /// listener read to find the torrent.
    Incoming {
        addr: SocketAddr,
        stream: TcpStream,
        prefix: Vec<u8>,
    },
    Pause,
    Resume,
    Stop,
}

#[derive(Debug)]
enum Net {
    Connected(ConnId, TcpStream),
    ConnectFailed(ConnId),
    Data(ConnId, Vec<u8>),
    Closed(ConnId),
}

/// Binds the peer listener on the first free port of `ports` (the classic client's 6881, then
/// 6882 ... 6889); the error names the whole range when every port is taken.
pub async fn bind_listener(
    ip: IpAddr,
    ports: std::ops::RangeInclusive<u16>,
) -> std::io::Result<TcpListener> {
    let mut last = None;
    for port in ports.clone() {
        match TcpListener::bind(SocketAddr::new(ip, port)).await {
            Ok(l) => return Ok(l),
            Err(e) => last = Some(e),
        }
    }
    let kind = last
        .as_ref()
        .map_or(std::io::ErrorKind::InvalidInput, std::io::Error::kind);
    let why = last.map_or_else(|| "empty port range".to_string(), |e| e.to_string());
    Err(std::io::Error::new(
        kind,
        format!(
            "no port free for peers on {ip} in {}..={}: {why}",
            ports.start(),
            ports.end()
        ),
    ))
}

/// Accepts a peer. After a failure (out of descriptors, say) it waits a little before
/// reporting it, so a listener that keeps failing does not spin its caller's loop.
async fn accept(listener: &TcpListener) -> std::io::Result<(TcpStream, SocketAddr)> {
    let accepted = listener.accept().await;
    if accepted.is_err() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    accepted
}

/// A torrent being downloaded and/or seeded on the current tokio runtime.
#[derive(Debug)]
pub struct Session {
    commands: mpsc::UnboundedSender<Command>,
    progress: watch::Receiver<Progress>,
    task: JoinHandle<Summary>,
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
        let task = tokio::spawn(run(
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
        }
    }

    /// Connects to a peer (ignored if banned or already known; kept waiting at the connection
    /// limit; see [`Torrent::add_peer`]).
    pub fn add_peer(&self, addr: SocketAddr) {
        let _ = self.commands.send(Command::Connect(addr));
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
                error: Some(SessionError::Disk(format!("session task failed: {e}"))),
            },
        }
    }
}

/// One connection's socket side.
struct Link {
    /// Bytes to send, to the writer task.
    writer: mpsc::UnboundedSender<Vec<u8>>,
    /// The reader task, aborted when the torrent drops the connection.
    reader: JoinHandle<()>,
    /// Its slot under the shared connection cap.
    _permit: Permit,
}

struct Driver {
    torrent: Torrent,
    /// The socket side of every connection the torrent has.
    links: HashMap<ConnId, Link>,
    /// The shared-cap slots of the dials under way.
    dialling: HashMap<ConnId, Permit>,
    shared: Option<Shared>,
    net_tx: mpsc::Sender<Net>,
    disk: std_mpsc::Sender<DiskJob>,
    connect_timeout: Duration,
    hash_failures: u32,
    pieces: u32,
    /// Bytes handed to the disk thread and not yet written.
    backlog: usize,
    /// Every bucket a byte sent must pass (this session's, then the shared one).
    up_limit: Vec<Arc<limit::Bucket>>,
    /// Every bucket a byte received must pass.
    down_limit: Vec<Arc<limit::Bucket>>,
}

/// While this many bytes wait for the disk, the network is not read: memory stays bounded and
/// TCP pushes back on the peers.
const MAX_DISK_BACKLOG: usize = 16 << 20;

impl Driver {
    /// A slot under the shared connection cap (always one without a [`Shared`]).
    fn permit(&self) -> Option<Permit> {
        match &self.shared {
            Some(s) => s.try_acquire(),
            None => Some(Permit::unlimited()),
        }
    }

    /// A peer connected to us; `prefix` is what was already read from its socket. The torrent
    /// decides whether to take it.
    fn accept_incoming(&mut self, addr: SocketAddr, stream: TcpStream, prefix: &[u8]) {
        let Some(permit) = self.permit() else {
            return;
        };
        let now = std::time::Instant::now();
        let Some(id) = self.torrent.handle_incoming(now, addr) else {
            return;
        };
        self.attach(id, stream, permit);
        if !prefix.is_empty() {
            self.torrent.handle_bytes(now, id, prefix);
        }
    }

    /// Our dial of `id` connected.
    fn dialled(&mut self, id: ConnId, stream: TcpStream) {
        let permit = self.dialling.remove(&id);
        let now = std::time::Instant::now();
        if let Some(permit) = permit.filter(|_| self.torrent.handle_connected(now, id)) {
            self.attach(id, stream, permit);
        }
    }

    /// Our dial of `id` failed: its slot is free.
    fn dial_failed(&mut self, id: ConnId) {
        self.dialling.remove(&id);
        self.torrent.handle_connect_failed(id);
    }

    /// Starts the reader and writer tasks of connection `id`'s socket.
    fn attach(&mut self, id: ConnId, stream: TcpStream, permit: Permit) {
        let _ = stream.set_nodelay(true);
        let (mut read, mut write) = stream.into_split();
        let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
        let net = self.net_tx.clone();
        let (down, up) = (self.down_limit.clone(), self.up_limit.clone());
        let reader = tokio::spawn(async move {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match read.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        for limit in &down {
                            limit.take(n).await;
                        }
                        if net.send(Net::Data(id, buf[..n].to_vec())).await.is_err() {
                            return;
                        }
                    }
                }
            }
            let _ = net.send(Net::Closed(id)).await;
        });
        tokio::spawn(async move {
            while let Some(bytes) = rx.recv().await {
                for limit in &up {
                    limit.take(bytes.len()).await;
                }
                if write.write_all(&bytes).await.is_err() {
                    break;
                }
            }
            let _ = write.shutdown().await;
        });
        self.links.insert(
            id,
            Link {
                writer: tx,
                reader,
                _permit: permit,
            },
        );
    }

    /// Dials `addr` for the torrent's connection `id` (an [`Action::Connect`]).
    fn dial(&mut self, id: ConnId, addr: SocketAddr) {
        let Some(permit) = self.permit() else {
            // The shared cap is reached: the dial fails at once, as a refused one would.
            self.torrent.handle_connect_failed(id);
            return;
        };
        self.dialling.insert(id, permit);
        let net = self.net_tx.clone();
        let limit = self.connect_timeout;
        tokio::spawn(async move {
            let event = match tokio::time::timeout(limit, TcpStream::connect(addr)).await {
                Ok(Ok(stream)) => Net::Connected(id, stream),
                _ => Net::ConnectFailed(id),
            };
            let _ = net.send(event).await;
        });
    }

    fn forget(&mut self, id: ConnId) {
        if let Some(link) = self.links.remove(&id) {
            link.reader.abort();
        }
    }

    /// Sends pending bytes and performs pending actions; returns a storage error to end on.
    fn pump(&mut self) -> Option<SessionError> {
        loop {
            let mut busy = false;
            let ids: Vec<ConnId> = self.torrent.connections().collect();
            for id in ids {
                while let Some(bytes) = self.torrent.poll_transmit(id) {
                    busy = true;
                    if let Some(link) = self.links.get(&id) {
                        let _ = link.writer.send(bytes);
                    }
                }
            }
            while let Some(action) = self.torrent.poll_action() {
                busy = true;
                let job = match action {
                    Action::Connect { conn, addr } => {
                        self.dial(conn, addr);
                        continue;
                    }
                    Action::Write {
                        piece,
                        offset,
                        data,
                    } => {
                        self.backlog += data.len();
                        DiskJob::Write {
                            piece,
                            offset,
                            data,
                        }
                    }
                    Action::Read { conn, request } => DiskJob::Read { conn, request },
                    Action::Verify { piece } => DiskJob::Verify { piece },
                    Action::Close { conn, .. } => {
                        self.forget(conn);
                        continue;
                    }
                    Action::Completed => DiskJob::Flush,
                    _ => continue,
                };
                if self.disk.send(job).is_err() {
                    return Some(SessionError::Disk("the disk thread stopped".into()));
                }
            }
            if !busy {
                return None;
            }
        }
    }

    fn progress(&self) -> Progress {
        let (d, u) = self.torrent.transferred();
        let (mut dr, mut ur) = (0, 0);
        let mut peer_list = Vec::with_capacity(self.links.len());
        for id in self.torrent.connections() {
            let (Some(c), Some(addr), Some(outgoing)) = (
                self.torrent.connection(id),
                self.torrent.peer_addr(id),
                self.torrent.is_outgoing(id),
            ) else {
                continue;
            };
            dr += c.download_rate();
            ur += c.upload_rate();
            let (downloaded, uploaded) = c.transferred();
            peer_list.push(PeerInfo {
                addr,
                peer_id: c.peer_id(),
                outgoing,
                am_interested: c.am_interested(),
                am_choking: c.am_choking(),
                peer_interested: c.peer_interested(),
                peer_choking: c.peer_choking(),
                snubbed: c.is_snubbed(),
                download_rate: c.download_rate(),
                upload_rate: c.upload_rate(),
                downloaded,
                uploaded,
                pieces: self.torrent.peer_piece_count(id),
            });
        }
        Progress {
            pieces: self.pieces,
            have: self.torrent.have().count(),
            bytes_left: self.torrent.bytes_left(),
            downloaded: d,
            uploaded: u,
            download_rate: dr,
            upload_rate: ur,
            peers: self.links.len(),
            seeds: self.torrent.seed_count(),
            hash_failures: self.hash_failures,
            complete: self.torrent.is_complete(),
            paused: self.torrent.is_paused(),
            verified: self.torrent.have().clone(),
            peer_list,
        }
    }
}

async fn run(
    mut config: SessionConfig,
    storage: Arc<dyn Storage>,
    have: Bitfield,
    listener: Option<TcpListener>,
    mut commands: mpsc::UnboundedReceiver<Command>,
    command_tx: mpsc::UnboundedSender<Command>,
    progress_tx: watch::Sender<Progress>,
) -> Summary {
    let (net_tx, mut net_rx) = mpsc::channel::<Net>(256);
    let (disk_done_tx, mut disk_rx) = mpsc::unbounded_channel::<DiskDone>();
    let hashes = Arc::new(config.piece_hashes.clone());
    let disk = match disk::spawn(storage, hashes, disk_done_tx) {
        Ok(d) => d,
        Err(e) => {
            return Summary {
                have,
                downloaded: 0,
                uploaded: 0,
                error: Some(SessionError::Disk(e.to_string())),
            };
        }
    };
    let pieces = have.len();
    config.torrent.max_connections = config.max_connections;
    let mut d = Driver {
        torrent: Torrent::new(config.torrent.clone(), &have),
        links: HashMap::new(),
        dialling: HashMap::new(),
        shared: config.shared.clone(),
        net_tx,
        disk,
        connect_timeout: config.connect_timeout,
        hash_failures: 0,
        pieces,
        backlog: 0,
        up_limit: limit::Bucket::combine(
            config.max_upload_rate,
            config.shared.as_ref().and_then(Shared::upload_limit),
        ),
        down_limit: limit::Bucket::combine(
            config.max_download_rate,
            config.shared.as_ref().and_then(Shared::download_limit),
        ),
    };
    // Peers that reach the shared listener for our info-hash come to us, until we end.
    let _route = config
        .shared
        .as_ref()
        .map(|s| s.route(config.torrent.info_hash, command_tx.clone()));
    let _ = progress_tx.send(d.progress());
    let (stop_tx, stop_rx) = watch::channel(false);
    let announcer = (!config.trackers.is_empty()).then(|| {
        tokio::spawn(announce::run(
            config.clone(),
            progress_tx.subscribe(),
            command_tx,
            stop_rx,
        ))
    });

    let mut error = None;
    let mut last_progress = Instant::now();
    loop {
        let wake = d.torrent.poll_timeout().map(Instant::from_std);
        tokio::select! {
            biased;
            cmd = commands.recv() => match cmd {
                Some(Command::Connect(addr)) => d.torrent.add_peer(addr),
                Some(Command::Incoming { addr, stream, prefix }) => d.accept_incoming(addr, stream, &prefix),
                Some(Command::Pause) => d.torrent.pause(),
                Some(Command::Resume) => d.torrent.resume(),
                Some(Command::Stop) | None => break,
            },
            done = disk_rx.recv() => match done {
                Some(DiskDone::Verified { piece, ok }) => {
                    if !ok {
                        d.hash_failures += 1;
                    }
                    d.torrent.handle_verified(std::time::Instant::now(), piece, ok);
                }
                Some(DiskDone::Read { conn, request, data }) => {
                    d.torrent.handle_read(std::time::Instant::now(), conn, request, data.as_deref());
                }
                Some(DiskDone::Written(n)) => d.backlog = d.backlog.saturating_sub(n),
                Some(DiskDone::Flushed) => {}
                Some(DiskDone::Failed(e)) => {
                    error = Some(SessionError::Storage(e));
                    break;
                }
                None => {
                    error = Some(SessionError::Disk("the disk thread stopped".into()));
                    break;
                }
            },
            ev = net_rx.recv(), if d.backlog < MAX_DISK_BACKLOG => match ev {
                Some(Net::Connected(id, stream)) => d.dialled(id, stream),
                Some(Net::ConnectFailed(id)) => d.dial_failed(id),
                Some(Net::Data(id, bytes)) => d.torrent.handle_bytes(std::time::Instant::now(), id, &bytes),
                Some(Net::Closed(id)) => {
                    d.forget(id);
                    d.torrent.remove_connection(id);
                }
                None => {}
            },
            accepted = async {
                match &listener {
                    Some(l) => accept(l).await,
                    None => pending().await,
                }
            } => {
                if let Ok((stream, addr)) = accepted {
                    d.accept_incoming(addr, stream, &[]);
                }
            }
            () = async {
                match wake {
                    Some(w) => tokio::time::sleep_until(w).await,
                    None => pending().await,
                }
            } => d.torrent.handle_timeout(std::time::Instant::now()),
        }
        if let Some(e) = d.pump() {
            error = Some(e);
            break;
        }
        let complete = d.torrent.is_complete();
        if last_progress.elapsed() >= Duration::from_millis(200)
            || complete != progress_tx.borrow().complete
            || d.torrent.is_paused() != progress_tx.borrow().paused
        {
            last_progress = Instant::now();
            let _ = progress_tx.send(d.progress());
        }
        if complete && !config.seed {
            break;
        }
    }
    if error.is_none() {
        // Everything queued for the disk is written and synced before we report: a resume file
        // saved from the summary never claims data that is not on disk.
        let flushed = async {
            if d.disk.send(DiskJob::Flush).is_err() {
                return Some(SessionError::Disk("the disk thread stopped".into()));
            }
            while let Some(done) = disk_rx.recv().await {
                match done {
                    DiskDone::Flushed => return None,
                    DiskDone::Failed(e) => return Some(SessionError::Storage(e)),
                    _ => {}
                }
            }
            Some(SessionError::Disk("the disk thread stopped".into()))
        };
        error = tokio::time::timeout(Duration::from_secs(60), flushed)
            .await
            .unwrap_or_else(|_| Some(SessionError::Disk("flushing took over 60 s".into())));
    }
    let _ = progress_tx.send(d.progress());
    let _ = stop_tx.send(true);
    if let Some(mut task) = announcer {
        // The `stopped` announce gets a few seconds, never more.
        if tokio::time::timeout(Duration::from_secs(5), &mut task)
            .await
            .is_err()
        {
            task.abort();
        }
    }
    let p = d.progress();
    Summary {
        have: d.torrent.have().clone(),
        downloaded: p.downloaded,
        uploaded: p.uploaded,
        error,
    }
}
