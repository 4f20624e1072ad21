//! The peers other nodes announced to us (`announce_peer`), bounded in info-hashes and in peers
//! per info-hash, each peer expiring 30 minutes after its last announce.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::id::NodeId;

/// How long an announced peer is kept without a new announce.
pub const PEER_TTL: Duration = Duration::from_secs(30 * 60);

#[derive(Debug, Clone, Default)]
struct Swarm {
    /// Each peer with the time it expires.
    peers: Vec<(SocketAddr, Instant)>,
}

/// What [`PeerStore::announce`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stored {
    /// The peer is stored (new or refreshed).
    Yes,
    /// A new info-hash, and the store already holds as many as it may: refused.
    TooManyInfoHashes,
}

/// Announced peers by info-hash.
#[derive(Debug, Clone)]
pub(crate) struct PeerStore {
    swarms: HashMap<NodeId, Swarm>,
    max_info_hashes: usize,
    max_peers: usize,
    peer_count: usize,
}

impl PeerStore {
    pub(crate) fn new(max_info_hashes: usize, max_peers: usize) -> Self {
        PeerStore {
            swarms: HashMap::new(),
            max_info_hashes,
            max_peers: max_peers.max(1),
            peer_count: 0,
        }
    }

    /// The number of info-hashes held.
    pub(crate) fn info_hashes(&self) -> usize {
        self.swarms.len()
    }

    /// The number of peers held, over all info-hashes.
    pub(crate) fn peers(&self) -> usize {
        self.peer_count
    }

    /// Stores `peer` for `info_hash` until `now + PEER_TTL`. A swarm that is full drops the
    /// peer closest to expiry for the new one, so that fresh announces always get in.
    pub(crate) fn announce(&mut self, info_hash: NodeId, peer: SocketAddr, now: Instant) -> Stored {
        let expires = now + PEER_TTL;
        if !self.swarms.contains_key(&info_hash) && self.swarms.len() >= self.max_info_hashes {
            return Stored::TooManyInfoHashes;
        }
        let swarm = self.swarms.entry(info_hash).or_default();
        if let Some(known) = swarm.peers.iter_mut().find(|(addr, _)| *addr == peer) {
            known.1 = expires;
        } else if swarm.peers.len() < self.max_peers {
            swarm.peers.push((peer, expires));
            self.peer_count += 1;
        } else if let Some(oldest) = swarm.peers.iter_mut().min_by_key(|(_, at)| *at) {
            *oldest = (peer, expires);
        }
        Stored::Yes
    }

    /// Up to `max` live peers of `info_hash` of the address family `v6`, picked at random when
    /// there are more.
    pub(crate) fn get(
        &self,
        info_hash: &NodeId,
        v6: bool,
        max: usize,
        now: Instant,
        rng: &mut fastrand::Rng,
    ) -> Vec<SocketAddr> {
        let Some(swarm) = self.swarms.get(info_hash) else {
            return Vec::new();
        };
        let mut peers: Vec<SocketAddr> = swarm
            .peers
            .iter()
            .filter(|(addr, expires)| addr.is_ipv6() == v6 && *expires > now)
            .map(|(addr, _)| *addr)
            .collect();
        if peers.len() > max {
            rng.shuffle(&mut peers);
            peers.truncate(max);
        }
        peers
    }

    /// Drops the peers whose time is up, and the info-hashes left without peers.
    pub(crate) fn expire(&mut self, now: Instant) {
        let mut removed = 0;
        self.swarms.retain(|_, swarm| {
            let before = swarm.peers.len();
            swarm.peers.retain(|(_, expires)| *expires > now);
            removed += before - swarm.peers.len();
            !swarm.peers.is_empty()
        });
        self.peer_count -= removed;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(n: u16) -> SocketAddr {
        SocketAddr::from(([192, 0, 2, 1], n))
    }

    #[test]
    fn peers_are_capped_per_info_hash_and_in_info_hashes() {
        let now = Instant::now();
        let mut store = PeerStore::new(2, 3);
        let mut rng = fastrand::Rng::with_seed(3);
        for n in 1..=5 {
            assert_eq!(
                store.announce(
                    NodeId([1; 20]),
                    peer(n),
                    now + Duration::from_secs(n.into())
                ),
                Stored::Yes
            );
        }
        assert_eq!(store.peers(), 3);
        let mut kept = store.get(&NodeId([1; 20]), false, 10, now, &mut rng);
        kept.sort();
        assert_eq!(kept, vec![peer(3), peer(4), peer(5)], "the oldest made way");
        assert_eq!(store.announce(NodeId([2; 20]), peer(1), now), Stored::Yes);
        assert_eq!(
            store.announce(NodeId([3; 20]), peer(1), now),
            Stored::TooManyInfoHashes
        );
        assert_eq!(store.info_hashes(), 2);
        assert_eq!(
            store.get(&NodeId([1; 20]), false, 2, now, &mut rng).len(),
            2
        );
        assert!(
            store
                .get(&NodeId([1; 20]), true, 10, now, &mut rng)
                .is_empty(),
            "no IPv6 peers"
        );
    }

    #[test]
    fn peers_expire_after_thirty_minutes_unless_announced_again() {
        let now = Instant::now();
        let mut store = PeerStore::new(10, 10);
        let mut rng = fastrand::Rng::with_seed(4);
        store.announce(NodeId([1; 20]), peer(1), now);
        store.announce(NodeId([1; 20]), peer(2), now);
        store.announce(NodeId([1; 20]), peer(2), now + Duration::from_secs(600));
        let later = now + PEER_TTL;
        assert_eq!(
            store.get(&NodeId([1; 20]), false, 10, later, &mut rng),
            vec![peer(2)]
        );
        store.expire(later);
        assert_eq!(store.peers(), 1);
        store.expire(later + Duration::from_secs(600));
        assert_eq!((store.peers(), store.info_hashes()), (0, 0));
    }
}
