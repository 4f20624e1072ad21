//! Peer exchange (BEP 11) for a torrent: each peer that takes ut_pex gets our connected peers
//! at once and then what changed at most once a minute, at most 50 added and 50 dropped per
//! message, with truthful `added.f` flags; peers named in the peer's messages join the pool
//! with [`PeerSource::Pex`]. Off for private torrents (BEP 27: `ConnectionConfig::pex`).

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use torrentkit_wire::{PexFlags, PexMessage};

use super::Torrent;
use crate::{ConnId, PeerSource};

/// The shortest time between two of our ut_pex messages to one peer.
pub(super) const PEX_INTERVAL: Duration = Duration::from_secs(60);
/// Most added (and, separately, dropped) addresses in one message we send (BEP 11).
const MAX_SENT: usize = 50;
/// Most addresses taken from one received message (libtorrent sends up to 100 per family);
/// the rest of a larger message is ignored.
const MAX_TAKEN: usize = 100;

/// What we told one peer.
#[derive(Debug, Default)]
pub(super) struct PexState {
    /// When our next message is due (`None`: the peer does not take ut_pex).
    next: Option<Instant>,
    /// The addresses it knows from us.
    sent: HashSet<SocketAddr>,
}

/// The `added.f` byte for a peer. The driver feeds `encrypted` and `utp` (the
/// transport the connection runs over).
///
/// Bits (BEP 11 and libtorrent): 0x01 prefers encryption, 0x02 seed, 0x04 supports uTP, 0x10
/// reachable (we connected to it, so it accepts connections).
pub fn pex_flags(seed: bool, encrypted: bool, utp: bool, reachable: bool) -> PexFlags {
    let mut f = 0;
    if encrypted {
        f |= PexFlags::PREFERS_ENCRYPTION;
    }
    if seed {
        f |= PexFlags::SEED;
    }
    if utp {
        f |= PexFlags::UTP;
    }
    if reachable {
        f |= PexFlags::REACHABLE;
    }
    PexFlags(f)
}

/// Whether `addr` is worth dialling at all.
fn dialable(addr: SocketAddr) -> bool {
    let ip = addr.ip();
    addr.port() != 0
        && !ip.is_unspecified()
        && !ip.is_multicast()
        && !matches!(ip, IpAddr::V4(v4) if v4.is_broadcast())
}

impl Torrent {
    /// The peer on `id` takes ut_pex (its extension handshake says so): it gets our list now.
    pub(super) fn pex_start(&mut self, now: Instant, id: ConnId) {
        if let Some(p) = self.peers.get_mut(&id) {
            if p.conn.supports_pex() {
                p.pex.next = Some(now);
            }
        }
        self.pex_send(now, id);
    }

    /// Sends every peer whose message is due at `now` what changed.
    pub(super) fn pex_tick(&mut self, now: Instant) {
        let due: Vec<ConnId> = self
            .peers
            .iter()
            .filter(|(_, p)| p.pex.next.is_some_and(|t| t <= now))
            .map(|(&id, _)| id)
            .collect();
        for id in due {
            self.pex_send(now, id);
        }
    }

    /// When the next ut_pex message is due.
    pub(super) fn pex_timeout(&self) -> Option<Instant> {
        self.peers.values().filter_map(|p| p.pex.next).min()
    }

    /// The address other peers can reach the peer on `id` at (its listen port for one that
    /// connected to us), with its flags; `None` before its handshake or without a port.
    fn pex_entry(&self, id: ConnId) -> Option<(SocketAddr, PexFlags)> {
        let p = self.peers.get(&id)?;
        if !p.conn.is_connected() {
            return None;
        }
        let addr = if p.outgoing {
            p.addr
        } else {
            SocketAddr::new(p.addr.ip(), p.listen_port?)
        };
        Some((addr, pex_flags(p.is_seed, p.encrypted, p.utp, p.outgoing)))
    }

    fn pex_send(&mut self, now: Instant, id: ConnId) {
        let Some(next) = self.peers.get(&id).and_then(|p| p.pex.next) else {
            return;
        };
        if next > now {
            return;
        }
        let current: Vec<(SocketAddr, PexFlags)> = self
            .peers
            .keys()
            .filter(|&&other| other != id)
            .filter_map(|&other| self.pex_entry(other))
            .collect();
        let Some(p) = self.peers.get_mut(&id) else {
            return;
        };
        p.pex.next = Some(now + PEX_INTERVAL);
        let mut msg = PexMessage::default();
        let mut added = 0;
        for &(addr, flags) in &current {
            if added == MAX_SENT || p.pex.sent.contains(&addr) {
                continue;
            }
            added += 1;
            p.pex.sent.insert(addr);
            match addr {
                SocketAddr::V4(a) => msg.added.push((a, flags)),
                SocketAddr::V6(a) => msg.added6.push((a, flags)),
            }
        }
        let gone: Vec<SocketAddr> = p
            .pex
            .sent
            .iter()
            .filter(|a| !current.iter().any(|(c, _)| c == *a))
            .take(MAX_SENT)
            .copied()
            .collect();
        for addr in gone {
            p.pex.sent.remove(&addr);
            match addr {
                SocketAddr::V4(a) => msg.dropped.push(a),
                SocketAddr::V6(a) => msg.dropped6.push(a),
            }
        }
        if !msg.is_empty() {
            p.conn.send_pex(now, &msg);
        }
    }

    /// A ut_pex message from the peer on `id`: its added peers join the pool (not when
    /// private, and not seeds once we are complete), at most [`MAX_TAKEN`] per family.
    pub(super) fn pex_received(&mut self, msg: &PexMessage) {
        if !self.cfg.connection.pex {
            return;
        }
        let complete = self.is_complete();
        let v4 = msg
            .added
            .iter()
            .take(MAX_TAKEN)
            .map(|&(a, f)| (SocketAddr::V4(a), f));
        let v6 = msg
            .added6
            .iter()
            .take(MAX_TAKEN)
            .map(|&(a, f)| (SocketAddr::V6(a), f));
        let found: Vec<SocketAddr> = v4
            .chain(v6)
            .filter(|&(a, f)| dialable(a) && !(complete && f.has(PexFlags::SEED)))
            .map(|(a, _)| a)
            .collect();
        for addr in found {
            self.add_peer_from(addr, PeerSource::Pex);
        }
    }
}
