//! The bad-block hunt of v2 and hybrid torrents: when a piece fails its hash check, a peer that
//! has it is asked for the piece's 16 KiB leaf hashes (BEP 52 `hash request`), the leaves are
//! checked against the trusted piece-layer hash, and the disk thread's SHA-256 of each stored
//! block is compared with them. Only the blocks that differ are downloaded again, each a strike
//! against its sender; a peer whose leaves do not hash to the trusted hash is struck too
//! (forged leaves). Without leaves (no peer answers within its time, all refuse) the piece is
//! fetched whole again, as for v1.
//!
//! [`Hunt`] is one failed piece's state, pure; the `impl Torrent` below wires it to the picker,
//! the peers and the disk.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use torrentkit_metainfo::merkle::{Hash256, BLOCK_SIZE};
use torrentkit_wire::HashRequest;

use super::{Action, DiskJob, Torrent};
use crate::ConnId;

/// How long a first ask waits for a peer other than the piece's senders (the sender of a bad
/// block may well forge the leaves too), and how long one peer has to answer.
pub const HUNT_WAIT: Duration = Duration::from_secs(5);
/// Peers asked for one piece's leaves before it is fetched whole again.
const MAX_ASKS: usize = 4;

/// What to do next for one hunt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Next {
    /// Ask this peer for the leaves.
    Ask(ConnId),
    /// Nothing yet: look again at this time.
    Wait(Instant),
    /// No leaves to be had: fetch the piece whole again.
    GiveUp,
}

/// The outcome once both the leaves and the stored blocks' hashes are known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Verdict {
    /// These blocks (index, sender) differ from the trusted leaves.
    Bad(Vec<(u32, ConnId)>),
    /// Every stored block matches its leaf (nothing to pin the failure on).
    NoneBad,
}

/// One failed piece's hunt for its bad blocks.
#[derive(Debug, Clone)]
pub(super) struct Hunt {
    failed_at: Instant,
    /// Who sent each block of the failed attempt.
    senders: Vec<ConnId>,
    /// The senders' addresses when the piece failed, to name them once they are gone.
    addrs: Vec<(ConnId, SocketAddr)>,
    /// Peers asked so far (answered badly, refused, or timed out).
    tried: Vec<ConnId>,
    /// The peer asked now, and when it is out of time.
    asked: Option<(ConnId, Instant)>,
    /// The trusted leaves, once a peer sent them.
    leaves: Option<Vec<Hash256>>,
    /// The SHA-256 of each stored block, from the disk thread.
    stored: Option<Vec<Hash256>>,
}

impl Hunt {
    pub(super) fn new(now: Instant, senders: Vec<ConnId>) -> Hunt {
        Hunt {
            failed_at: now,
            senders,
            addrs: Vec::new(),
            tried: Vec::new(),
            asked: None,
            leaves: None,
            stored: None,
        }
    }

    /// Whom to ask, among `candidates` (connected peers that have the piece): a peer that did
    /// not send the failed attempt first; one of its senders only after [`HUNT_WAIT`].
    pub(super) fn next(&self, now: Instant, candidates: &[ConnId]) -> Next {
        if let Some((_, deadline)) = self.asked {
            return Next::Wait(deadline);
        }
        if self.leaves.is_some() {
            return Next::Wait(now + HUNT_WAIT);
        }
        if self.tried.len() >= MAX_ASKS {
            return Next::GiveUp;
        }
        let fresh = |c: &&ConnId| !self.tried.contains(c);
        let wait_until = self.failed_at + HUNT_WAIT;
        if let Some(&c) = candidates
            .iter()
            .filter(fresh)
            .find(|c| !self.senders.contains(c))
        {
            return Next::Ask(c);
        }
        if now < wait_until {
            return Next::Wait(wait_until);
        }
        match candidates.iter().find(fresh) {
            Some(&c) => Next::Ask(c),
            None => Next::GiveUp,
        }
    }

    pub(super) fn asked(&mut self, now: Instant, id: ConnId) {
        self.asked = Some((id, now + HUNT_WAIT));
    }

    /// Whether `id` is the peer asked now.
    pub(super) fn is_asking(&self, id: ConnId) -> bool {
        self.asked.is_some_and(|(a, _)| a == id)
    }

    /// The peer asked now did not answer usefully (refused, forged, out of time, gone).
    pub(super) fn ask_failed(&mut self) {
        if let Some((id, _)) = self.asked.take() {
            self.tried.push(id);
        }
    }

    /// Out of time at `now`.
    pub(super) fn overdue(&self, now: Instant) -> bool {
        self.asked.is_some_and(|(_, d)| d <= now)
    }

    /// When the hunt next needs a look without any input (an answer's deadline, or the end of
    /// the wait for another peer).
    pub(super) fn deadline(&self) -> Option<Instant> {
        match self.asked {
            Some((_, d)) => Some(d),
            None if self.leaves.is_none() => Some(self.failed_at + HUNT_WAIT),
            None => None,
        }
    }

    pub(super) fn set_leaves(&mut self, leaves: Vec<Hash256>) {
        self.asked = None;
        self.leaves = Some(leaves);
    }

    pub(super) fn set_stored(&mut self, stored: Vec<Hash256>) {
        self.stored = Some(stored);
    }

    /// The verdict, once both sides are known.
    pub(super) fn verdict(&self) -> Option<Verdict> {
        let (leaves, stored) = (self.leaves.as_ref()?, self.stored.as_ref()?);
        let bad: Vec<(u32, ConnId)> = leaves
            .iter()
            .enumerate()
            .filter(|&(i, leaf)| stored.get(i) != Some(leaf))
            .filter_map(|(i, _)| Some((i as u32, *self.senders.get(i)?)))
            .collect();
        Some(if bad.is_empty() {
            Verdict::NoneBad
        } else {
            Verdict::Bad(bad)
        })
    }
}

impl Torrent {
    /// `piece` failed its check: hunts its bad blocks when the torrent knows the piece's
    /// place in a Merkle tree and it has more than one block. False: not huntable (the caller
    /// fetches it whole again).
    pub(super) fn start_hunt(&mut self, now: Instant, piece: u32) -> bool {
        if u64::from(self.cfg.picker.block_size) != BLOCK_SIZE || self.hunts.contains_key(&piece) {
            return false;
        }
        let Some(place) = self.cfg.merkle.as_ref().and_then(|m| m.get(piece).copied()) else {
            return false;
        };
        // A piece of one block has nothing to single out.
        if place.blocks < 2 {
            return false;
        }
        let Some(senders) = self.picker.block_senders(piece) else {
            return false;
        };
        let mut hunt = Hunt::new(now, senders.clone());
        let mut distinct = senders;
        distinct.sort_unstable();
        distinct.dedup();
        hunt.addrs = distinct
            .into_iter()
            .filter_map(|id| Some((id, self.peers.get(&id)?.addr)))
            .collect();
        self.hunts.insert(piece, hunt);
        self.actions.push_back(Action::Disk(DiskJob::PieceLeaves {
            piece,
            len: place.data_len,
        }));
        self.advance_hunt(now, piece);
        true
    }

    /// Asks the next peer for `piece`'s leaves, or gives up and fetches it whole.
    fn advance_hunt(&mut self, now: Instant, piece: u32) {
        let Some(hunt) = self.hunts.get(&piece) else {
            return;
        };
        let hybrid = self.cfg.merkle.as_ref().is_some_and(|m| m.hybrid);
        let candidates: Vec<ConnId> = self
            .peers
            .iter()
            .filter(|(&id, p)| {
                p.conn.is_connected()
                    && (p.conn.peer_v2() || !hybrid)
                    && self.picker.peer_has(id, piece)
            })
            .map(|(&id, _)| id)
            .collect();
        match hunt.next(now, &candidates) {
            Next::Wait(_) => {}
            Next::GiveUp => {
                self.hunts.remove(&piece);
                self.refetch_whole(now, piece);
            }
            Next::Ask(id) => {
                let Some(request) = self
                    .cfg
                    .merkle
                    .as_ref()
                    .and_then(|m| m.get(piece))
                    .map(|p| p.leaf_request())
                else {
                    return;
                };
                if let Some(h) = self.hunts.get_mut(&piece) {
                    h.asked(now, id);
                }
                self.send_hash_request(now, id, request);
            }
        }
    }

    /// A `hashes` reply from `id`.
    pub(super) fn hunt_hashes(
        &mut self,
        now: Instant,
        id: ConnId,
        request: &HashRequest,
        hashes: &[Hash256],
    ) {
        let Some(merkle) = self.cfg.merkle.clone() else {
            return;
        };
        let Some(piece) = merkle.piece_of(request) else {
            return;
        };
        let Some(hunt) = self.hunts.get_mut(&piece).filter(|h| h.is_asking(id)) else {
            return;
        };
        let Some(place) = merkle.get(piece) else {
            return;
        };
        match place.trusted_leaves(request, hashes) {
            Some(leaves) => {
                hunt.set_leaves(leaves);
                self.conclude_hunt(now, piece);
            }
            None => {
                hunt.ask_failed();
                self.actions
                    .push_back(Action::ForgedHashes { conn: id, piece });
                self.strike(id);
                self.advance_hunt(now, piece);
            }
        }
    }

    /// A `hash reject` from `id`: the next peer is asked.
    pub(super) fn hunt_rejected(&mut self, now: Instant, id: ConnId, request: &HashRequest) {
        let Some(piece) = self.cfg.merkle.as_ref().and_then(|m| m.piece_of(request)) else {
            return;
        };
        if let Some(h) = self.hunts.get_mut(&piece).filter(|h| h.is_asking(id)) {
            h.ask_failed();
            self.advance_hunt(now, piece);
        }
    }

    /// The result of a [`DiskJob::PieceLeaves`] (`None`: the piece could not be read).
    pub fn handle_piece_leaves(&mut self, now: Instant, piece: u32, hashes: Option<Vec<Hash256>>) {
        match hashes {
            Some(h) => {
                if let Some(hunt) = self.hunts.get_mut(&piece) {
                    hunt.set_stored(h);
                    self.conclude_hunt(now, piece);
                }
            }
            None => {
                if self.hunts.remove(&piece).is_some() {
                    self.refetch_whole(now, piece);
                }
            }
        }
    }

    /// Hunts out of time at `now` ask their next peer.
    pub(super) fn hunt_timeouts(&mut self, now: Instant) {
        let due: Vec<u32> = self
            .hunts
            .iter()
            .filter(|(_, h)| h.deadline().is_some_and(|d| d <= now))
            .map(|(&p, _)| p)
            .collect();
        for piece in due {
            if let Some(h) = self.hunts.get_mut(&piece) {
                if h.overdue(now) {
                    h.ask_failed();
                }
            }
            self.advance_hunt(now, piece);
        }
    }

    /// The earliest time a hunt needs a look.
    pub(super) fn hunt_timeout(&self) -> Option<Instant> {
        self.hunts.values().filter_map(Hunt::deadline).min()
    }

    /// With both sides known: the bad blocks are struck and asked for again, or (none found)
    /// the piece is fetched whole.
    fn conclude_hunt(&mut self, now: Instant, piece: u32) {
        let Some(verdict) = self.hunts.get(&piece).and_then(Hunt::verdict) else {
            return;
        };
        let addrs = self
            .hunts
            .remove(&piece)
            .map(|h| h.addrs)
            .unwrap_or_default();
        let bad = match verdict {
            Verdict::Bad(bad) => bad,
            Verdict::NoneBad => return self.refetch_whole(now, piece),
        };
        let blocks: Vec<u32> = bad.iter().map(|&(b, _)| b).collect();
        if !self.picker.reopen_blocks(piece, &blocks) {
            return self.refetch_whole(now, piece);
        }
        for (block, sender) in bad {
            self.actions.push_back(Action::BadBlock {
                conn: sender,
                addr: addrs.iter().find(|a| a.0 == sender).map(|a| a.1),
                piece,
                offset: block * BLOCK_SIZE as u32,
            });
            // Not asked of the same sender again for now (until the choker's next round).
            self.picker
                .request_rejected(sender, piece, block * BLOCK_SIZE as u32);
            self.blame_web_seeds(piece, &[sender]);
            self.strike(sender);
        }
        let ids: Vec<ConnId> = self.peers.keys().copied().collect();
        for id in ids {
            self.fill_requests(now, id);
        }
    }

    /// Today's rule for a failed piece: every block downloaded again, its senders blamed.
    pub(super) fn refetch_whole(&mut self, now: Instant, piece: u32) {
        let senders = self.picker.piece_failed(piece);
        self.blame_after_failure(piece, &senders);
        self.blame_web_seeds(piece, &senders);
        let ids: Vec<ConnId> = self.peers.keys().copied().collect();
        for id in ids {
            self.fill_requests(now, id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: u64) -> Vec<ConnId> {
        (0..n).map(ConnId).collect()
    }

    #[test]
    fn a_sender_is_asked_only_after_the_wait_for_another_peer() {
        let t0 = Instant::now();
        let c = ids(3);
        let h = Hunt::new(t0, vec![c[0], c[0]]);
        // Only the sender: wait for someone else.
        assert_eq!(h.next(t0, &[c[0]]), Next::Wait(t0 + HUNT_WAIT));
        // Another peer is asked at once.
        assert_eq!(h.next(t0, &[c[0], c[1]]), Next::Ask(c[1]));
        // After the wait, the sender itself.
        assert_eq!(h.next(t0 + HUNT_WAIT, &[c[0]]), Next::Ask(c[0]));
        assert_eq!(h.next(t0 + HUNT_WAIT, &[]), Next::GiveUp);
    }

    #[test]
    fn each_peer_is_asked_once_and_a_timeout_moves_on() {
        let t0 = Instant::now();
        let c = ids(3);
        let mut h = Hunt::new(t0, vec![c[0], c[1]]);
        assert_eq!(h.next(t0, &c), Next::Ask(c[2]));
        h.asked(t0, c[2]);
        assert_eq!(h.deadline(), Some(t0 + HUNT_WAIT));
        assert!(!h.overdue(t0) && h.overdue(t0 + HUNT_WAIT));
        h.ask_failed();
        let later = t0 + HUNT_WAIT;
        assert_eq!(h.next(later, &c), Next::Ask(c[0]));
        h.asked(later, c[0]);
        h.ask_failed();
        assert_eq!(h.next(later, &c), Next::Ask(c[1]));
        h.asked(later, c[1]);
        h.ask_failed();
        assert_eq!(h.next(later, &c), Next::GiveUp);
    }

    #[test]
    fn the_verdict_names_the_blocks_that_differ_and_their_senders() {
        let t0 = Instant::now();
        let c = ids(2);
        let mut h = Hunt::new(t0, vec![c[0], c[1], c[1], c[0]]);
        h.set_stored(vec![[1; 32], [9; 32], [3; 32], [8; 32]]);
        assert_eq!(h.verdict(), None);
        h.set_leaves(vec![[1; 32], [2; 32], [3; 32], [4; 32]]);
        assert_eq!(h.verdict(), Some(Verdict::Bad(vec![(1, c[1]), (3, c[0])])));
        h.set_stored(vec![[1; 32], [2; 32], [3; 32], [4; 32]]);
        assert_eq!(h.verdict(), Some(Verdict::NoneBad));
    }
}
