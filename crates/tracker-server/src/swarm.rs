//! One torrent's swarm: its peers in compact form, the seeder count and completed total, and the
//! random choice of peers for a reply.

use std::net::SocketAddr;

use thin_vec::ThinVec;

use crate::peer_index::PeerIndex;
use torrentkit_tracker_proto::compact;
pub(crate) use torrentkit_tracker_proto::compact::Compact;
use torrentkit_tracker_proto::PeerId;

/// A peer as stored: its compact address (BEP 23 form: IP then port, big-endian), ready to copy
/// into replies.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Peer<const N: usize> {
    pub(crate) compact: [u8; N],
    pub(crate) id: PeerId,
    /// Seconds on the store's clock.
    pub(crate) last_seen: u32,
    /// The announce `key` (meaningful only with `has_key`; kept apart from the flag rather than
    /// as an `Option`, which would cost 4 more bytes per peer).
    key: u32,
    has_key: bool,
    pub(crate) seeder: bool,
}

impl<const N: usize> Peer<N> {
    fn new(compact: [u8; N], u: &Update) -> Self {
        Peer {
            compact,
            id: u.id,
            last_seen: u.now,
            key: u.key.unwrap_or(0),
            has_key: u.key.is_some(),
            seeder: u.seeder,
        }
    }

    pub(crate) fn key(&self) -> Option<u32> {
        self.has_key.then_some(self.key)
    }

    fn refresh(&mut self, compact: [u8; N], u: &Update) {
        self.compact = compact;
        self.last_seen = u.now;
        self.seeder = u.seeder;
        if let Some(k) = u.key {
            self.key = k;
            self.has_key = true;
        }
    }
}

/// Swarms of at most this many peers have no [`PeerIndex`]: most torrents have a handful of
/// peers, and the index's table would cost more than the peers themselves.
const SMALL_SWARM: usize = 8;

/// Pushes onto a peer list growing it by exactly doubling from 1 (1, 2, 4, ...) rather than
/// `Vec`'s first step of 4 elements: a torrent with one peer holds one peer's worth of memory.
fn push_exact<T>(v: &mut ThinVec<T>, item: T) {
    if v.len() == v.capacity() {
        v.reserve_exact(v.capacity().max(1));
    }
    v.push(item);
}

/// Where a peer lives: index into `v4` or (high bit set) `v6`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Slot(u32);

const V6_BIT: u32 = 1 << 31;

impl Slot {
    fn v4(i: usize) -> Slot {
        Slot(i as u32)
    }
    fn v6(i: usize) -> Slot {
        Slot(i as u32 | V6_BIT)
    }
    fn is_v6(self) -> bool {
        self.0 & V6_BIT != 0
    }
    fn index(self) -> usize {
        (self.0 & !V6_BIT) as usize
    }
}

/// Seeders, leechers and completed downloads of one torrent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SwarmStats {
    /// Peers with nothing left to download.
    pub seeders: u32,
    /// Peers still downloading.
    pub leechers: u32,
    /// How many `completed` events the torrent has seen.
    pub completed: u64,
}

/// The peers chosen for one reply, in compact form, with their ids when asked for.
///
/// Reuse one across requests ([`PeerList::clear`]) to avoid allocating.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeerList {
    /// IPv4 peers, 6 bytes each (BEP 23).
    pub v4: Vec<u8>,
    /// IPv6 peers, 18 bytes each (BEP 7).
    pub v6: Vec<u8>,
    /// The ids of the `v4` peers, in the same order (filled only when ids were asked for).
    pub ids4: Vec<PeerId>,
    /// The ids of the `v6` peers, in the same order (filled only when ids were asked for).
    pub ids6: Vec<PeerId>,
}

impl PeerList {
    /// Empties the list, keeping its capacity.
    pub fn clear(&mut self) {
        self.v4.clear();
        self.v6.clear();
        self.ids4.clear();
        self.ids6.clear();
    }

    /// How many peers the list holds.
    pub fn len(&self) -> usize {
        self.v4.len() / 6 + self.v6.len() / 18
    }

    /// Whether the list holds no peer.
    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    /// Every peer's address, IPv4 first.
    pub fn addrs(&self) -> impl Iterator<Item = SocketAddr> + '_ {
        compact::iter_v4(&self.v4).chain(compact::iter_v6(&self.v6))
    }
}

/// What an announce does to a swarm.
pub(crate) struct Update {
    pub(crate) id: PeerId,
    pub(crate) addr: Compact,
    pub(crate) seeder: bool,
    pub(crate) key: Option<u32>,
    pub(crate) stopped: bool,
    pub(crate) completed: bool,
    pub(crate) now: u32,
}

/// The outcome of [`Swarm::announce`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Change {
    /// A new peer was added (`seeder` tells which kind).
    Added { seeder: bool },
    /// An existing peer was updated; `was`/`is` are its seeder flags before and after.
    Updated { was: bool, is: bool },
    /// A peer was removed (`stopped`); `seeder` is what it was.
    Removed { seeder: bool },
    /// Nothing was stored: a `stopped` from an unknown peer, or a full swarm.
    None,
    /// The peer id exists at another IP address and the announce does not carry its key (or the
    /// stored peer has none): nothing was changed.
    KeyMismatch,
}

/// The peer id at a stored position (a [`Slot`]'s bits).
fn id_at(v4: &[Peer<6>], v6: &[Peer<18>], slot: u32) -> PeerId {
    let slot = Slot(slot);
    if slot.is_v6() {
        v6[slot.index()].id
    } else {
        v4[slot.index()].id
    }
}

/// What [`Swarm::select`] is asked for.
#[derive(Clone, Copy)]
pub(crate) struct Selection<'a> {
    pub(crate) want: usize,
    pub(crate) requester: &'a PeerId,
    pub(crate) requester_seeds: bool,
    pub(crate) v6_first: bool,
    pub(crate) both_families: bool,
    pub(crate) with_ids: bool,
}

/// One torrent's peers.
#[derive(Debug, Default)]
pub(crate) struct Swarm {
    // Thin vectors (one pointer each, the length in the allocation; none while empty): with a
    // million swarms, the swarm itself is a large part of a peer's cost.
    pub(crate) v4: ThinVec<Peer<6>>,
    pub(crate) v6: ThinVec<Peer<18>>,
    index: PeerIndex,
    pub(crate) seeders: u32,
    pub(crate) completed: u64,
}

impl Swarm {
    pub(crate) fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    pub(crate) fn stats(&self) -> SwarmStats {
        SwarmStats {
            seeders: self.seeders,
            leechers: self.len() as u32 - self.seeders,
            completed: self.completed,
        }
    }

    /// Applies one announce. `max_peers` bounds how many peers are stored.
    pub(crate) fn announce(&mut self, u: &Update, max_peers: usize) -> Change {
        let existing = self.find(&u.id);
        let Some(slot) = existing else {
            if u.completed {
                self.completed += 1;
            }
            if u.stopped || self.len() >= max_peers {
                return Change::None;
            }
            self.insert(u);
            return Change::Added { seeder: u.seeder };
        };
        let (old_key, same_addr, was) = match (slot.is_v6(), &u.addr) {
            (false, addr) => {
                let p = &self.v4[slot.index()];
                (
                    p.key(),
                    matches!(addr, Compact::V4(c) if c[..4] == p.compact[..4]),
                    p.seeder,
                )
            }
            (true, addr) => {
                let p = &self.v6[slot.index()];
                (
                    p.key(),
                    matches!(addr, Compact::V6(c) if c[..16] == p.compact[..16]),
                    p.seeder,
                )
            }
        };
        // Identity rule: the stored peer belongs to whoever announced it from its IP. An announce
        // from another IP may stop or move it only with the stored peer's `key`; a key-less peer
        // cannot be proven to be the same client, so such announces are refused rather than
        // stored as a second peer with the same id (which would hand out two addresses under one
        // id, and a later handshake checking that id would fail at one of them). A port change
        // from the same IP (NAT rebinding, a client restart) updates the peer.
        if !same_addr && (old_key.is_none() || old_key != u.key) {
            return Change::KeyMismatch;
        }
        if u.completed && !was {
            self.completed += 1;
        }
        if u.stopped {
            self.remove(slot);
            return Change::Removed { seeder: was };
        }
        match (slot.is_v6(), &u.addr) {
            (false, Compact::V4(c)) => self.v4[slot.index()].refresh(*c, u),
            (true, Compact::V6(c)) => self.v6[slot.index()].refresh(*c, u),
            _ => {
                // The peer moved between address families: remove and insert keep the seeder
                // count right by themselves.
                self.remove(slot);
                self.insert(u);
                return Change::Updated { was, is: u.seeder };
            }
        }
        if was && !u.seeder {
            self.seeders -= 1;
        } else if !was && u.seeder {
            self.seeders += 1;
        }
        Change::Updated { was, is: u.seeder }
    }

    fn insert(&mut self, u: &Update) {
        let slot = match u.addr {
            Compact::V4(compact) => {
                push_exact(&mut self.v4, Peer::new(compact, u));
                Slot::v4(self.v4.len() - 1)
            }
            Compact::V6(compact) => {
                push_exact(&mut self.v6, Peer::new(compact, u));
                Slot::v6(self.v6.len() - 1)
            }
        };
        if self.index.is_active() {
            let (v4, v6) = (&self.v4, &self.v6);
            self.index.insert(&u.id, slot.0, |s| id_at(v4, v6, s));
        } else if self.len() > SMALL_SWARM {
            self.rebuild_index();
        }
        if u.seeder {
            self.seeders += 1;
        }
    }

    fn rebuild_index(&mut self) {
        let v4 = self
            .v4
            .iter()
            .enumerate()
            .map(|(i, p)| (p.id, Slot::v4(i).0));
        let v6 = self
            .v6
            .iter()
            .enumerate()
            .map(|(i, p)| (p.id, Slot::v6(i).0));
        self.index.rebuild(v4.chain(v6));
    }

    /// Removes the peer at `slot` (swap-remove), keeping the index and counts right. Does not touch
    /// `seeders`' caller-visible meaning: the removed peer's seeder flag is subtracted.
    fn remove(&mut self, slot: Slot) {
        let i = slot.index();
        // The index is updated while every stored position is still valid, then the list.
        let (v4, v6) = (&self.v4, &self.v6);
        let id_of = |s| id_at(v4, v6, s);
        let (removed, last) = if slot.is_v6() {
            (self.v6[i].id, self.v6.len() - 1)
        } else {
            (self.v4[i].id, self.v4.len() - 1)
        };
        if self.index.is_active() {
            self.index.remove(&removed, id_of);
            if i != last {
                let moved = if slot.is_v6() {
                    self.v6[last].id
                } else {
                    self.v4[last].id
                };
                self.index.set(&moved, slot.0, id_of);
            }
        }
        let seeder = if slot.is_v6() {
            self.v6.swap_remove(i).seeder
        } else {
            self.v4.swap_remove(i).seeder
        };
        if seeder {
            self.seeders -= 1;
        }
    }

    /// Restores a peer read from a dfile (no completed counting, no key check).
    pub(crate) fn restore(&mut self, u: &Update, max_peers: usize) {
        if self.find(&u.id).is_some() || self.len() >= max_peers {
            return;
        }
        self.insert(u);
    }

    /// Drops every peer last seen before `oldest`; returns how many were dropped.
    pub(crate) fn expire(&mut self, oldest: u32) -> usize {
        let before = self.len();
        self.v4.retain(|p| p.last_seen >= oldest);
        self.v6.retain(|p| p.last_seen >= oldest);
        let dropped = before - self.len();
        if dropped > 0 {
            self.reindex();
        }
        dropped
    }

    fn reindex(&mut self) {
        if self.len() > SMALL_SWARM {
            self.rebuild_index();
        } else {
            self.index.clear();
        }
        self.seeders = self.v4.iter().map(|p| u32::from(p.seeder)).sum::<u32>()
            + self.v6.iter().map(|p| u32::from(p.seeder)).sum::<u32>();
        if self.v4.capacity() > 2 * self.v4.len() + 16 {
            self.v4.shrink_to_fit();
        }
        if self.v6.capacity() > 2 * self.v6.len() + 16 {
            self.v6.shrink_to_fit();
        }
    }

    fn find(&self, id: &PeerId) -> Option<Slot> {
        let (v4, v6) = (&self.v4, &self.v6);
        if self.index.is_active() {
            return self.index.get(id, |s| id_at(v4, v6, s)).map(Slot);
        }
        // A small swarm has no index: a scan of a few peers is as fast and costs no memory.
        if let Some(i) = v4.iter().position(|p| p.id == *id) {
            return Some(Slot::v4(i));
        }
        v6.iter().position(|p| p.id == *id).map(Slot::v6)
    }

    /// Chooses up to `want` peers other than `requester`, from the requester's address family
    /// first (`v6_first`), the other family only if allowed (`both_families`). A seeding requester
    /// is given leechers only: seeds have nothing to give each other.
    /// Where to start in each list comes from `rng`, so that the choice is seeded rather than
    /// taken from a generator seeded by the clock.
    pub(crate) fn select(&self, s: &Selection<'_>, rng: &mut fastrand::Rng, out: &mut PeerList) {
        let Selection {
            want,
            requester,
            requester_seeds,
            v6_first,
            both_families,
            with_ids,
        } = *s;
        let PeerList {
            v4: out4,
            v6: out6,
            ids4,
            ids6,
        } = out;
        let mut from_v4 = |want: usize, rng: &mut fastrand::Rng| {
            let ids = with_ids.then_some(&mut *ids4);
            pick(&self.v4, want, requester, requester_seeds, out4, ids, rng)
        };
        let mut from_v6 = |want: usize, rng: &mut fastrand::Rng| {
            let ids = with_ids.then_some(&mut *ids6);
            pick(&self.v6, want, requester, requester_seeds, out6, ids, rng)
        };
        if v6_first {
            let left = want - from_v6(want, rng);
            if both_families {
                from_v4(left, rng);
            }
        } else {
            let left = want - from_v4(want, rng);
            if both_families {
                from_v6(left, rng);
            }
        }
    }
}

/// Copies up to `want` peers from `peers`, starting at a random position and wrapping around, so
/// that every peer is equally likely to be given out and nothing is allocated or shuffled. The
/// swap-remove on departure keeps reordering the list, which spreads choices further.
fn pick<const N: usize>(
    peers: &[Peer<N>],
    want: usize,
    requester: &PeerId,
    requester_seeds: bool,
    out: &mut Vec<u8>,
    mut ids: Option<&mut Vec<PeerId>>,
    rng: &mut fastrand::Rng,
) -> usize {
    let n = peers.len();
    if want == 0 || n == 0 {
        return 0;
    }
    let start = if n <= want { 0 } else { rng.usize(..n) };
    let mut taken = 0;
    out.reserve(want.min(n) * N);
    let (tail, head) = peers.split_at(start);
    for p in head.iter().chain(tail) {
        if taken == want {
            break;
        }
        if (requester_seeds && p.seeder) || p.id == *requester {
            continue;
        }
        out.extend_from_slice(&p.compact);
        if let Some(ids) = ids.as_deref_mut() {
            ids.push(p.id);
        }
        taken += 1;
    }
    taken
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same seed every run: a failing selection replays exactly.
    fn rng() -> fastrand::Rng {
        fastrand::Rng::with_seed(7)
    }

    fn sel(want: usize, requester: &PeerId, requester_seeds: bool) -> Selection<'_> {
        Selection {
            want,
            requester,
            requester_seeds,
            v6_first: false,
            both_families: true,
            with_ids: true,
        }
    }

    fn update(n: u8, seeder: bool) -> Update {
        Update {
            id: PeerId([n; 20]),
            addr: Compact::of(SocketAddr::from(([10, 0, 0, n], 1000 + u16::from(n)))),
            seeder,
            key: None,
            stopped: false,
            completed: false,
            now: 100,
        }
    }

    #[test]
    fn peers_are_small() {
        // What a peer costs in the swarm's list (plus its index entry).
        assert_eq!(std::mem::size_of::<Peer<6>>(), 36);
        assert_eq!(std::mem::size_of::<Peer<18>>(), 48);
        // And what a torrent costs in the store's map, besides its peers.
        assert_eq!(std::mem::size_of::<Swarm>(), 48);
    }

    #[test]
    fn small_swarms_have_no_index_and_big_ones_do() {
        let mut s = Swarm::default();
        for n in 0..SMALL_SWARM as u8 {
            s.announce(&update(n, false), 100);
        }
        assert!(!s.index.is_active());
        assert_eq!(s.v4.capacity(), SMALL_SWARM, "lists grow 1, 2, 4, 8");
        s.announce(&update(200, false), 100);
        assert!(s.index.is_active());
        for n in (0..SMALL_SWARM as u8).chain([200]) {
            assert!(s.find(&PeerId([n; 20])).is_some());
        }
        assert_eq!(s.expire(101), SMALL_SWARM + 1);
        assert!(!s.index.is_active(), "an emptied swarm drops its index");
    }

    #[test]
    fn counts_follow_adds_updates_and_removals() {
        let mut s = Swarm::default();
        assert_eq!(
            s.announce(&update(1, false), 10),
            Change::Added { seeder: false }
        );
        assert_eq!(
            s.announce(&update(2, true), 10),
            Change::Added { seeder: true }
        );
        assert_eq!(
            s.stats(),
            SwarmStats {
                seeders: 1,
                leechers: 1,
                completed: 0
            }
        );
        let mut done = update(1, true);
        done.completed = true;
        assert_eq!(
            s.announce(&done, 10),
            Change::Updated {
                was: false,
                is: true
            }
        );
        // A repeated completed event from a seed is not counted twice.
        assert_eq!(
            s.announce(&done, 10),
            Change::Updated {
                was: true,
                is: true
            }
        );
        assert_eq!(
            s.stats(),
            SwarmStats {
                seeders: 2,
                leechers: 0,
                completed: 1
            }
        );
        let mut stop = update(2, true);
        stop.stopped = true;
        assert_eq!(s.announce(&stop, 10), Change::Removed { seeder: true });
        assert_eq!(
            s.stats(),
            SwarmStats {
                seeders: 1,
                leechers: 0,
                completed: 1
            }
        );
        assert_eq!(s.announce(&stop, 10), Change::None);
        // The index still finds the peer that was swapped into the removed slot.
        assert_eq!(
            s.announce(&update(1, true), 10),
            Change::Updated {
                was: true,
                is: true
            }
        );
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn full_swarm_stores_no_more() {
        let mut s = Swarm::default();
        for n in 0..5 {
            s.announce(&update(n, false), 3);
        }
        assert_eq!(s.len(), 3);
    }

    #[test]
    fn key_protects_an_address_change() {
        let mut s = Swarm::default();
        let mut a = update(1, false);
        a.key = Some(7);
        s.announce(&a, 10);
        let mut moved = update(1, false);
        moved.addr = Compact::of(SocketAddr::from(([192, 168, 0, 1], 5))); // same id, new IP
        moved.key = Some(8);
        assert_eq!(s.announce(&moved, 10), Change::KeyMismatch);
        moved.key = Some(7);
        assert_eq!(
            s.announce(&moved, 10),
            Change::Updated {
                was: false,
                is: false
            }
        );
        assert_eq!(&s.v4[0].compact[..4], &[192, 168, 0, 1]);
    }

    #[test]
    fn a_keyless_peer_cannot_be_stopped_or_moved_from_another_ip() {
        let mut s = Swarm::default();
        s.announce(&update(1, false), 10);
        let mut other = update(1, false);
        other.addr = Compact::of(SocketAddr::from(([10, 0, 0, 99], 1001)));
        assert_eq!(s.announce(&other, 10), Change::KeyMismatch);
        other.key = Some(3);
        assert_eq!(
            s.announce(&other, 10),
            Change::KeyMismatch,
            "a key claims nothing"
        );
        other.stopped = true;
        assert_eq!(s.announce(&other, 10), Change::KeyMismatch);
        assert_eq!(s.len(), 1);
        assert_eq!(&s.v4[0].compact, &[10, 0, 0, 1, 0x03, 0xe9]);
        // The same IP with another port (NAT rebinding) updates the peer.
        let mut rebound = update(1, true);
        rebound.addr = Compact::of(SocketAddr::from(([10, 0, 0, 1], 40000)));
        assert_eq!(
            s.announce(&rebound, 10),
            Change::Updated {
                was: false,
                is: true
            }
        );
        assert_eq!(&s.v4[0].compact, &[10, 0, 0, 1, 0x9c, 0x40]);
    }

    #[test]
    fn family_change_moves_the_peer() {
        let mut s = Swarm::default();
        // Moving to another address needs the key the peer was stored with.
        let mut first = update(1, false);
        first.key = Some(5);
        s.announce(&first, 10);
        s.announce(&update(2, false), 10);
        let mut v6 = update(1, true);
        v6.key = Some(5);
        v6.addr = Compact::of("[2001:db8::1]:6881".parse().unwrap());
        s.announce(&v6, 10);
        assert_eq!((s.v4.len(), s.v6.len()), (1, 1));
        // Regression: moving between families while becoming a seed counted the seed twice.
        assert_eq!(
            s.stats(),
            SwarmStats {
                seeders: 1,
                leechers: 1,
                completed: 0
            }
        );
        v6.seeder = false;
        s.announce(&v6, 10);
        assert_eq!(
            s.stats(),
            SwarmStats {
                seeders: 0,
                leechers: 2,
                completed: 0
            }
        );
        let mut out = PeerList::default();
        s.select(&sel(10, &PeerId([9; 20]), false), &mut rng(), &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(out.ids6, vec![PeerId([1; 20])]);
    }

    #[test]
    fn select_excludes_requester_and_seeds_for_seeds() {
        let mut s = Swarm::default();
        for n in 1..=4 {
            s.announce(&update(n, n % 2 == 0), 10);
        }
        let mut out = PeerList::default();
        s.select(&sel(50, &PeerId([1; 20]), false), &mut rng(), &mut out);
        assert_eq!(out.ids4.len(), 3);
        assert!(!out.ids4.contains(&PeerId([1; 20])));
        out.clear();
        s.select(&sel(50, &PeerId([2; 20]), true), &mut rng(), &mut out);
        let mut ids = out.ids4.clone();
        ids.sort();
        assert_eq!(ids, vec![PeerId([1; 20]), PeerId([3; 20])]);
        let addrs: Vec<_> = out.addrs().collect();
        assert!(addrs.contains(&"10.0.0.3:1003".parse().unwrap()));
    }

    #[test]
    fn select_limits_and_spreads() {
        let mut s = Swarm::default();
        for n in 0..100 {
            s.announce(&update(n, false), 1000);
        }
        let mut seen = [false; 100];
        let mut out = PeerList::default();
        let mut rng = rng();
        for _ in 0..200 {
            out.clear();
            s.select(&sel(10, &PeerId([255; 20]), false), &mut rng, &mut out);
            assert_eq!(out.len(), 10);
            for id in &out.ids4 {
                seen[usize::from(id.0[0])] = true;
            }
        }
        assert!(
            seen.iter().all(|&s| s),
            "every peer is given out eventually"
        );
    }

    proptest::proptest! {
        /// Random announces, stops, family changes and expiries against a plain model: counts,
        /// membership and selection always agree with it.
        #[test]
        fn agrees_with_a_model(ops in proptest::collection::vec((0u8..30, 0u8..6, 0u32..50), 0..300)) {
            use std::collections::HashMap;
            let mut s = Swarm::default();
            // id -> (last seen, seeder)
            let mut model: HashMap<u8, (u32, bool)> = HashMap::new();
            for (n, op, now) in ops {
                let mut u = update(n, op % 2 == 0);
                u.now = now;
                // Each peer keeps its key, so its family changes are its own.
                u.key = Some(u32::from(n));
                if op >= 4 {
                    u.addr = Compact::of(SocketAddr::from(([0x2001, 0xdb8, 0, 0, 0, 0, 0, u16::from(n)], 7)));
                }
                if op == 5 && now % 3 == 0 {
                    let oldest = now.saturating_sub(20);
                    s.expire(oldest);
                    model.retain(|_, (seen, _)| *seen >= oldest);
                    continue;
                }
                u.stopped = op == 3;
                s.announce(&u, 1000);
                if u.stopped {
                    model.remove(&n);
                } else {
                    model.insert(n, (now, u.seeder));
                }
                let seeders = model.values().filter(|(_, seed)| *seed).count() as u32;
                proptest::prop_assert_eq!(s.stats().seeders, seeders);
                proptest::prop_assert_eq!(s.len(), model.len());
                for m in 0u8..30 {
                    proptest::prop_assert_eq!(s.find(&PeerId([m; 20])).is_some(), model.contains_key(&m));
                }
                let mut out = PeerList::default();
                s.select(&sel(1000, &PeerId([255; 20]), false), &mut rng(), &mut out);
                let mut got: Vec<u8> = out.ids4.iter().chain(&out.ids6).map(|id| id.0[0]).collect();
                got.sort_unstable();
                let mut want: Vec<u8> = model.keys().copied().collect();
                want.sort_unstable();
                proptest::prop_assert_eq!(got, want);
            }
        }
    }

    #[test]
    fn expire_drops_old_and_reindexes() {
        let mut s = Swarm::default();
        for n in 0..10 {
            let mut u = update(n, n < 3);
            u.now = u32::from(n);
            s.announce(&u, 100);
        }
        assert_eq!(s.expire(5), 5);
        assert_eq!(
            s.stats(),
            SwarmStats {
                seeders: 0,
                leechers: 5,
                completed: 0
            }
        );
        let mut stop = update(9, false);
        stop.stopped = true;
        assert_eq!(s.announce(&stop, 100), Change::Removed { seeder: false });
    }
}
