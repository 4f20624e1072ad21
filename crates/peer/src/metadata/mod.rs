//! Fetching a torrent's `info` dictionary from peers (BEP 9, ut_metadata) as a sans-IO state
//! machine: 16 KiB pieces requested from several peers at once, the size bounded before
//! anything is allocated, the result checked against the info-hash, and peers that lie (wrong
//! bytes, wrong size) found out and dropped while their pieces are fetched elsewhere.
//!
//! How liars are found: the size in use is the one most peers announce (a peer announcing
//! another is not asked). When the assembled bytes fail the hash check, every piece is kept as
//! a *version* with its sender and fetched again from peers that have not sent it yet; the
//! assembly then takes, piece by piece, the version most peers agree on. Once the hash matches,
//! every peer that sent a different version of some piece, or announced a different size, is
//! dropped.

mod layers;
mod votes;

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

use sha1::{Digest, Sha1};
use torrentkit_wire::METADATA_PIECE_LEN;

use crate::ConnId;
use votes::Votes;

pub use layers::{LayerDrop, PieceLayerFetcher};

/// anacrolix/torrent's bound on `metadata_size` (libtorrent allows 30 MiB, aria2 8 MiB).
pub const DEFAULT_MAX_METADATA_SIZE: u64 = 16 << 20;

/// How many requests one peer has out at once.
const PER_PEER: usize = 16;
/// A request unanswered this long goes to another peer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// Why the [`MetadataAssembler`] drops a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MetadataDrop {
    /// The announced `metadata_size` is 0 or over the bound.
    BadSize {
        /// What it announced.
        size: u64,
        /// The bound.
        max: u64,
    },
    /// It announced a size other than the real one (known once the hash matched).
    WrongSize {
        /// What it announced.
        claimed: u64,
        /// The verified size.
        actual: u64,
    },
    /// It sent a piece whose bytes differ from the verified metadata.
    WrongPiece {
        /// The piece.
        piece: u32,
    },
    /// It sent a piece that had not been asked of it.
    Unrequested {
        /// The piece.
        piece: u32,
    },
}

impl fmt::Display for MetadataDrop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetadataDrop::BadSize { size, max } => {
                write!(
                    f,
                    "metadata_size {size} is 0 or over the limit of {max} bytes"
                )
            }
            MetadataDrop::WrongSize { claimed, actual } => write!(
                f,
                "claimed metadata_size {claimed}, but the metadata is {actual} bytes"
            ),
            MetadataDrop::WrongPiece { piece } => {
                write!(f, "sent a wrong metadata piece {piece}")
            }
            MetadataDrop::Unrequested { piece } => {
                write!(f, "sent metadata piece {piece} that was not requested")
            }
        }
    }
}

#[derive(Debug)]
struct PeerState {
    /// Its announced size.
    size: u64,
    /// Requests out: piece and when asked.
    asked: Vec<(u32, Instant)>,
    /// Pieces it rejected (it is not asked for them again).
    rejected: Vec<u32>,
}

/// Fetches the `info` dictionary of one info-hash from peers.
///
/// Report peers that support ut_metadata with [`handle_peer`](Self::handle_peer) (their
/// handshake's `metadata_size`), their `data` and `reject` messages with
/// [`handle_data`](Self::handle_data) and [`handle_reject`](Self::handle_reject), closed
/// connections with [`remove_peer`](Self::remove_peer), and call
/// [`handle_timeout`](Self::handle_timeout) at [`poll_timeout`](Self::poll_timeout). After
/// each, send [`poll_request`](Self::poll_request)'s requests and close the connections
/// [`poll_drop`](Self::poll_drop) names. [`metadata`](Self::metadata) is the verified
/// dictionary once there.
#[derive(Debug)]
pub struct MetadataAssembler {
    info_hash: [u8; 20],
    /// A v2-only link's full SHA-256 info-hash (BEP 52): the bytes are checked against it
    /// rather than by SHA-1 against `info_hash` (its truncation).
    info_hash_v2: Option<[u8; 32]>,
    max_size: u64,
    peers: BTreeMap<ConnId, PeerState>,
    /// The size in use, and the pieces' current versions.
    size: Option<u64>,
    votes: Votes,
    /// Hash checks failed so far (each one asks for one more agreeing sender per piece).
    failures: u32,
    drops: VecDeque<(ConnId, MetadataDrop)>,
    done: Option<Vec<u8>>,
}

impl MetadataAssembler {
    /// Fetches the metadata of `info_hash`, at most `max_size` bytes.
    pub fn new(info_hash: [u8; 20], max_size: u64) -> Self {
        MetadataAssembler {
            info_hash,
            info_hash_v2: None,
            max_size,
            peers: BTreeMap::new(),
            size: None,
            votes: Votes::new(0),
            failures: 0,
            drops: VecDeque::new(),
            done: None,
        }
    }

    /// Fetches the metadata of a v2-only torrent (BEP 52): its bytes must hash by SHA-256 to
    /// `info_hash_v2`; the swarm knows it by the first 20 bytes of that.
    pub fn new_v2(info_hash_v2: [u8; 32], max_size: u64) -> Self {
        let mut truncated = [0u8; 20];
        truncated.copy_from_slice(&info_hash_v2[..20]);
        let mut m = MetadataAssembler::new(truncated, max_size);
        m.info_hash_v2 = Some(info_hash_v2);
        m
    }

    /// The verified `info` dictionary, once fetched.
    pub fn metadata(&self) -> Option<&[u8]> {
        self.done.as_deref()
    }

    /// Takes the verified dictionary out.
    pub fn take_metadata(&mut self) -> Option<Vec<u8>> {
        self.done.take()
    }

    /// Peers that can be asked (they support ut_metadata and were not dropped).
    pub fn peer_count(&self) -> usize {
        self.peers.len()
    }

    /// Pieces held and pieces in all (0 of 0 until a size is known).
    pub fn pieces(&self) -> (u32, u32) {
        (self.votes.held(), self.votes.len())
    }

    /// How many agreeing senders a piece needs: one, then one more after each failed check.
    fn needed(&self) -> usize {
        1 + self.failures as usize
    }

    /// A peer at `id` supports ut_metadata and announced `size` (`None`: it did not say, so it
    /// is not asked). A size of 0 or over the bound drops it.
    pub fn handle_peer(&mut self, id: ConnId, size: Option<u64>) {
        if self.done.is_some() {
            return;
        }
        let Some(size) = size else {
            return;
        };
        if size == 0 || size > self.max_size {
            self.drops.push_back((
                id,
                MetadataDrop::BadSize {
                    size,
                    max: self.max_size,
                },
            ));
            return;
        }
        self.peers.insert(
            id,
            PeerState {
                size,
                asked: Vec::new(),
                rejected: Vec::new(),
            },
        );
        self.choose_size();
    }

    /// The connection `id` closed: its requests go to other peers.
    pub fn remove_peer(&mut self, id: ConnId) {
        self.peers.remove(&id);
    }

    /// Piece `piece` of `total_size` bytes arrived from `id`.
    pub fn handle_data(&mut self, id: ConnId, piece: u32, total_size: u64, data: &[u8]) {
        if self.done.is_some() {
            return;
        }
        let Some(p) = self.peers.get_mut(&id) else {
            return;
        };
        let Some(at) = p.asked.iter().position(|&(i, _)| i == piece) else {
            self.drops
                .push_back((id, MetadataDrop::Unrequested { piece }));
            self.peers.remove(&id);
            return;
        };
        p.asked.swap_remove(at);
        if Some(total_size) != self.size || Some(p.size) != self.size {
            // It contradicts the size in use: the final check decides who was right.
            p.size = total_size;
            self.choose_size();
            return;
        }
        let Some(size) = self.size else {
            return;
        };
        let expected = piece_len(size, piece);
        if data.len() != expected {
            return;
        }
        self.votes.add(piece, id, data);
        self.try_assemble();
    }

    /// `id` rejected our request for `piece`: it is asked elsewhere.
    pub fn handle_reject(&mut self, id: ConnId, piece: u32) {
        if let Some(p) = self.peers.get_mut(&id) {
            p.asked.retain(|&(i, _)| i != piece);
            p.rejected.push(piece);
        }
    }

    /// Requests unanswered for too long at `now` are given up (the peer may still answer).
    pub fn handle_timeout(&mut self, now: Instant) {
        for p in self.peers.values_mut() {
            p.asked.retain(|&(_, at)| now < at + REQUEST_TIMEOUT);
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.peers
            .values()
            .flat_map(|p| p.asked.iter().map(|&(_, at)| at + REQUEST_TIMEOUT))
            .min()
    }

    /// A peer to drop and why.
    pub fn poll_drop(&mut self) -> Option<(ConnId, MetadataDrop)> {
        self.drops.pop_front()
    }

    /// The next request to send at `now`: ask `ConnId` for piece `u32`.
    pub fn poll_request(&mut self, now: Instant) -> Option<(ConnId, u32)> {
        let size = self.size?;
        if self.done.is_some() {
            return None;
        }
        let needed = self.needed();
        let count = self.votes.len();
        // Pieces already asked of someone are left to them while others wait.
        let out: Vec<u32> = self
            .peers
            .values()
            .flat_map(|p| p.asked.iter().map(|&(i, _)| i))
            .collect();
        let mut best: Option<(ConnId, u32, bool)> = None;
        // The least busy peers first, so that requests spread over every peer.
        let mut order: Vec<(&ConnId, &PeerState)> = self.peers.iter().collect();
        order.sort_by_key(|(_, p)| p.asked.len());
        for (&id, p) in order {
            if p.size != size || p.asked.len() >= PER_PEER {
                continue;
            }
            for piece in 0..count {
                if self.votes.agreeing(piece) >= needed
                    || self.votes.has_voted(piece, id)
                    || p.rejected.contains(&piece)
                    || p.asked.iter().any(|&(i, _)| i == piece)
                {
                    continue;
                }
                let duplicate = out.contains(&piece);
                if !duplicate {
                    best = Some((id, piece, false));
                    break;
                }
                if best.is_none() {
                    best = Some((id, piece, true));
                }
            }
            if matches!(best, Some((_, _, false))) {
                break;
            }
        }
        let (id, piece, duplicate) = best?;
        // A piece already out elsewhere is asked again only when a peer is otherwise idle.
        if duplicate && !self.peers.get(&id).is_some_and(|p| p.asked.is_empty()) {
            return None;
        }
        self.peers.get_mut(&id)?.asked.push((piece, now));
        Some((id, piece))
    }

    /// The size most peers announce (earliest on a tie); a change starts over.
    fn choose_size(&mut self) {
        let mut counts: BTreeMap<u64, usize> = BTreeMap::new();
        for p in self.peers.values() {
            *counts.entry(p.size).or_default() += 1;
        }
        let current = self.size.and_then(|s| counts.get(&s).copied()).unwrap_or(0);
        let Some((&size, &n)) = counts.iter().max_by_key(|(_, &n)| n) else {
            return;
        };
        if self.size.is_none() || n > current {
            self.size = Some(size);
            let pieces = size.div_ceil(METADATA_PIECE_LEN as u64);
            // `size` is at most `max_size`: the count fits.
            self.votes = Votes::new(u32::try_from(pieces).unwrap_or(u32::MAX));
            self.failures = 0;
            for p in self.peers.values_mut() {
                p.asked.clear();
                p.rejected.clear();
            }
        }
    }

    /// With every piece held, checks the hash; on a match drops the liars, else asks for more
    /// agreement.
    fn try_assemble(&mut self) {
        let needed = self.needed();
        let exhausted = |votes: &Votes, piece: u32, peers: &BTreeMap<ConnId, PeerState>| {
            // No peer left to ask for another opinion on this piece.
            !peers
                .iter()
                .any(|(id, p)| !votes.has_voted(piece, *id) && !p.rejected.contains(&piece))
        };
        let ready = (0..self.votes.len()).all(|i| {
            let n = self.votes.agreeing(i);
            n >= needed || (n > 0 && exhausted(&self.votes, i, &self.peers))
        });
        if !ready {
            return;
        }
        let Some(bytes) = self.votes.assemble(|b| match &self.info_hash_v2 {
            Some(v2) => torrentkit_metainfo::InfoHashV2::of_info_bytes(b).0 == *v2,
            None => Sha1::digest(b)[..] == self.info_hash[..],
        }) else {
            self.failures += 1;
            return;
        };
        let size = bytes.len() as u64;
        for (id, piece) in self.votes.dissenters(&bytes) {
            self.drops
                .push_back((id, MetadataDrop::WrongPiece { piece }));
        }
        for (&id, p) in &self.peers {
            if p.size != size {
                self.drops.push_back((
                    id,
                    MetadataDrop::WrongSize {
                        claimed: p.size,
                        actual: size,
                    },
                ));
            }
        }
        self.peers.clear();
        self.done = Some(bytes);
    }
}

/// The length of piece `piece` of `size` bytes of metadata.
fn piece_len(size: u64, piece: u32) -> usize {
    let start = u64::from(piece) * METADATA_PIECE_LEN as u64;
    size.saturating_sub(start).min(METADATA_PIECE_LEN as u64) as usize
}

#[cfg(test)]
mod tests;
