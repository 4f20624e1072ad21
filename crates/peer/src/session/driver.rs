//! The driver task of one session: it owns the [`Torrent`], feeds it what the sockets, the disk
//! thread, the commands and the timers bring, and carries out its actions. Policy is the
//! torrent's; this file moves bytes and keeps the disk backlog.

use std::collections::HashMap;
use std::future::pending;
use std::net::SocketAddr;
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::disk::{self, DiskDone};
use super::encryption::{self, Encryption};
use super::limit;
use super::sockets::{self, accept_any, Link, Net, Wrap};
use super::transport::{Dialer, PeerStream};
use super::webseeds;
use super::{
    announce, dht_search, Command, PeerInfo, Permit, Progress, SessionConfig, SessionError, Shared,
    Summary,
};
use crate::storage::Storage;
use crate::{Action, Bitfield, ConnId, DiskJob, Torrent};

struct Driver {
    torrent: Torrent,
    /// The DHT node peers' `port` messages are added to (none: no DHT, or a private torrent).
    dht: Option<Arc<torrentkit_dht::Dht>>,
    /// The socket side of every connection the torrent has.
    links: HashMap<ConnId, Link>,
    /// The shared-cap slots of the dials under way.
    dialling: HashMap<ConnId, Permit>,
    shared: Option<Shared>,
    net_tx: mpsc::Sender<Net>,
    disk: std_mpsc::Sender<DiskJob>,
    /// Opens the connections we dial, over the transports `--transport` allows.
    dialer: Dialer,
    hash_failures: u32,
    pieces: u32,
    /// Bytes handed to the disk thread and not yet written.
    backlog: usize,
    /// Every bucket a byte sent must pass (this session's, then the shared one).
    up_limit: Vec<Arc<limit::Bucket>>,
    /// Every bucket a byte received must pass.
    down_limit: Vec<Arc<limit::Bucket>>,
    /// Protocol encryption for the connections we dial.
    encryption: Encryption,
    info_hash: [u8; 20],
    /// Incoming peers of our own listener still being told apart (bounded).
    classifying: Arc<std::sync::atomic::AtomicUsize>,
    /// Starts the web seeds' fetches (`None`: the torrent has none, or they are off).
    web: Option<webseeds::WebRunner>,
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
    fn accept_incoming(
        &mut self,
        addr: SocketAddr,
        stream: PeerStream,
        prefix: Bytes,
        streams: Option<Box<torrentkit_wire::mse::Streams>>,
    ) {
        let Some(permit) = self.permit() else {
            return;
        };
        let now = std::time::Instant::now();
        let Some(id) = self.torrent.handle_incoming(now, addr) else {
            return;
        };
        self.attach(id, stream, permit, Wrap::Ready(streams));
        if !prefix.is_empty() {
            self.torrent.handle_bytes(now, id, prefix);
        }
    }

    /// Our dial of `id` connected.
    fn dialled(&mut self, id: ConnId, stream: PeerStream) {
        let permit = self.dialling.remove(&id);
        let now = std::time::Instant::now();
        if let Some(permit) = permit.filter(|_| self.torrent.handle_connected(now, id)) {
            let wrap = match (self.encryption, self.torrent.peer_addr(id)) {
                (Encryption::Plaintext, _) | (_, None) => Wrap::Ready(None),
                (policy, Some(addr)) => Wrap::Dial {
                    addr,
                    policy,
                    info_hash: self.info_hash,
                    dialer: self.dialer.clone(),
                },
            };
            self.attach(id, stream, permit, wrap);
        }
    }

    /// Our dial of `id` failed: its slot is free.
    fn dial_failed(&mut self, id: ConnId) {
        self.dialling.remove(&id);
        self.torrent
            .handle_dial_failed(std::time::Instant::now(), id);
    }

    /// Starts the reader and writer tasks of connection `id`'s socket.
    fn attach(&mut self, id: ConnId, stream: PeerStream, permit: Permit, wrap: Wrap) {
        // PEX's `added.f` says which peers speak uTP: those we reach over it.
        self.torrent.set_utp(id, stream.is_utp());
        let link = Link::spawn(
            id,
            stream,
            permit,
            self.net_tx.clone(),
            self.down_limit.clone(),
            self.up_limit.clone(),
            wrap,
        );
        self.links.insert(id, link);
    }

    /// Dials `addr` for the torrent's connection `id` (an [`Action::Connect`]).
    fn dial(&mut self, id: ConnId, addr: SocketAddr) {
        let Some(permit) = self.permit() else {
            // The shared cap is reached: the dial fails at once, as a refused one would.
            self.torrent
                .handle_dial_failed(std::time::Instant::now(), id);
            return;
        };
        self.dialling.insert(id, permit);
        sockets::dial(id, addr, self.dialer.clone(), self.net_tx.clone());
    }

    fn forget(&mut self, id: ConnId) {
        if let Some(link) = self.links.remove(&id) {
            link.reader.abort();
        }
    }

    /// A peer's address for the log (its connection id when the address is not known).
    fn peer_name(&self, conn: ConnId) -> String {
        match self.links.get(&conn).and_then(|l| l.addr) {
            Some(addr) => addr.to_string(),
            None => format!("{conn:?}"),
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
                match action {
                    Action::Connect { conn, addr } => self.dial(conn, addr),
                    Action::Disk(job) => {
                        if let DiskJob::Write { data, .. } = &job {
                            self.backlog += data.len();
                        }
                        if self.disk.send(job).is_err() {
                            return Some(SessionError::Disk("the disk thread stopped".into()));
                        }
                    }
                    Action::Ignored { conn, why } => {
                        match self.links.get(&conn).and_then(|l| l.addr) {
                            Some(addr) => log::info!("peer {addr}: dropped a message: {why}"),
                            None => log::info!("connection {conn:?}: dropped a message: {why}"),
                        }
                    }
                    Action::Close { conn, reason } => {
                        match self.links.get(&conn).and_then(|l| l.addr) {
                            Some(addr) => log::info!("peer {addr}: closed: {reason}"),
                            None => log::info!("connection {conn:?}: closed: {reason}"),
                        }
                        self.forget(conn);
                    }
                    Action::BadBlock {
                        conn,
                        addr,
                        piece,
                        offset,
                    } => {
                        // The sender may be gone (banned, say) by the time its block is found.
                        let who = addr.map_or_else(|| self.peer_name(conn), |a| a.to_string());
                        log::info!(
                            "peer {who}: bad block: piece {piece} offset {offset} did not match \
                             the Merkle tree; refetching that block only"
                        );
                    }
                    Action::ForgedHashes { conn, piece } => {
                        let who = self.peer_name(conn);
                        log::info!(
                            "peer {who}: forged hashes: its leaf hashes of piece {piece} do not \
                             hash to the trusted piece hash"
                        );
                    }
                    Action::Ban { conn } => {
                        log::info!("peer {}: banned for bad data", self.peer_name(conn));
                    }
                    Action::DhtNode(node) => {
                        if let Some(dht) = &self.dht {
                            let _ = dht.add_node(node);
                        }
                    }
                    // Bans are the torrent's to keep; verified pieces and completion show in
                    // the progress.
                    _ => {}
                }
            }
            if !busy {
                return None;
            }
        }
    }

    fn progress(&self) -> Progress {
        let (d, u) = self.torrent.transferred();
        let d = d + self.torrent.web_downloaded();
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
                encrypted: self.links.get(&id).is_some_and(Link::is_encrypted),
                utp: self.links.get(&id).is_some_and(|l| l.utp),
                source: self
                    .torrent
                    .peer_source(id)
                    .unwrap_or(crate::PeerSource::Manual),
            });
        }
        Progress {
            pieces: self.pieces,
            have: self.torrent.have().count(),
            total: self.torrent.total_length(),
            bytes_left: self.torrent.bytes_left(),
            downloaded: d,
            uploaded: u,
            download_rate: dr,
            upload_rate: ur,
            peers: self.links.len(),
            seeds: self.torrent.seed_count(),
            hash_failures: self.hash_failures,
            complete: self.torrent.wanted_complete(),
            paused: self.torrent.is_paused(),
            verified: self.torrent.have().clone(),
            peer_list,
            web_seeds: self.torrent.web_seeds(),
            metadata: None,
        }
    }
}

pub(super) async fn run(
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
    let hashes: Arc<dyn super::PieceHashes + Send + Sync> = match &config.v2_hashes {
        Some(v2) => v2.clone(),
        None => Arc::new(config.piece_hashes.clone()),
    };
    let disk = match disk::spawn(storage, hashes, disk_done_tx) {
        Ok(d) => d,
        Err(e) => {
            return Summary {
                have,
                downloaded: 0,
                uploaded: 0,
                duplicates: 0,
                error: Some(SessionError::Disk(e.to_string())),
            };
        }
    };
    let pieces = have.len();
    config.torrent.max_connections = config.max_connections;
    let dht = dht_search::dht_for(&config);
    config.torrent.connection.dht_port = dht.as_ref().map(|d| d.local_addr().port());
    let mut d = Driver {
        torrent: Torrent::new(config.torrent.clone(), &have),
        dht: dht.clone(),
        links: HashMap::new(),
        dialling: HashMap::new(),
        shared: config.shared.clone(),
        net_tx,
        disk,
        dialer: Dialer::new(config.transport, config.utp.clone(), config.connect_timeout),
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
        encryption: config.encryption,
        info_hash: config.torrent.info_hash,
        classifying: Arc::default(),
        web: None,
    };
    let mut web_rx = None;
    if let Some((runner, rx)) =
        webseeds::WebRunner::new(&config.web_seeds, config.torrent.info_hash, &mut d.torrent)
    {
        runner.start(&mut d.torrent);
        d.web = Some(runner);
        web_rx = Some(rx);
    }
    // Peers that reach the shared listener for our info-hash come to us, until we end.
    let _route = config
        .shared
        .as_ref()
        .map(|s| s.route(config.torrent.info_hash, command_tx.clone()));
    let _ = progress_tx.send(d.progress());
    let incoming_tx = command_tx.clone();
    let dht_task = dht_search::Task::spawn(
        dht,
        config.torrent.info_hash,
        config.listen_port,
        progress_tx.subscribe(),
        command_tx.clone(),
    );
    let announcer = announce::Task::spawn(config.clone(), progress_tx.subscribe(), command_tx);

    let mut error = None;
    let mut last_progress = Instant::now();
    loop {
        let wake = d.torrent.poll_timeout().map(Instant::from_std);
        tokio::select! {
            biased;
            cmd = commands.recv() => match cmd {
                Some(Command::Connect(addr)) => d.torrent.add_peer(addr),
                Some(Command::ConnectFrom(addr, source)) => d.torrent.add_peer_from(addr, source),
                Some(Command::Incoming { addr, stream, prefix, streams }) => d.accept_incoming(addr, stream, prefix.into(), streams),
                Some(Command::Pause) => d.torrent.pause(),
                Some(Command::Resume) => d.torrent.resume(),
                Some(Command::Stop) | None => break,
                Some(Command::Window { reader, pieces }) => d.torrent.set_window(std::time::Instant::now(), reader, pieces),
                Some(Command::Priorities(p)) => d.torrent.set_priorities(std::time::Instant::now(), p),
            },
            done = disk_rx.recv() => match done {
                Some(DiskDone::Verified { piece, ok }) => {
                    if !ok {
                        d.hash_failures += 1;
                    }
                    d.torrent.handle_verified(std::time::Instant::now(), piece, ok);
                }
                Some(DiskDone::PieceLeaves { piece, hashes }) => {
                    d.torrent.handle_piece_leaves(std::time::Instant::now(), piece, hashes);
                }
                Some(DiskDone::Read { conn, request, data }) => {
                    d.torrent.handle_read(std::time::Instant::now(), conn, request, data.as_deref());
                }
                Some(DiskDone::BlockHashes { conn, request, leaves }) => {
                    d.torrent.handle_block_hashes(std::time::Instant::now(), conn, request, leaves);
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
            Some(done) = async {
                match &mut web_rx {
                    Some(rx) => rx.recv().await,
                    None => pending().await,
                }
            }, if d.backlog < MAX_DISK_BACKLOG => webseeds::finish(&mut d.torrent, done),
            ev = net_rx.recv(), if d.backlog < MAX_DISK_BACKLOG => match ev {
                Some(Net::Connected(id, stream)) => d.dialled(id, stream),
                Some(Net::ConnectFailed(id)) => d.dial_failed(id),
                Some(Net::Data(id, bytes)) => d.torrent.handle_bytes(std::time::Instant::now(), id, bytes),
                Some(Net::Closed(id)) => {
                    d.forget(id);
                    d.torrent.remove_connection(id);
                }
                None => {}
            },
            // With its own listener the session takes the uTP endpoint's incoming peers too
            // (sessions under a `Shared` listener get them from `Shared::serve_utp`).
            accepted = accept_any(
                listener.as_ref(),
                config.utp.as_deref().filter(|_| listener.is_some()),
                config.transport,
            ) => {
                if let Ok((stream, addr)) = accepted {
                    // Plaintext or MSE, told apart by the first bytes off the driver's loop.
                    encryption::spawn_classify(stream, addr, d.encryption, d.info_hash, incoming_tx.clone(), &d.classifying);
                }
            }
            () = async {
                match wake {
                    Some(w) => tokio::time::sleep_until(w).await,
                    None => pending().await,
                }
            } => {
                // PEX's `added.f` says which peers are encrypted: the sockets know, the torrent
                // is told before its timers (which send PEX) run.
                for (&id, link) in &d.links {
                    d.torrent.set_encrypted(id, link.is_encrypted());
                }
                d.torrent.handle_timeout(std::time::Instant::now());
            }
        }
        if let Some(web) = &d.web {
            web.start(&mut d.torrent);
        }
        if let Some(e) = d.pump() {
            error = Some(e);
            break;
        }
        let complete = d.torrent.wanted_complete();
        if last_progress.elapsed() >= Duration::from_millis(200)
            // Readers wait for pieces: each verified one shows at once.
            || (d.torrent.has_windows() && d.torrent.have().count() != progress_tx.borrow().have)
            || complete != progress_tx.borrow().complete
            || d.torrent.is_paused() != progress_tx.borrow().paused
            // Every connection shows in some snapshot, however short-lived (peer lists).
            || d.links.len() != progress_tx.borrow().peers
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
    dht_task.stop();
    announcer.stop().await;
    let p = d.progress();
    Summary {
        have: d.torrent.have().clone(),
        downloaded: p.downloaded,
        uploaded: p.uploaded,
        duplicates: d.torrent.wasted(),
        error,
    }
}
