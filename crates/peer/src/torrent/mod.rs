//! One torrent's swarm logic as a sans-IO state machine: it owns the connections, the piece
//! picker and the choker, and asks its driver to dial peers, write blocks through, read blocks
//! for peers and verify completed pieces; peers that keep sending bad data are banned.
//!
//! This file holds the state and the flow of events; which peers to dial and accept (the pool,
//! the cap, bans, pause) is in `connections.rs`, who to blame for bad data in `blame.rs`, the
//! settings in `config.rs` and the driver's instructions in `action.rs`.

mod action;
mod bad_block;
mod blame;
mod config;
mod connections;
mod hash_replies;
mod hash_serve;
mod merkle_pieces;
mod pex;
mod priorities;
mod redial;
mod seed_view;
mod super_seed;
#[cfg(test)]
mod tests;
mod webseed;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use bytes::Bytes;

use crate::connection::{CloseReason, ConnEvent, Connection, ProtocolViolation};
use crate::storage::piece_size;
use crate::{
    Bitfield, BlockRequest, ChokeChanges, Choker, ConnId, PeerSource, PeerStats, Picker, Received,
};

pub use action::{Action, DiskJob};
pub use bad_block::HUNT_WAIT;
pub use config::TorrentConfig;
pub use hash_serve::HashTrees;
pub use merkle_pieces::{MerklePiece, MerklePieces};
pub use pex::pex_flags;

#[derive(Debug)]
struct Peer {
    conn: Connection,
    strikes: u32,
    is_seed: bool,
    addr: SocketAddr,
    /// We dialled it (rather than it us).
    outgoing: bool,
    /// Where we learnt of it.
    source: PeerSource,
    /// The port it listens on, from its extension handshake (for PEX of incoming peers).
    listen_port: Option<u16>,
    /// The connection is encrypted (for PEX `added.f`; set by the driver).
    encrypted: bool,
    /// The connection runs over uTP (for PEX `added.f`; set by the driver).
    utp: bool,
    /// What we told it by PEX.
    pex: pex::PexState,
}

/// A torrent's peers, pieces and choking, without sockets, disk or clock.
///
/// Give it peers with [`add_peer`](Self::add_peer) and dial the ones [`Action::Connect`] names,
/// reporting with [`handle_connected`](Self::handle_connected) or
/// [`handle_connect_failed`](Self::handle_connect_failed); hand it peers that connect to us with
/// [`handle_incoming`](Self::handle_incoming). Feed connections' bytes to
/// [`handle_bytes`](Self::handle_bytes); call [`handle_timeout`](Self::handle_timeout) at
/// [`poll_timeout`](Self::poll_timeout). After each input, send every connection's
/// [`poll_transmit`](Self::poll_transmit) and perform [`poll_action`](Self::poll_action)s.
#[derive(Debug)]
pub struct Torrent {
    cfg: TorrentConfig,
    picker: Picker,
    choker: Choker,
    peers: BTreeMap<ConnId, Peer>,
    actions: VecDeque<Action>,
    verifying: HashMap<u32, ()>,
    /// Pieces that failed a hash check before: their blocks are checksummed on arrival, so the
    /// next failure or success can be compared block by block. (Other pieces skip the cost.)
    watched: std::collections::HashSet<u32>,
    /// Per block of each watched piece in progress: who sent it and a keyed checksum.
    sums: HashMap<u32, Vec<Option<(ConnId, u64)>>>,
    /// The block sums of pieces whose last attempt failed with several senders, kept until the
    /// piece passes: then the senders of blocks that differ from the good ones are to blame.
    failed: HashMap<u32, Vec<Option<(ConnId, u64)>>>,
    sum_key: u64,
    /// Failed pieces of v2 and hybrid torrents whose bad blocks are being found (`bad_block.rs`).
    hunts: BTreeMap<u32, bad_block::Hunt>,
    wasted: u64,
    /// Payload bytes moved over connections that have since closed.
    closed_transfer: (u64, u64),
    completed_sent: bool,
    /// Addresses to dial when a slot frees, oldest first.
    pool: VecDeque<SocketAddr>,
    /// Dials under way: the id the connection gets and the address.
    dialling: BTreeMap<ConnId, SocketAddr>,
    banned: HashSet<IpAddr>,
    paused: bool,
    /// The peers we had dialled before a pause, dialled again on resume.
    paused_peers: Vec<SocketAddr>,
    next_conn: u64,
    /// Web seeds (BEP 19/17), each a have-all peer of the picker (`webseed.rs`).
    web: crate::webseed::WebSeeds,
    /// What we gave out as a seed, so the first copy goes out in distinct pieces.
    seed_view: seed_view::SeedView,
    /// Super-seeding (BEP 16), when [`TorrentConfig::super_seed`] is set.
    super_seed: Option<super_seed::SuperSeed>,
    /// Failed and dropped peers to dial again, with backoff.
    redial: redial::Redial,
    /// Where each address waiting in the pool or being dialled came from.
    sources: HashMap<SocketAddr, PeerSource>,
    /// Answering BEP 52 hash requests (`hash_serve.rs`).
    hash_serve: hash_serve::HashServe,
}

impl Torrent {
    /// A torrent that already has the pieces in `have` (from a resume file or a re-check).
    pub fn new(mut cfg: TorrentConfig, have: &Bitfield) -> Self {
        let mut picker = Picker::with_sizes(
            cfg.total_length,
            cfg.piece_length,
            cfg.picker.clone(),
            cfg.seed,
        );
        for p in have.iter() {
            picker.mark_have(p);
        }
        cfg.connection.info_hash = cfg.info_hash;
        cfg.connection.peer_id = cfg.peer_id;
        cfg.connection.piece_count = picker.piece_count();
        let choker = Choker::new(cfg.choker.clone(), cfg.seed ^ 0x00C4_0CE5);
        let picker_pieces = picker.piece_count();
        let completed_sent = picker.is_complete();
        let sum_key = crate::Rng::new(cfg.seed ^ 0x5EED_5A17).next_u64();
        Torrent {
            picker,
            choker,
            peers: BTreeMap::new(),
            actions: VecDeque::new(),
            verifying: HashMap::new(),
            watched: std::collections::HashSet::new(),
            sums: HashMap::new(),
            failed: HashMap::new(),
            sum_key,
            hunts: BTreeMap::new(),
            wasted: 0,
            closed_transfer: (0, 0),
            completed_sent,
            pool: VecDeque::new(),
            dialling: BTreeMap::new(),
            banned: HashSet::new(),
            paused: false,
            paused_peers: Vec::new(),
            next_conn: 0,
            web: Default::default(),
            seed_view: seed_view::SeedView::new(picker_pieces, completed_sent),
            super_seed: cfg
                .super_seed
                .then(|| super_seed::SuperSeed::new(picker_pieces)),
            redial: redial::Redial::default(),
            sources: HashMap::new(),
            hash_serve: hash_serve::HashServe::new(cfg.hash_trees.clone()),
            cfg,
        }
    }

    /// The verified pieces.
    pub fn have(&self) -> &Bitfield {
        self.picker.have()
    }

    /// Whether every piece is verified.
    pub fn is_complete(&self) -> bool {
        self.picker.is_complete()
    }

    /// Bytes not yet verified.
    pub fn bytes_left(&self) -> u64 {
        self.picker.bytes_left()
    }

    /// Bytes in the torrent.
    pub fn total_length(&self) -> u64 {
        self.cfg.total_length
    }

    /// Connections, handshaken or not.
    pub fn connections(&self) -> impl Iterator<Item = ConnId> + '_ {
        self.peers.keys().copied()
    }

    /// How many pieces the peer on `id` has announced.
    pub fn peer_piece_count(&self, id: ConnId) -> u32 {
        self.picker.peer_piece_count(id)
    }

    /// How many connected peers are seeds.
    pub fn seed_count(&self) -> usize {
        self.peers.values().filter(|p| p.is_seed).count()
    }

    /// Payload bytes downloaded and uploaded, over all connections past and present.
    pub fn transferred(&self) -> (u64, u64) {
        self.peers
            .values()
            .map(|p| p.conn.transferred())
            .fold(self.closed_transfer, |(d, u), (a, b)| (d + a, u + b))
    }

    /// Removes a peer from every structure, keeping its transfer totals.
    fn forget_peer(&mut self, id: ConnId) -> bool {
        let Some(p) = self.peers.remove(&id) else {
            return false;
        };
        // Where we learnt of it is kept only while it will be dialled again (a redial is due,
        // or a pause will dial it on resume).
        if !self.paused && !self.redial.is_due(&p.addr) {
            self.sources.remove(&p.addr);
        }
        let (d, u) = p.conn.transferred();
        self.closed_transfer.0 += d;
        self.closed_transfer.1 += u;
        let picker = &self.picker;
        // The last time the torrent was given: when the peer left.
        if let Some(now) = self.redial.now {
            self.seed_view
                .remove_peer(now, id, |piece| picker.peer_has(id, piece));
        }
        self.picker.remove_peer(id);
        self.choker.remove_peer(id);
        self.hash_serve.remove_peer(id);
        if let Some(ss) = &mut self.super_seed {
            ss.remove_peer(id);
        }
        self.fill_connections();
        true
    }

    /// Bytes received that were not needed (duplicates in endgame, late blocks).
    pub fn wasted(&self) -> u64 {
        self.wasted
    }

    /// A connection, to inspect.
    pub fn connection(&self, id: ConnId) -> Option<&Connection> {
        self.peers.get(&id).map(|p| &p.conn)
    }

    /// The socket of `id` closed (or failed): forget the peer (one we had dialled is dialled
    /// again after a backoff).
    pub fn remove_connection(&mut self, id: ConnId) {
        let dropped = self
            .peers
            .get(&id)
            .filter(|p| p.outgoing)
            .map(|p| (p.addr, p.is_seed));
        // The redial is scheduled first, so that forgetting the peer keeps its source for it.
        if let Some((addr, was_seed)) = dropped {
            self.redial_dropped(addr, was_seed);
        }
        self.forget_peer(id);
    }

    /// Bytes to send on `id`.
    pub fn poll_transmit(&mut self, id: ConnId) -> Option<Vec<u8>> {
        self.peers.get_mut(&id)?.conn.poll_transmit()
    }

    /// The next action for the driver.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let conns = self.peers.values().filter_map(|p| p.conn.poll_timeout());
        conns
            .chain(self.choker.poll_timeout())
            .chain(self.web.poll_timeout())
            .chain(self.redial.next_due())
            .chain(self.pex_timeout())
            .chain(self.hunt_timeout())
            .min()
    }

    /// Bytes received on `id` at `now`; the blocks in them go to [`DiskJob::Write`] as slices
    /// of `data`.
    pub fn handle_bytes(&mut self, now: Instant, id: ConnId, data: Bytes) {
        self.redial.now = Some(now);
        let Some(peer) = self.peers.get_mut(&id) else {
            return;
        };
        peer.conn.handle_bytes(now, data);
        self.process(now, id);
    }

    /// Timers due at `now`: every connection's, and the choker's rounds.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.redial.now = Some(now);
        self.redial_due(now);
        let ids: Vec<ConnId> = self.peers.keys().copied().collect();
        for id in &ids {
            if let Some(p) = self.peers.get_mut(id) {
                if p.conn.poll_timeout().is_some_and(|t| t <= now) {
                    p.conn.handle_timeout(now);
                    self.process(now, *id);
                }
            }
        }
        if self.choker.poll_timeout().is_none_or(|t| t <= now) {
            // Each round, pieces peers refused us may be asked of them again.
            self.picker.forget_refusals();
            let stats = self.stats();
            let changes = self
                .choker
                .handle_timeout(now, self.picker.is_complete(), &stats);
            self.apply_choke(now, changes);
        }
        self.pex_tick(now);
        self.hunt_timeouts(now);
    }

    /// The block a [`DiskJob::Read`] asked for (`None`: it could not be read; the request is
    /// dropped).
    pub fn handle_read(
        &mut self,
        now: Instant,
        id: ConnId,
        request: BlockRequest,
        data: Option<&[u8]>,
    ) {
        if let (Some(p), Some(data)) = (self.peers.get_mut(&id), data) {
            p.conn.send_block(now, request, data);
        }
    }

    /// The result of a [`DiskJob::Verify`].
    pub fn handle_verified(&mut self, now: Instant, piece: u32, ok: bool) {
        if self.verifying.remove(&piece).is_none() {
            return;
        }
        if ok {
            self.blame_after_pass(piece);
            self.picker.piece_verified(piece);
            self.actions.push_back(Action::PieceVerified(piece));
            let ids: Vec<ConnId> = self.peers.keys().copied().collect();
            for id in ids {
                if let Some(p) = self.peers.get_mut(&id) {
                    p.conn.send_have(now, piece);
                }
                self.update_interest(now, id);
            }
            if self.picker.is_complete() && !self.completed_sent {
                self.completed_sent = true;
                self.actions.push_back(Action::Disk(DiskJob::Flush));
                self.actions.push_back(Action::Completed);
                // Seeds have nothing for each other.
                let seeds: Vec<ConnId> = self
                    .peers
                    .iter()
                    .filter(|(_, p)| p.is_seed)
                    .map(|(&id, _)| id)
                    .collect();
                for id in seeds {
                    self.drop_peer(id, CloseReason::Local);
                }
            }
        } else if !self.start_hunt(now, piece) {
            self.refetch_whole(now, piece);
        }
    }

    /// Super-seeding: shows `id` its next piece if it is due one.
    fn super_reveal(&mut self, now: Instant, id: ConnId) {
        let Some(ss) = &mut self.super_seed else {
            return;
        };
        if let Some(piece) = ss.next_reveal(id, &self.picker) {
            if let Some(p) = self.peers.get_mut(&id) {
                p.conn.send_have(now, piece);
            }
        }
    }

    fn stats(&self) -> Vec<PeerStats> {
        self.peers
            .iter()
            .filter(|(_, p)| p.conn.is_connected())
            .map(|(&id, p)| PeerStats {
                id,
                interested: p.conn.peer_interested(),
                download_rate: p.conn.download_rate(),
                upload_rate: p.conn.upload_rate(),
                connected_at: p.conn.connected_at(),
                last_block_at: p.conn.last_block_at(),
            })
            .collect()
    }

    fn apply_choke(&mut self, now: Instant, changes: ChokeChanges) {
        for id in changes.choke {
            if let Some(p) = self.peers.get_mut(&id) {
                p.conn.set_choking(now, true);
            }
        }
        for id in changes.unchoke {
            if let Some(p) = self.peers.get_mut(&id) {
                p.conn.set_choking(now, false);
            }
        }
    }

    fn drop_peer(&mut self, id: ConnId, reason: CloseReason) {
        if self.forget_peer(id) {
            self.actions.push_back(Action::Close { conn: id, reason });
        }
    }

    fn update_interest(&mut self, now: Instant, id: ConnId) {
        let interesting = self.picker.is_interesting(id);
        if let Some(p) = self.peers.get_mut(&id) {
            p.conn.set_interested(now, interesting);
        }
        self.fill_requests(now, id);
    }

    fn fill_requests(&mut self, now: Instant, id: ConnId) {
        let Some(p) = self.peers.get_mut(&id) else {
            return;
        };
        let slots = p.conn.request_slots();
        let choked_slots = p.conn.choked_request_slots();
        let reqs = if slots > 0 {
            self.picker.pick(id, slots)
        } else if choked_slots > 0 && self.picker.has_allowed_fast(id) {
            // Choked, but allowed-fast pieces (BEP 6) may be requested anyway.
            self.picker.pick_allowed_fast(id, choked_slots)
        } else {
            return;
        };
        if let Some(p) = self.peers.get_mut(&id) {
            p.conn.send_requests(now, &reqs);
        }
    }

    fn process(&mut self, now: Instant, id: ConnId) {
        let mut rechoke = false;
        let mut interest = false;
        loop {
            let Some(p) = self.peers.get_mut(&id) else {
                return;
            };
            let Some(event) = p.conn.poll_event() else {
                break;
            };
            match event {
                ConnEvent::Connected { .. } => {
                    let mut have = self.picker.have().clone();
                    if let Some(ss) = self.super_seed.as_mut().filter(|_| have.is_full()) {
                        have = Bitfield::new(have.len());
                        ss.hide_from(id);
                    }
                    p.conn.send_bitfield(now, &have);
                    p.conn.send_dht_port(now);
                    self.picker.add_peer(id);
                    self.super_reveal(now, id);
                }
                ConnEvent::Bitfield(b) => {
                    p.is_seed = b.is_full();
                    if p.is_seed {
                        self.picker.peer_have_all(id);
                    } else {
                        self.picker.peer_bitfield(id, &b);
                    }
                    interest = true;
                    if let Some(ss) = &mut self.super_seed {
                        for piece in b.iter() {
                            ss.peer_has(id, piece);
                        }
                    }
                    if let Some(piece) = b.iter().next() {
                        self.seed_view.peer_has(now, id, piece);
                    }
                    if p.is_seed && self.picker.is_complete() {
                        // Seeds have nothing for each other.
                        self.drop_peer(id, CloseReason::Local);
                        return;
                    }
                }
                ConnEvent::HaveAll => {
                    p.is_seed = true;
                    self.picker.peer_have_all(id);
                    interest = true;
                    if self.picker.is_complete() {
                        self.drop_peer(id, CloseReason::Local);
                        return;
                    }
                }
                ConnEvent::Suggest(piece) => self.picker.suggest(id, piece),
                ConnEvent::AllowedFast(piece) => self.picker.allow_fast(id, piece),
                ConnEvent::HaveNone => {
                    self.picker.peer_have_none(id);
                }
                ConnEvent::Have(piece) => {
                    self.picker.peer_have(id, piece);
                    self.seed_view.peer_has(now, id, piece);
                    if let Some(ss) = &mut self.super_seed {
                        ss.peer_has(id, piece);
                    }
                    interest |= !self.picker.have().contains(piece);
                }
                ConnEvent::PeerInterested(true) => rechoke = true,
                ConnEvent::PeerInterested(false) => rechoke = self.choker.is_unchoked(id),
                ConnEvent::Unchoked | ConnEvent::Choked | ConnEvent::Snubbed => {}
                ConnEvent::Block {
                    piece,
                    offset,
                    data,
                    ..
                } => {
                    // false: never requested, and the peer is dropped.
                    let accepted = self.accept_block(now, id, piece, offset, data);
                    if !accepted {
                        return;
                    }
                }
                ConnEvent::Rejected(r) => self.picker.request_rejected(id, r.piece, r.offset),
                ConnEvent::Released(rs) => {
                    for r in rs {
                        self.picker.request_failed(id, r.piece, r.offset);
                    }
                }
                ConnEvent::ReadBlock(r) => {
                    let size = piece_size(self.cfg.total_length, self.cfg.piece_length, r.piece);
                    let fits = u64::from(r.offset) + u64::from(r.len) <= u64::from(size);
                    let distinct = match &self.super_seed {
                        Some(ss) if ss.hides_from(id) => ss.may_serve(id, r.piece),
                        _ => {
                            !self.picker.is_complete()
                                || !p.conn.fast()
                                || self.seed_view.may_serve(
                                    now,
                                    id,
                                    r,
                                    self.picker.availability(r.piece) > 0,
                                    |taker| self.picker.peer_has(taker, r.piece),
                                )
                        }
                    };
                    if !distinct {
                        p.conn.reject(now, r);
                        let picker = &self.picker;
                        let hint = self
                            .seed_view
                            .suggestion(r.piece, |q| !picker.peer_has(id, q));
                        if let Some(q) = hint.filter(|_| self.super_seed.is_none()) {
                            p.conn.suggest(now, q);
                        }
                    } else if self.picker.have().contains(r.piece) && fits {
                        self.actions.push_back(Action::Disk(DiskJob::Read {
                            conn: id,
                            request: r,
                        }));
                    }
                }
                ConnEvent::ExtensionHandshake { listen_port, .. } => p.listen_port = listen_port,
                ConnEvent::Extensions { .. } => self.pex_start(now, id),
                ConnEvent::Pex(msg) => self.pex_received(&msg),
                ConnEvent::Closed(reason) => {
                    self.forget_peer(id);
                    self.actions.push_back(Action::Close { conn: id, reason });
                    return;
                }
                ConnEvent::HashRequest(r) => self.serve_hash_request(now, id, r),
                ConnEvent::Hashes { request, hashes } => {
                    self.on_hashes(now, id, request, hashes);
                }
                ConnEvent::HashRejected(r) => self.on_hash_rejected(now, id, r),
                ConnEvent::ExtensionIgnored(why) => {
                    self.actions.push_back(Action::Ignored { conn: id, why });
                }
                // Only when we run a DHT for this torrent (never for a private one).
                ConnEvent::DhtPort(port) if p.conn.runs_dht() => {
                    let node = SocketAddr::new(p.addr.ip(), port);
                    self.actions.push_back(Action::DhtNode(node));
                }
                _ => {}
            }
        }
        self.super_reveal(now, id);
        if interest {
            self.update_interest(now, id);
        } else {
            self.fill_requests(now, id);
        }
        if rechoke {
            // A free slot is not left idle until the next 10 s round.
            let unchoked = self
                .peers
                .keys()
                .filter(|&&i| self.choker.is_unchoked(i))
                .count();
            if unchoked < self.cfg.choker.upload_slots + 1 {
                let stats = self.stats();
                let changes = self.choker.rechoke(now, self.picker.is_complete(), &stats);
                self.apply_choke(now, changes);
            }
        }
    }

    /// A block from `id` (a peer, or a web seed's reply cut into blocks): written and, when its
    /// piece is complete, verified; false when it was never requested and the peer is dropped.
    fn accept_block(
        &mut self,
        now: Instant,
        id: ConnId,
        piece: u32,
        offset: u32,
        data: Bytes,
    ) -> bool {
        let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        match self.picker.block_received(id, piece, offset, len) {
            Received::New {
                cancel,
                piece_complete,
            } => {
                self.record_block_sum(id, piece, offset, &data);
                for other in cancel {
                    if let Some(o) = self.peers.get_mut(&other) {
                        o.conn.cancel(now, BlockRequest { piece, offset, len });
                    }
                }
                self.actions.push_back(Action::Disk(DiskJob::Write {
                    piece,
                    offset,
                    data,
                }));
                if piece_complete {
                    self.verifying.insert(piece, ());
                    self.actions
                        .push_back(Action::Disk(DiskJob::Verify { piece }));
                }
            }
            Received::Duplicate => self.wasted += u64::from(len),
            Received::Invalid => {
                let violation = ProtocolViolation::UnrequestedBlock { piece, offset, len };
                self.drop_peer(id, violation.into());
                return false;
            }
        }
        true
    }
}
