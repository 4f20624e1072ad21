//! Which peers the torrent connects to and accepts: a bounded pool of addresses to dial, the
//! connection cap, banned addresses, and pausing (drop everything, dial the same peers again on
//! resume). The driver only dials what [`Action::Connect`] names and reports the outcome.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use super::{Action, Peer, Torrent};
use crate::connection::{CloseReason, Connection};
use crate::{ConnId, PeerSource};

impl Torrent {
    /// A peer to connect to (from a tracker, the user, or another peer). Ignored if its address
    /// is banned, already connected or being dialled, or already waiting; dialled at once
    /// ([`Action::Connect`]) when under [`TorrentConfig::max_connections`](super::TorrentConfig::max_connections)
    /// and not paused, otherwise kept in the pool (at most
    /// [`TorrentConfig::max_pool`](super::TorrentConfig::max_pool) addresses) until a slot frees.
    pub fn add_peer(&mut self, addr: SocketAddr) {
        self.add_peer_from(addr, PeerSource::Manual);
    }

    /// [`add_peer`](Self::add_peer) of a peer learnt from `source`, which its peer list entry
    /// keeps.
    pub fn add_peer_from(&mut self, addr: SocketAddr, source: PeerSource) {
        if self.is_known(addr) || self.pool.len() >= self.cfg.max_pool {
            return;
        }
        self.sources.insert(addr, source);
        self.pool.push_back(addr);
        self.fill_connections();
    }

    /// The dial of an [`Action::Connect`] succeeded at `now`: the connection starts (our
    /// handshake is queued). `false`: the torrent no longer wants it (paused or banned since,
    /// or at the cap); close the socket.
    pub fn handle_connected(&mut self, now: Instant, conn: ConnId) -> bool {
        let Some(addr) = self.dialling.remove(&conn) else {
            return false;
        };
        if !self.may_accept(addr.ip()) {
            self.fill_connections();
            return false;
        }
        self.redial.now = Some(now);
        self.redial.connected(addr);
        self.insert_peer(now, conn, addr, true);
        true
    }

    /// The dial of an [`Action::Connect`] failed (or could not start): the slot is free again.
    /// The address is dialled again after a backoff (10 s, doubling, six tries), then
    /// forgotten until someone names it again.
    pub fn handle_connect_failed(&mut self, conn: ConnId) {
        if let Some(addr) = self.dialling.remove(&conn) {
            // A peer dialled again keeps where we learnt of it (pex, tracker...).
            if self.paused || !self.redial.failed(addr) {
                self.sources.remove(&addr);
            }
            self.fill_connections();
        }
    }

    /// [`handle_connect_failed`](Self::handle_connect_failed) at `now`, the time the backoff
    /// counts from (the plain call uses the last time the torrent was given).
    pub fn handle_dial_failed(&mut self, now: Instant, conn: ConnId) {
        self.redial.now = Some(now);
        self.handle_connect_failed(conn);
    }

    /// A connection we had dialled dropped (not by our choice): dial it again after a backoff,
    /// unless we are both complete or it is banned.
    pub(super) fn redial_dropped(&mut self, addr: SocketAddr, was_seed: bool) {
        let useless = was_seed && self.picker.is_complete();
        if !self.paused && !useless && !self.banned.contains(&addr.ip()) {
            self.redial.failed(addr);
        }
    }

    /// Redials that are due at `now` go to the front of the pool.
    pub(super) fn redial_due(&mut self, now: Instant) {
        for addr in self.redial.take_due(now).into_iter().rev() {
            if !self.is_known(addr) {
                self.pool.push_front(addr);
            }
        }
        self.fill_connections();
    }

    /// A peer at `addr` connected to us at `now`: the id of its new connection (our handshake
    /// queued), or `None` when it is refused (paused, banned, or at the cap).
    pub fn handle_incoming(&mut self, now: Instant, addr: SocketAddr) -> Option<ConnId> {
        self.redial.now = Some(now);
        if !self.may_accept(addr.ip()) {
            return None;
        }
        let id = self.next_conn_id();
        self.insert_peer(now, id, addr, false);
        Some(id)
    }

    /// Closes every connection ([`Action::Close`]) and refuses or dials none until
    /// [`resume`](Self::resume). The peers we had dialled (or were dialling) are dialled again
    /// on resume; verified data and the pool stay.
    pub fn pause(&mut self) {
        if self.paused {
            return;
        }
        self.paused = true;
        let ids: Vec<ConnId> = self.peers.keys().copied().collect();
        for id in ids {
            if let Some(p) = self.peers.get(&id).filter(|p| p.outgoing) {
                self.paused_peers.push(p.addr);
                self.sources.insert(p.addr, p.source);
            }
            self.drop_peer(id, CloseReason::Local);
        }
        let dialling = std::mem::take(&mut self.dialling);
        self.paused_peers.extend(dialling.into_values());
    }

    /// Ends a [`pause`](Self::pause): the peers it disconnected from are dialled first, then the
    /// pool, up to the cap.
    pub fn resume(&mut self) {
        if !self.paused {
            return;
        }
        self.paused = false;
        for addr in std::mem::take(&mut self.paused_peers).into_iter().rev() {
            if !self.is_known(addr) {
                self.pool.push_front(addr);
            }
        }
        self.fill_connections();
    }

    /// Whether the torrent is paused.
    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// Whether peers at `ip` are banned (they sent data that failed hash checks).
    pub fn is_banned(&self, ip: IpAddr) -> bool {
        self.banned.contains(&ip)
    }

    /// The address of the peer on `id`.
    pub fn peer_addr(&self, id: ConnId) -> Option<SocketAddr> {
        self.peers.get(&id).map(|p| p.addr)
    }

    /// Where we learnt of the peer on `id`.
    pub fn peer_source(&self, id: ConnId) -> Option<PeerSource> {
        self.peers.get(&id).map(|p| p.source)
    }

    /// Marks the connection `id` as encrypted (or not), for the flags PEX gives it.
    pub fn set_encrypted(&mut self, id: ConnId, encrypted: bool) {
        if let Some(p) = self.peers.get_mut(&id) {
            p.encrypted = encrypted;
        }
    }

    /// Marks the connection `id` as running over uTP (or TCP), for PEX's `added.f` uTP bit.
    pub fn set_utp(&mut self, id: ConnId, utp: bool) {
        if let Some(p) = self.peers.get_mut(&id) {
            p.utp = utp;
        }
    }

    /// Whether we dialled the peer on `id` (rather than it us).
    pub fn is_outgoing(&self, id: ConnId) -> Option<bool> {
        self.peers.get(&id).map(|p| p.outgoing)
    }

    /// Connections being dialled ([`Action::Connect`] given, no outcome reported yet).
    pub fn dialling(&self) -> usize {
        self.dialling.len()
    }

    /// Addresses waiting for a free connection slot.
    pub fn pool_len(&self) -> usize {
        self.pool.len()
    }

    /// Bans the peer on `id` for bad data: its address is refused and never dialled again.
    pub(super) fn ban(&mut self, id: ConnId) {
        let Some(ip) = self.peers.get(&id).map(|p| p.addr.ip()) else {
            return;
        };
        self.banned.insert(ip);
        if let Some(addr) = self.peers.get(&id).map(|p| p.addr) {
            self.redial.forget(addr);
        }
        self.pool.retain(|a| a.ip() != ip);
        self.sources.retain(|a, _| a.ip() != ip);
        self.paused_peers.retain(|a| a.ip() != ip);
        self.actions.push_back(Action::Ban { conn: id });
        self.drop_peer(id, CloseReason::BadData);
    }

    /// Dials pooled addresses while there is room under the cap.
    pub(super) fn fill_connections(&mut self) {
        while !self.paused && self.peers.len() + self.dialling.len() < self.cfg.max_connections {
            let Some(addr) = self.pool.pop_front() else {
                return;
            };
            let conn = self.next_conn_id();
            self.dialling.insert(conn, addr);
            self.actions.push_back(Action::Connect { conn, addr });
        }
    }

    /// Whether a new connection from or to `ip` may start now.
    fn may_accept(&self, ip: IpAddr) -> bool {
        !self.paused && !self.banned.contains(&ip) && self.peers.len() < self.cfg.max_connections
    }

    /// Banned, connected to, being dialled, waiting in the pool, or to be dialled on resume.
    fn is_known(&self, addr: SocketAddr) -> bool {
        self.banned.contains(&addr.ip())
            || self.peers.values().any(|p| p.addr == addr)
            || self.dialling.values().any(|&a| a == addr)
            || self.pool.contains(&addr)
            || self.paused_peers.contains(&addr)
    }

    fn next_conn_id(&mut self) -> ConnId {
        let id = ConnId(self.next_conn);
        self.next_conn += 1;
        id
    }

    fn insert_peer(&mut self, now: Instant, id: ConnId, addr: SocketAddr, outgoing: bool) {
        let conn = Connection::new(self.cfg.connection.clone(), now);
        let source = if outgoing {
            // Kept while connected: a redial after a drop still knows it.
            self.sources
                .get(&addr)
                .copied()
                .unwrap_or(PeerSource::Manual)
        } else {
            PeerSource::Incoming
        };
        self.peers.insert(
            id,
            Peer {
                conn,
                strikes: 0,
                is_seed: false,
                addr,
                outgoing,
                source,
                listen_port: None,
                encrypted: false,
                utp: false,
                pex: Default::default(),
            },
        );
    }
}
