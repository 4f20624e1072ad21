//! The choker: tit-for-tat upload slots as in the BitTorrent paper, an optimistic unchoke, anti-
//! snubbing, and round-robin slots when seeding. A pure state machine over peer statistics.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use crate::{ConnId, Rng};

/// Settings for [`Choker`]; the defaults are the paper's.
#[derive(Debug, Clone)]
pub struct ChokerConfig {
    /// Regular upload slots (besides the optimistic one).
    pub upload_slots: usize,
    /// How often the regular slots are re-evaluated.
    pub rechoke_interval: Duration,
    /// How often the optimistic unchoke moves to another peer.
    pub optimistic_interval: Duration,
    /// A peer that sent us no block for this long is snubbing us and loses its regular slot
    /// (while downloading).
    pub snub_timeout: Duration,
    /// A peer connected for less than this is new, and more likely to get the optimistic slot.
    pub new_peer_age: Duration,
    /// How much more likely a new peer is to be picked for the optimistic slot.
    pub new_peer_weight: u32,
    /// When seeding, how long a peer keeps a regular slot before the peers that waited longest
    /// take their turn.
    pub seed_turn: Duration,
}

impl Default for ChokerConfig {
    fn default() -> Self {
        ChokerConfig {
            upload_slots: 4,
            rechoke_interval: Duration::from_secs(10),
            optimistic_interval: Duration::from_secs(30),
            snub_timeout: Duration::from_secs(60),
            new_peer_age: Duration::from_secs(30),
            new_peer_weight: 3,
            seed_turn: Duration::from_secs(30),
        }
    }
}

/// What the choker needs to know about one connected peer at a re-evaluation.
#[derive(Debug, Clone)]
pub struct PeerStats {
    /// The connection.
    pub id: ConnId,
    /// The peer is interested in our pieces.
    pub interested: bool,
    /// Recent rate at which it sends us data, bytes per second.
    pub download_rate: u64,
    /// Recent rate at which we send it data, bytes per second.
    pub upload_rate: u64,
    /// When the connection was established.
    pub connected_at: Instant,
    /// When it last sent us a block, if ever.
    pub last_block_at: Option<Instant>,
}

/// The choke and unchoke messages to send after a re-evaluation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChokeChanges {
    /// Peers to unchoke now.
    pub unchoke: Vec<ConnId>,
    /// Peers to choke now.
    pub choke: Vec<ConnId>,
}

impl ChokeChanges {
    /// No messages to send.
    pub fn is_empty(&self) -> bool {
        self.unchoke.is_empty() && self.choke.is_empty()
    }
}

#[derive(Debug, Clone, Default)]
struct History {
    regular_since: Option<Instant>,
    last_unchoked: Option<Instant>,
}

/// Decides which peers we upload to.
///
/// Call [`handle_timeout`](Self::handle_timeout) when [`poll_timeout`](Self::poll_timeout) is
/// reached with the current statistics of every connected peer; send the returned chokes and
/// unchokes. [`rechoke`](Self::rechoke) re-evaluates at once (a slot holder left, say).
#[derive(Debug)]
pub struct Choker {
    config: ChokerConfig,
    rng: Rng,
    next_rechoke: Option<Instant>,
    next_optimistic: Option<Instant>,
    optimistic: Option<ConnId>,
    regular: BTreeSet<ConnId>,
    history: HashMap<ConnId, History>,
}

impl Choker {
    /// A choker with no peers unchoked; the first call to [`handle_timeout`](Self::handle_timeout)
    /// evaluates.
    pub fn new(config: ChokerConfig, seed: u64) -> Self {
        Choker {
            config,
            rng: Rng::new(seed),
            next_rechoke: None,
            next_optimistic: None,
            optimistic: None,
            regular: BTreeSet::new(),
            history: HashMap::new(),
        }
    }

    /// When the next re-evaluation is due (`None` before the first).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_rechoke
    }

    /// Whether `id` is unchoked (regular or optimistic).
    pub fn is_unchoked(&self, id: ConnId) -> bool {
        self.regular.contains(&id) || self.optimistic == Some(id)
    }

    /// The peer holding the optimistic slot.
    pub fn optimistic(&self) -> Option<ConnId> {
        self.optimistic
    }

    /// The peers holding regular slots.
    pub fn regular(&self) -> impl Iterator<Item = ConnId> + '_ {
        self.regular.iter().copied()
    }

    /// Forgets a disconnected peer; returns whether it held a slot (worth a
    /// [`rechoke`](Self::rechoke) so the slot is not idle until the next round).
    pub fn remove_peer(&mut self, id: ConnId) -> bool {
        self.history.remove(&id);
        let held = self.regular.remove(&id) | (self.optimistic == Some(id));
        if self.optimistic == Some(id) {
            self.optimistic = None;
        }
        held
    }

    /// Re-evaluates if a round is due at `now`; otherwise returns no changes.
    pub fn handle_timeout(
        &mut self,
        now: Instant,
        seeding: bool,
        peers: &[PeerStats],
    ) -> ChokeChanges {
        match self.next_rechoke {
            Some(due) if now < due => ChokeChanges::default(),
            _ => self.rechoke(now, seeding, peers),
        }
    }

    /// Re-evaluates the slots now: the regular ones, and the optimistic one if its 30 s are up
    /// or its holder is gone. `peers` lists every connected peer.
    pub fn rechoke(&mut self, now: Instant, seeding: bool, peers: &[PeerStats]) -> ChokeChanges {
        let before: BTreeSet<ConnId> = self
            .regular
            .iter()
            .copied()
            .chain(self.optimistic)
            .collect();
        let present: BTreeSet<ConnId> = peers.iter().map(|p| p.id).collect();
        self.history.retain(|id, _| present.contains(id));
        for p in peers {
            self.history.entry(p.id).or_default();
        }

        // Regular slots.
        let mut candidates: Vec<&PeerStats> = peers.iter().filter(|p| p.interested).collect();
        self.rng.shuffle(&mut candidates); // random order among equals
        let regular: BTreeSet<ConnId> = if seeding {
            self.seeding_slots(now, candidates)
        } else {
            let snub = self.config.snub_timeout;
            candidates.retain(|p| {
                now.saturating_duration_since(p.last_block_at.unwrap_or(p.connected_at)) < snub
            });
            candidates.sort_by_key(|p| std::cmp::Reverse(p.download_rate));
            candidates
                .iter()
                .take(self.config.upload_slots)
                .map(|p| p.id)
                .collect()
        };
        for &id in &regular {
            let h = self.history.entry(id).or_default();
            if !self.regular.contains(&id) || h.regular_since.is_none() {
                h.regular_since = Some(now);
            }
        }
        for (id, h) in self.history.iter_mut() {
            if !regular.contains(id) {
                h.regular_since = None;
            }
        }
        self.regular = regular;

        // The optimistic slot.
        let holder_ok = self.optimistic.is_some_and(|o| {
            !self.regular.contains(&o) && peers.iter().any(|p| p.id == o && p.interested)
        });
        let due = self.next_optimistic.is_none_or(|t| now >= t);
        if due || !holder_ok {
            self.optimistic = self.choose_optimistic(now, peers);
            self.next_optimistic = Some(now + self.config.optimistic_interval);
        }

        let after: BTreeSet<ConnId> = self
            .regular
            .iter()
            .copied()
            .chain(self.optimistic)
            .collect();
        for id in &after {
            if let Some(h) = self.history.get_mut(id) {
                h.last_unchoked = Some(now);
            }
        }
        self.next_rechoke = Some(now + self.config.rechoke_interval);
        ChokeChanges {
            unchoke: after.difference(&before).copied().collect(),
            choke: before
                .difference(&after)
                .filter(|id| present.contains(id))
                .copied()
                .collect(),
        }
    }

    /// Seeding: holders keep their slot for their turn (fastest first should slots shrink);
    /// freed slots go to the peers that have waited longest.
    fn seeding_slots(&self, now: Instant, mut candidates: Vec<&PeerStats>) -> BTreeSet<ConnId> {
        let turn = self.config.seed_turn;
        let in_turn = |p: &PeerStats| {
            self.regular.contains(&p.id)
                && self
                    .history
                    .get(&p.id)
                    .and_then(|h| h.regular_since)
                    .is_some_and(|s| now.saturating_duration_since(s) < turn)
        };
        // Holders whose turn just ended go to the back of the queue.
        let waited = |p: &PeerStats| {
            (
                self.regular.contains(&p.id),
                self.history.get(&p.id).and_then(|h| h.last_unchoked),
            )
        };
        // Stable sorts over a shuffled list: in-turn holders by upload rate, then the longest
        // waiting (never unchoked first), ties at random.
        candidates.sort_by_key(|p| waited(p));
        candidates.sort_by_key(|p| {
            (
                !in_turn(p),
                if in_turn(p) {
                    std::cmp::Reverse(p.upload_rate)
                } else {
                    std::cmp::Reverse(0)
                },
            )
        });
        candidates
            .iter()
            .take(self.config.upload_slots)
            .map(|p| p.id)
            .collect()
    }

    fn choose_optimistic(&mut self, now: Instant, peers: &[PeerStats]) -> Option<ConnId> {
        let pool: Vec<(ConnId, u64)> = peers
            .iter()
            .filter(|p| p.interested && !self.regular.contains(&p.id))
            .map(|p| {
                let new = now.saturating_duration_since(p.connected_at) < self.config.new_peer_age;
                (
                    p.id,
                    if new {
                        u64::from(self.config.new_peer_weight.max(1))
                    } else {
                        1
                    },
                )
            })
            .collect();
        let total: u64 = pool.iter().map(|(_, w)| w).sum();
        let mut ticket = self.rng.below(total);
        for (id, w) in pool {
            if ticket < w {
                return Some(id);
            }
            ticket -= w;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(id: u64, t0: Instant, rate: u64) -> PeerStats {
        PeerStats {
            id: ConnId(id),
            interested: true,
            download_rate: rate,
            upload_rate: rate,
            connected_at: t0,
            last_block_at: Some(t0),
        }
    }

    fn ids(v: &[u64]) -> BTreeSet<ConnId> {
        v.iter().map(|&i| ConnId(i)).collect()
    }

    #[test]
    fn best_reciprocating_peers_get_the_regular_slots() {
        let t0 = Instant::now();
        let mut c = Choker::new(ChokerConfig::default(), 1);
        let mut peers: Vec<PeerStats> = (0..6).map(|i| peer(i, t0, (i + 1) * 1000)).collect();
        peers.push(PeerStats {
            interested: false,
            ..peer(9, t0, 99_000)
        });
        let changes = c.handle_timeout(t0, false, &peers);
        assert_eq!(c.regular().collect::<BTreeSet<_>>(), ids(&[2, 3, 4, 5]));
        let opt = c.optimistic().unwrap();
        assert!(
            opt == ConnId(0) || opt == ConnId(1),
            "optimistic among the choked interested: {opt}"
        );
        assert_eq!(changes.unchoke.len(), 5);
        assert!(changes.choke.is_empty());
        assert!(
            !c.is_unchoked(ConnId(9)),
            "not interested, no slot however fast"
        );
        assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_secs(10)));
    }

    #[test]
    fn re_evaluated_every_ten_seconds_not_sooner() {
        let t0 = Instant::now();
        let mut c = Choker::new(
            ChokerConfig {
                upload_slots: 2,
                ..ChokerConfig::default()
            },
            2,
        );
        let mut peers: Vec<PeerStats> = (0..4).map(|i| peer(i, t0, (i + 1) * 1000)).collect();
        c.handle_timeout(t0, false, &peers);
        assert_eq!(c.regular().collect::<BTreeSet<_>>(), ids(&[2, 3]));
        // Peer 0 becomes the fastest uploader to us.
        peers[0].download_rate = 50_000;
        assert!(c
            .handle_timeout(t0 + Duration::from_secs(9), false, &peers)
            .is_empty());
        let changes = c.handle_timeout(t0 + Duration::from_secs(10), false, &peers);
        assert_eq!(c.regular().collect::<BTreeSet<_>>(), ids(&[0, 3]));
        assert!(changes.unchoke.contains(&ConnId(0)) || c.optimistic() == Some(ConnId(0)));
        // The optimistic holder is not choked merely because it became regular.
        assert!(!changes.choke.contains(&ConnId(0)));
    }

    #[test]
    fn optimistic_slot_rotates_every_thirty_seconds() {
        let t0 = Instant::now();
        let mut c = Choker::new(ChokerConfig::default(), 3);
        let mut peers: Vec<PeerStats> = (0..14)
            .map(|i| peer(i, t0, if i < 4 { 10_000 } else { 10 }))
            .collect();
        let mut holders = Vec::new();
        for step in 0..60u64 {
            let now = t0 + Duration::from_secs(100 + step * 10);
            for p in &mut peers {
                p.last_block_at = Some(now);
            }
            c.handle_timeout(now, false, &peers);
            holders.push(c.optimistic().unwrap());
        }
        for (i, w) in holders.chunks(3).enumerate() {
            assert!(
                w.iter().all(|&h| h == w[0]),
                "slot changed within a 30 s period {i}: {w:?}"
            );
        }
        let distinct: BTreeSet<_> = holders.iter().collect();
        assert!(
            distinct.len() >= 8,
            "rotation reaches many peers: {distinct:?}"
        );
        assert!(
            holders.iter().all(|h| h.0 >= 4),
            "never a regular-slot holder"
        );
    }

    #[test]
    fn new_peers_are_three_times_as_likely_to_be_optimistic() {
        let t0 = Instant::now();
        let now = t0 + Duration::from_secs(600);
        let mut new_wins = 0;
        let trials = 3000;
        for seed in 0..trials {
            let mut c = Choker::new(
                ChokerConfig {
                    upload_slots: 0,
                    ..ChokerConfig::default()
                },
                seed,
            );
            let mut peers: Vec<PeerStats> = (0..3).map(|i| peer(i, t0, 0)).collect();
            peers.push(PeerStats {
                connected_at: now - Duration::from_secs(5),
                ..peer(3, t0, 0)
            });
            c.handle_timeout(now, false, &peers);
            if c.optimistic() == Some(ConnId(3)) {
                new_wins += 1;
            }
        }
        // Weight 3 against three peers of weight 1: expected half the time.
        let share = f64::from(new_wins) / trials as f64;
        assert!((0.45..0.55).contains(&share), "new peer share {share}");
    }

    #[test]
    fn a_snubbing_peer_loses_its_regular_slot() {
        let t0 = Instant::now();
        let mut c = Choker::new(
            ChokerConfig {
                upload_slots: 2,
                ..ChokerConfig::default()
            },
            4,
        );
        let mut peers: Vec<PeerStats> = (0..3).map(|i| peer(i, t0, (i + 1) * 1000)).collect();
        c.handle_timeout(t0, false, &peers);
        assert!(c.regular().any(|id| id == ConnId(2)));
        // Peer 2 keeps a high measured rate from the past but sent nothing for 60 s.
        let later = t0 + Duration::from_secs(60);
        for p in &mut peers[..2] {
            p.last_block_at = Some(later);
        }
        let changes = c.handle_timeout(later, false, &peers);
        assert!(!c.regular().any(|id| id == ConnId(2)));
        assert_eq!(c.regular().collect::<BTreeSet<_>>(), ids(&[0, 1]));
        // It may still be the optimistic unchoke, the only way back in.
        if c.optimistic() != Some(ConnId(2)) {
            assert!(changes.choke.contains(&ConnId(2)));
        }
        // When seeding, snubbing does not apply (peers never send us blocks).
        let mut s = Choker::new(
            ChokerConfig {
                upload_slots: 3,
                ..ChokerConfig::default()
            },
            4,
        );
        s.handle_timeout(later, true, &peers);
        assert_eq!(s.regular().count(), 3);
    }

    #[test]
    fn seeding_rotates_slots_so_every_peer_is_served() {
        let t0 = Instant::now();
        let mut c = Choker::new(ChokerConfig::default(), 5);
        let peers: Vec<PeerStats> = (0..12).map(|i| peer(i, t0, (i + 1) * 100)).collect();
        let mut served = BTreeSet::new();
        let mut max_unchoked = 0;
        for step in 0..12u64 {
            let now = t0 + Duration::from_secs(step * 10);
            let changes = c.handle_timeout(now, true, &peers);
            for id in c.regular() {
                served.insert(id);
            }
            let unchoked = peers.iter().filter(|p| c.is_unchoked(p.id)).count();
            max_unchoked = max_unchoked.max(unchoked);
            assert!(changes.unchoke.iter().all(|id| c.is_unchoked(*id)));
        }
        assert_eq!(
            served.len(),
            12,
            "every interested peer got a regular slot within two minutes"
        );
        assert_eq!(max_unchoked, 5, "4 regular + 1 optimistic");
    }

    #[test]
    fn seeding_holders_keep_their_turn_then_yield() {
        let t0 = Instant::now();
        let mut c = Choker::new(
            ChokerConfig {
                upload_slots: 2,
                ..ChokerConfig::default()
            },
            6,
        );
        let peers: Vec<PeerStats> = (0..4).map(|i| peer(i, t0, 100)).collect();
        c.handle_timeout(t0, true, &peers);
        let first: BTreeSet<ConnId> = c.regular().collect();
        c.handle_timeout(t0 + Duration::from_secs(10), true, &peers);
        c.handle_timeout(t0 + Duration::from_secs(20), true, &peers);
        assert_eq!(
            c.regular().collect::<BTreeSet<_>>(),
            first,
            "within their 30 s turn"
        );
        c.handle_timeout(t0 + Duration::from_secs(30), true, &peers);
        let second: BTreeSet<ConnId> = c.regular().collect();
        assert!(first.is_disjoint(&second), "{first:?} then {second:?}");
    }

    #[test]
    fn departed_peers_free_their_slots() {
        let t0 = Instant::now();
        let mut c = Choker::new(
            ChokerConfig {
                upload_slots: 1,
                ..ChokerConfig::default()
            },
            7,
        );
        let peers: Vec<PeerStats> = (0..3).map(|i| peer(i, t0, (i + 1) * 1000)).collect();
        c.handle_timeout(t0, false, &peers);
        assert!(c.remove_peer(ConnId(2)));
        let changes = c.rechoke(t0 + Duration::from_secs(1), false, &peers[..2]);
        assert!(c.regular().any(|id| id == ConnId(1)));
        assert!(
            !changes.choke.contains(&ConnId(2)),
            "no message to a closed connection"
        );
        assert!(!c.remove_peer(ConnId(9)));
    }
}
