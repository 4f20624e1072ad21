//! [`Store`]: every swarm, in independently locked shards keyed by info-hash, with the bounds and
//! the expiry of peers. Plain code: time comes in as an [`Instant`], and the randomness of peer
//! selection from generators seeded once, per shard.

use std::collections::HashMap;
use std::hash::{BuildHasher as _, Hasher as _};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::error::RequestError;
use crate::hash::IdHash;
use crate::swarm::{Change, Compact, PeerList, Selection, Swarm, SwarmStats, Update};
use torrentkit_tracker_proto::{AnnounceRequest, Event, InfoHash, PeerId};

/// The store's clock starts here rather than at 0, so that peers restored from a dfile can carry
/// an age older than the store itself.
pub(crate) const CLOCK_ORIGIN: u32 = 1 << 30;

/// The limits a [`Store`] enforces.
#[derive(Clone, Copy, Debug)]
pub struct StoreLimits {
    /// A peer not heard from for this long is dropped by [`Store::expire`].
    pub peer_timeout: Duration,
    /// The most peers stored per torrent.
    pub max_peers_per_torrent: usize,
    /// The most torrents stored.
    pub max_torrents: usize,
    /// The number of shards (rounded up to a power of two, at least 1).
    pub shards: usize,
}

/// Totals over every swarm.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Torrents with at least one peer.
    pub torrents: usize,
    /// Seeders over all torrents.
    pub seeders: u64,
    /// Leechers over all torrents.
    pub leechers: u64,
    /// Completed downloads over all tracked torrents.
    pub completed: u64,
}

pub(crate) struct Shard {
    pub(crate) swarms: HashMap<InfoHash, Swarm, IdHash>,
    /// Where peer selection starts; under the shard's lock like the swarms it picks from.
    rng: fastrand::Rng,
}

impl Shard {
    fn new(seed: u64) -> Shard {
        Shard {
            swarms: HashMap::default(),
            rng: fastrand::Rng::with_seed(seed),
        }
    }
}

/// A seed from the operating system's randomness that seeds the standard library's hash maps
/// (fastrand's own global generator would seed itself from the clock).
fn random_seed() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0x0073_656c_6563_7400);
    h.finish()
}

/// Every swarm the tracker knows, sharded by info-hash so that announces for different torrents
/// rarely wait on each other.
pub struct Store {
    shards: Box<[Mutex<Shard>]>,
    mask: usize,
    torrents: AtomicUsize,
    limits: StoreLimits,
    base: Instant,
}

/// A peer as a dfile keeps it.
pub(crate) struct SavedPeer {
    pub(crate) addr: SocketAddr,
    pub(crate) id: PeerId,
    pub(crate) seeder: bool,
    pub(crate) key: Option<u32>,
    /// Seconds since its last announce.
    pub(crate) age: u32,
}

/// Whether the peers chosen for `req` leave seeds out. Seeds get no seeds, except in a `started`
/// announce with nothing downloaded: a magnet client without the metadata says `left=0` (aria2
/// does) and would otherwise never meet the seeds that have it.
pub(crate) fn gets_no_seeds(req: &AnnounceRequest) -> bool {
    req.left == Some(0) && !(req.event == Event::Started && req.downloaded == 0)
}

/// One announce as the store sees it: the request and the address it counts for.
#[derive(Clone, Copy, Debug)]
pub struct Announce<'a> {
    /// The parsed request.
    pub request: &'a AnnounceRequest,
    /// The peer's address: the client's IP with the announced port.
    pub addr: SocketAddr,
    /// How many peers to give back (already capped by the caller).
    pub numwant: usize,
    /// Give peers of both address families (HTTP) or only the requester's (UDP, BEP 15).
    pub both_families: bool,
    /// Fill in peer ids (for non-compact dictionary replies).
    pub with_ids: bool,
}

impl Store {
    /// An empty store whose clock starts at `now`, choosing peers at random.
    pub fn new(limits: StoreLimits, now: Instant) -> Store {
        Store::with_seed(limits, now, random_seed())
    }

    /// An empty store whose clock starts at `now` and whose peer choices follow from `seed`:
    /// the same announces give the same replies (for tests and simulations).
    pub fn with_seed(limits: StoreLimits, now: Instant, seed: u64) -> Store {
        let n = limits.shards.max(1).next_power_of_two();
        Store {
            shards: (0..n)
                .map(|i| Mutex::new(Shard::new(seed.wrapping_add(i as u64))))
                .collect(),
            mask: n - 1,
            torrents: AtomicUsize::new(0),
            limits,
            base: now,
        }
    }

    /// The limits this store enforces.
    pub fn limits(&self) -> &StoreLimits {
        &self.limits
    }

    /// Seconds on the store's clock at `now`.
    pub(crate) fn secs(&self, now: Instant) -> u32 {
        let elapsed = now.saturating_duration_since(self.base).as_secs();
        CLOCK_ORIGIN.saturating_add(u32::try_from(elapsed).unwrap_or(u32::MAX))
    }

    pub(crate) fn shard_of(&self, hash: &InfoHash) -> usize {
        // Info-hashes are SHA-1 outputs; any bytes are as good as any others. A client choosing
        // hashes to land in one shard only slows itself.
        usize::from(u16::from_le_bytes([hash.0[0], hash.0[1]])) & self.mask
    }

    pub(crate) fn lock(&self, shard: usize) -> MutexGuard<'_, Shard> {
        // A panic while holding a shard lock cannot leave a swarm half-updated in a way that
        // matters more than losing the tracker, so a poisoned lock is used as is.
        self.shards[shard].lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// Records an announce and chooses peers for the reply into `out` (which is not cleared).
    /// Returns the swarm's counts after the announce.
    pub fn announce(
        &self,
        a: &Announce<'_>,
        now: Instant,
        out: &mut PeerList,
    ) -> Result<SwarmStats, RequestError> {
        let req = a.request;
        let update = Update {
            id: req.peer_id,
            addr: Compact::of(a.addr),
            seeder: req.left == Some(0),
            key: req.key,
            stopped: req.event == Event::Stopped,
            completed: req.event == Event::Completed,
            now: self.secs(now),
        };
        let v6 = matches!(update.addr, Compact::V6(_));
        let mut guard = self.lock(self.shard_of(&req.info_hash));
        let shard = &mut *guard;
        let swarm = match shard.swarms.get_mut(&req.info_hash) {
            Some(swarm) => swarm,
            None => {
                if update.stopped {
                    return Ok(SwarmStats::default());
                }
                if self.torrents.load(Ordering::Relaxed) >= self.limits.max_torrents {
                    return Err(RequestError::TooManyTorrents(self.limits.max_torrents));
                }
                self.torrents.fetch_add(1, Ordering::Relaxed);
                shard.swarms.entry(req.info_hash).or_default()
            }
        };
        if swarm.announce(&update, self.limits.max_peers_per_torrent) == Change::KeyMismatch {
            return Err(RequestError::KeyMismatch);
        }
        if !update.stopped {
            let selection = Selection {
                want: a.numwant,
                requester: &req.peer_id,
                requester_seeds: gets_no_seeds(req),
                v6_first: v6,
                both_families: a.both_families,
                with_ids: a.with_ids,
            };
            swarm.select(&selection, &mut shard.rng, out);
        }
        let stats = swarm.stats();
        if swarm.len() == 0 && update.stopped {
            shard.swarms.remove(&req.info_hash);
            self.torrents.fetch_sub(1, Ordering::Relaxed);
        }
        Ok(stats)
    }

    /// The counts of one torrent; zeros when it is not tracked.
    pub fn scrape(&self, hash: &InfoHash) -> SwarmStats {
        let shard = self.lock(self.shard_of(hash));
        shard.swarms.get(hash).map(Swarm::stats).unwrap_or_default()
    }

    /// Drops every peer not heard from within the peer timeout, and every swarm left empty.
    /// Returns (peers dropped, torrents dropped).
    pub fn expire(&self, now: Instant) -> (usize, usize) {
        let timeout = u32::try_from(self.limits.peer_timeout.as_secs()).unwrap_or(u32::MAX);
        let oldest = self.secs(now).saturating_sub(timeout);
        let (mut peers, mut torrents) = (0, 0);
        for i in 0..self.shards.len() {
            let mut shard = self.lock(i);
            shard.swarms.retain(|_, swarm| {
                peers += swarm.expire(oldest);
                let keep = swarm.len() > 0;
                torrents += usize::from(!keep);
                keep
            });
        }
        self.torrents.fetch_sub(torrents, Ordering::Relaxed);
        (peers, torrents)
    }

    /// Totals over every swarm.
    pub fn totals(&self) -> Totals {
        let mut t = Totals::default();
        for i in 0..self.shards.len() {
            let shard = self.lock(i);
            t.torrents += shard.swarms.len();
            for swarm in shard.swarms.values() {
                let s = swarm.stats();
                t.seeders += u64::from(s.seeders);
                t.leechers += u64::from(s.leechers);
                t.completed += s.completed;
            }
        }
        t
    }

    /// Calls `f` with every torrent and its counts, shard by shard (each shard locked meanwhile:
    /// keep `f` short).
    pub fn for_each(&self, mut f: impl FnMut(&InfoHash, SwarmStats)) {
        for i in 0..self.shards.len() {
            let shard = self.lock(i);
            for (hash, swarm) in &shard.swarms {
                f(hash, swarm.stats());
            }
        }
    }

    /// Puts back a peer read from a dfile: `age` seconds since its last announce, as of `now`.
    pub(crate) fn restore(&self, hash: &InfoHash, peer: &SavedPeer, now: Instant) {
        let update = Update {
            id: peer.id,
            addr: Compact::of(peer.addr),
            seeder: peer.seeder,
            key: peer.key,
            stopped: false,
            completed: false,
            now: self.secs(now).saturating_sub(peer.age),
        };
        let mut shard = self.lock(self.shard_of(hash));
        let swarm = match shard.swarms.get_mut(hash) {
            Some(s) => s,
            None => {
                if self.torrents.load(Ordering::Relaxed) >= self.limits.max_torrents {
                    return;
                }
                self.torrents.fetch_add(1, Ordering::Relaxed);
                shard.swarms.entry(*hash).or_default()
            }
        };
        swarm.restore(&update, self.limits.max_peers_per_torrent);
    }

    /// Sets a restored torrent's completed count (after its peers were restored).
    pub(crate) fn restore_completed(&self, hash: &InfoHash, completed: u64) {
        let mut shard = self.lock(self.shard_of(hash));
        if let Some(swarm) = shard.swarms.get_mut(hash) {
            swarm.completed = completed;
        }
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("shards", &self.shards.len())
            .field("torrents", &self.torrents.load(Ordering::Relaxed))
            .field("limits", &self.limits)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> StoreLimits {
        StoreLimits {
            peer_timeout: Duration::from_secs(60),
            max_peers_per_torrent: 100,
            max_torrents: 2,
            shards: 4,
        }
    }

    fn req(hash: u8, peer: u8, left: u64, event: Event) -> AnnounceRequest {
        AnnounceRequest {
            info_hash: InfoHash([hash; 20]),
            peer_id: PeerId([peer; 20]),
            port: 6881,
            uploaded: 0,
            downloaded: 0,
            left: Some(left),
            event,
            numwant: None,
            compact: true,
            no_peer_id: false,
            key: None,
            ip: None,
            tracker_id: None,
            supportcrypto: false,
            requirecrypto: false,
        }
    }

    fn announce(
        store: &Store,
        r: &AnnounceRequest,
        ip: [u8; 4],
        now: Instant,
    ) -> (SwarmStats, PeerList) {
        let mut out = PeerList::default();
        let a = Announce {
            request: r,
            addr: SocketAddr::from((ip, r.port)),
            numwant: 50,
            both_families: true,
            with_ids: false,
        };
        let stats = store.announce(&a, now, &mut out).unwrap();
        (stats, out)
    }

    #[test]
    fn announces_meet_and_stop() {
        let t0 = Instant::now();
        let store = Store::new(limits(), t0);
        let (s, peers) = announce(&store, &req(1, 1, 0, Event::Started), [10, 0, 0, 1], t0);
        assert_eq!((s.seeders, s.leechers, peers.len()), (1, 0, 0));
        let (s, peers) = announce(&store, &req(1, 2, 5, Event::Started), [10, 0, 0, 2], t0);
        assert_eq!((s.seeders, s.leechers), (1, 1));
        assert_eq!(peers.v4, vec![10, 0, 0, 1, 0x1a, 0xe1]);
        assert_eq!(store.scrape(&InfoHash([1; 20])), s);
        announce(&store, &req(1, 1, 0, Event::Stopped), [10, 0, 0, 1], t0);
        let (s, _) = announce(&store, &req(1, 2, 5, Event::Stopped), [10, 0, 0, 2], t0);
        assert_eq!(s, SwarmStats::default());
        assert_eq!(
            store.totals(),
            Totals::default(),
            "an empty swarm is dropped"
        );
    }

    /// Regression: aria2 fetching a magnet announces `left=0` and got no peers at all from a
    /// swarm of seeds.
    #[test]
    fn a_started_announce_with_nothing_downloaded_gets_seeds_even_at_left_0() {
        let t0 = Instant::now();
        let store = Store::new(limits(), t0);
        announce(&store, &req(1, 1, 0, Event::Started), [10, 0, 0, 1], t0);
        let (_, peers) = announce(&store, &req(1, 3, 0, Event::Started), [10, 0, 0, 3], t0);
        assert_eq!(peers.v4, vec![10, 0, 0, 1, 0x1a, 0xe1]);
        let (_, peers) = announce(&store, &req(1, 3, 0, Event::None), [10, 0, 0, 3], t0);
        assert_eq!(peers.len(), 0, "a seed's re-announce gets no seeds");
    }

    #[test]
    fn torrent_limit_and_expiry() {
        let t0 = Instant::now();
        let store = Store::new(limits(), t0);
        announce(&store, &req(1, 1, 5, Event::None), [10, 0, 0, 1], t0);
        announce(&store, &req(2, 1, 5, Event::None), [10, 0, 0, 1], t0);
        let mut out = PeerList::default();
        let r = req(3, 1, 5, Event::None);
        let a = Announce {
            request: &r,
            addr: "10.0.0.1:1".parse().unwrap(),
            numwant: 5,
            both_families: true,
            with_ids: false,
        };
        assert_eq!(
            store.announce(&a, t0, &mut out),
            Err(RequestError::TooManyTorrents(2))
        );
        let later = t0 + Duration::from_secs(30);
        announce(&store, &req(2, 2, 5, Event::None), [10, 0, 0, 2], later);
        assert_eq!(store.expire(t0 + Duration::from_secs(61)), (2, 1));
        assert_eq!(store.totals().leechers, 1);
        assert_eq!(store.scrape(&InfoHash([1; 20])), SwarmStats::default());
        // The freed slot takes a new torrent.
        assert!(store.announce(&a, later, &mut out).is_ok());
    }

    #[test]
    fn a_seeded_store_replays_its_peer_choices() {
        let t0 = Instant::now();
        let replies = |seed: u64| {
            let store = Store::with_seed(limits(), t0, seed);
            let mut replies = Vec::new();
            for n in 0..60u8 {
                let r = req(1, n, 5, Event::Started);
                let mut out = PeerList::default();
                let a = Announce {
                    request: &r,
                    addr: SocketAddr::from(([10, 0, 0, n], 6881)),
                    numwant: 5,
                    both_families: true,
                    with_ids: false,
                };
                store.announce(&a, t0, &mut out).unwrap();
                replies.push(out.v4);
            }
            replies
        };
        assert_eq!(replies(42), replies(42));
        assert_ne!(replies(42), replies(43), "the seed chooses");
    }
}
