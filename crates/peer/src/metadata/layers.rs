//! Fetching a v2 torrent's piece layers from peers (BEP 52 hash requests) after a magnet link's
//! metadata phase, as a sans-IO state machine: the `info` dictionary names each file's
//! `pieces root`, but a v2-only download needs the hash of every piece, which a `.torrent`
//! carries in `piece layers` and a magnet link does not.
//!
//! Each file longer than one piece is asked for in chunks of at most 512 piece hashes (as
//! libtorrent asks), each with the uncle hashes that prove it up to the file's root; a chunk
//! whose proof fails drops its sender, a reject or a timeout sends it to another peer. Files of
//! one piece need nothing: their root is their piece's hash.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

use torrentkit_metainfo::merkle::{Hash256, BLOCK_SIZE};
use torrentkit_metainfo::Info;
use torrentkit_wire::{HashMessage, HashRequest};

use crate::ConnId;

/// The most piece hashes asked for at once (libtorrent's chunk).
const CHUNK: u64 = 512;
/// Requests one peer has out at once.
const PER_PEER: usize = 4;
/// A request unanswered this long goes to another peer.
const TIMEOUT: Duration = Duration::from_secs(15);
/// When every peer has refused a chunk, it is asked again after this long.
const RETRY: Duration = Duration::from_secs(3);

/// Why a peer is to be dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LayerDrop {
    /// Its hashes did not prove out to the file's `pieces root`.
    BadProof {
        /// The index of the chunk's first piece hash in its file's layer.
        index: u32,
    },
}

impl fmt::Display for LayerDrop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LayerDrop::BadProof { index } => write!(
                f,
                "its piece hashes from index {index} do not hash up to the file's pieces root"
            ),
        }
    }
}

#[derive(Debug)]
struct Chunk {
    request: HashRequest,
    /// Piece hashes in the chunk that are not padding.
    count: usize,
    /// Who has it now, since when.
    asked: Option<(ConnId, Instant)>,
    /// Who refused it or let it time out (asked again only when every peer has).
    refused: BTreeSet<ConnId>,
    /// When every peer had refused it: asked again after [`RETRY`].
    parked: Option<Instant>,
    hashes: Option<Vec<Hash256>>,
}

/// Fetches the piece layers of a v2 torrent's files from its peers.
///
/// Create it with [`new`](Self::new) from the verified `info` dictionary; tell it of peers that
/// can answer hash requests with [`handle_peer`](Self::handle_peer) and of ones gone with
/// [`remove_peer`](Self::remove_peer); hand it their `hashes` and `hash reject` replies
/// ([`handle_hashes`](Self::handle_hashes), [`handle_reject`](Self::handle_reject)) and call
/// [`handle_timeout`](Self::handle_timeout) at [`poll_timeout`](Self::poll_timeout). After each,
/// send [`poll_request`](Self::poll_request)'s requests and close the connections
/// [`poll_drop`](Self::poll_drop) names. [`take_layers`](Self::take_layers) gives the layers
/// once every one is proven.
#[derive(Debug)]
pub struct PieceLayerFetcher {
    chunks: Vec<Chunk>,
    peers: BTreeMap<ConnId, usize>,
    requests: VecDeque<(ConnId, HashRequest)>,
    drops: VecDeque<(ConnId, LayerDrop)>,
}

impl PieceLayerFetcher {
    /// The requests for every layer `info` needs (none for a v1 torrent or one whose files are
    /// all of one piece).
    pub fn new(info: &Info) -> Self {
        let pl = info.piece_length();
        let base_layer = (pl / BLOCK_SIZE).max(1).trailing_zeros();
        let mut chunks = Vec::new();
        for f in info.files() {
            let Some(root) = f.pieces_root.filter(|_| f.length > pl) else {
                continue;
            };
            let pieces = f.length.div_ceil(pl);
            // Layers from the piece layer to the root; the proof of each chunk goes all the way
            // (libtorrent counts `proof layers` from the base: height - 1 reaches the root).
            let height = pieces.next_power_of_two().trailing_zeros();
            let mut index = 0u64;
            while index < pieces {
                let length = CHUNK.min((pieces - index).next_power_of_two());
                let (Ok(i), Ok(l)) = (u32::try_from(index), u32::try_from(length)) else {
                    break;
                };
                chunks.push(Chunk {
                    request: HashRequest {
                        pieces_root: root,
                        base_layer,
                        index: i,
                        length: l,
                        proof_layers: height - 1,
                    },
                    count: length.min(pieces - index) as usize,
                    asked: None,
                    refused: BTreeSet::new(),
                    parked: None,
                    hashes: None,
                });
                index += length;
            }
        }
        PieceLayerFetcher {
            chunks,
            peers: BTreeMap::new(),
            requests: VecDeque::new(),
            drops: VecDeque::new(),
        }
    }

    /// Whether every layer is proven (at once for a torrent that needs none).
    pub fn is_done(&self) -> bool {
        self.chunks.iter().all(|c| c.hashes.is_some())
    }

    /// Chunks proven, of all.
    pub fn progress(&self) -> (usize, usize) {
        let done = self.chunks.iter().filter(|c| c.hashes.is_some()).count();
        (done, self.chunks.len())
    }

    /// The layers by `pieces root`, once every one is proven; `None` before.
    pub fn take_layers(&mut self) -> Option<BTreeMap<Hash256, Vec<Hash256>>> {
        if !self.is_done() {
            return None;
        }
        let mut out: BTreeMap<Hash256, Vec<Hash256>> = BTreeMap::new();
        for c in &mut self.chunks {
            let hashes = c.hashes.take().unwrap_or_default();
            out.entry(c.request.pieces_root)
                .or_default()
                .extend_from_slice(&hashes[..c.count.min(hashes.len())]);
        }
        Some(out)
    }

    /// A peer that may answer hash requests, at `now` (libtorrent answers them without setting
    /// the v2 bit in its handshake for a v2-only torrent, so any connected peer may).
    pub fn handle_peer(&mut self, now: Instant, id: ConnId) {
        self.peers.entry(id).or_insert(0);
        self.assign(now);
    }

    /// A peer is gone: its requests go to others.
    pub fn remove_peer(&mut self, now: Instant, id: ConnId) {
        if self.peers.remove(&id).is_none() {
            return;
        }
        for c in &mut self.chunks {
            if c.asked.is_some_and(|(p, _)| p == id) {
                c.asked = None;
            }
            c.refused.remove(&id);
        }
        self.assign(now);
    }

    /// `hashes` from `id` answering `request` (the wire checked their count).
    pub fn handle_hashes(
        &mut self,
        now: Instant,
        id: ConnId,
        request: HashRequest,
        hashes: Vec<Hash256>,
    ) {
        let Some(c) = self
            .chunks
            .iter_mut()
            .find(|c| c.request == request && c.asked.is_some_and(|(p, _)| p == id))
        else {
            // Unasked, or answered after a timeout by someone else's turn: not ours to use.
            return;
        };
        c.asked = None;
        if let Some(n) = self.peers.get_mut(&id) {
            *n = n.saturating_sub(1);
        }
        if reply_verifies(&request, &hashes) {
            c.hashes = Some(hashes[..request.length as usize].to_vec());
        } else {
            c.refused.insert(id);
            self.peers.remove(&id);
            self.drops.push_back((
                id,
                LayerDrop::BadProof {
                    index: request.index,
                },
            ));
        }
        self.assign(now);
    }

    /// `id` refused `request`.
    pub fn handle_reject(&mut self, now: Instant, id: ConnId, request: HashRequest) {
        if let Some(c) = self
            .chunks
            .iter_mut()
            .find(|c| c.request == request && c.asked.is_some_and(|(p, _)| p == id))
        {
            c.asked = None;
            c.refused.insert(id);
            if let Some(n) = self.peers.get_mut(&id) {
                *n = n.saturating_sub(1);
            }
        }
        self.assign(now);
    }

    /// Timers due at `now`: unanswered requests go elsewhere, parked chunks are asked again.
    pub fn handle_timeout(&mut self, now: Instant) {
        for c in &mut self.chunks {
            if let Some((p, _)) = c.asked.filter(|&(_, at)| now >= at + TIMEOUT) {
                c.asked = None;
                c.refused.insert(p);
                if let Some(n) = self.peers.get_mut(&p) {
                    *n = n.saturating_sub(1);
                }
            }
            if c.parked.is_some_and(|t| now >= t + RETRY) {
                c.parked = None;
                c.refused.clear();
            }
        }
        self.assign(now);
    }

    /// When [`handle_timeout`](Self::handle_timeout) is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.chunks
            .iter()
            .filter_map(|c| {
                c.asked
                    .map(|(_, at)| at + TIMEOUT)
                    .or(c.parked.map(|t| t + RETRY))
            })
            .min()
    }

    /// The next hash request to send, and to whom.
    pub fn poll_request(&mut self) -> Option<(ConnId, HashRequest)> {
        self.requests.pop_front()
    }

    /// The next peer to drop, and why.
    pub fn poll_drop(&mut self) -> Option<(ConnId, LayerDrop)> {
        self.drops.pop_front()
    }

    /// Gives each waiting chunk to the least busy peer that has not refused it.
    fn assign(&mut self, now: Instant) {
        for c in &mut self.chunks {
            if c.hashes.is_some() || c.asked.is_some() {
                continue;
            }
            let pick = self
                .peers
                .iter()
                .filter(|(id, &n)| n < PER_PEER && !c.refused.contains(id))
                .min_by_key(|(_, &n)| n)
                .map(|(&id, _)| id);
            match pick {
                // A parked chunk goes at once to a peer that came since.
                Some(id) => {
                    c.parked = None;
                    c.asked = Some((id, now));
                    *self.peers.entry(id).or_default() += 1;
                    self.requests.push_back((id, c.request));
                }
                // Every peer refused it: wait, then ask them again.
                None if c.parked.is_none()
                    && !self.peers.is_empty()
                    && self.peers.keys().all(|id| c.refused.contains(id)) =>
                {
                    c.parked = Some(now);
                }
                None => {}
            }
        }
    }
}

/// Whether `hashes` answer `request` and prove out to its `pieces root`.
fn reply_verifies(request: &HashRequest, hashes: &[Hash256]) -> bool {
    HashMessage::Hashes {
        request: *request,
        hashes: hashes.to_vec(),
    }
    .verify()
}

#[cfg(test)]
mod tests {
    use torrentkit_metainfo::merkle;
    use torrentkit_metainfo::{MetaVersion, Torrent, TorrentBuilder};

    use super::*;

    /// A v2 torrent of one 600-piece file (16 KiB pieces) and one of a single piece.
    fn torrent() -> (tempfile::TempDir, Torrent) {
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path().join("top");
        std::fs::create_dir_all(&top).unwrap();
        let mut rng = crate::Rng::new(7);
        let mut big = vec![0u8; 600 * 16_384 - 100];
        rng.fill(&mut big);
        std::fs::write(top.join("a.bin"), big).unwrap();
        std::fs::write(top.join("b.bin"), [1u8; 900]).unwrap();
        let t = TorrentBuilder::new(&top)
            .piece_length(16_384)
            .meta_version(MetaVersion::V2)
            .build()
            .unwrap();
        (dir, t)
    }

    /// What an honest peer answers to `r` from the torrent's piece layer.
    fn answer(t: &Torrent, r: &HashRequest) -> Vec<Hash256> {
        let layer = t.piece_layer(&r.pieces_root).unwrap();
        let width = layer.len().next_power_of_two();
        let mut level = layer.to_vec();
        level.resize(width, merkle::zero_subtree(0));
        let levels = merkle::layers_to_root(level);
        let (i, n) = (r.index as usize, r.length as usize);
        let mut out = levels[0][i..i + n].to_vec();
        let mut pos = i / n;
        for k in 0..r.uncle_count() as usize {
            out.push(levels[n.ilog2() as usize + k][pos ^ 1]);
            pos >>= 1;
        }
        out
    }

    #[test]
    fn layers_are_asked_in_chunks_proven_and_refusals_go_elsewhere() {
        let (_dir, t) = torrent();
        let now = Instant::now();
        let mut f = PieceLayerFetcher::new(t.info());
        assert_eq!(
            f.progress(),
            (0, 2),
            "600 pieces: 512, then 88 padded to 128"
        );
        assert!(f.take_layers().is_none());
        let (a, b, c) = (ConnId(1), ConnId(2), ConnId(3));
        f.handle_peer(now, a);
        let (to, first) = f.poll_request().unwrap();
        let (_, second) = f.poll_request().unwrap();
        assert_eq!(to, a);
        assert_eq!((first.index, first.length, first.proof_layers), (0, 512, 9));
        assert_eq!(
            (second.index, second.length, second.proof_layers),
            (512, 128, 9)
        );
        assert_eq!((first.uncle_count(), second.uncle_count()), (1, 3));
        // a refuses the first chunk; it goes to b when b comes.
        f.handle_reject(now, a, first);
        f.handle_peer(now, b);
        assert_eq!(f.poll_request(), Some((b, first)));
        // b lies: dropped, and the chunk goes back to a (the only peer left, which refused
        // it: parked until the retry).
        let mut bad = answer(&t, &first);
        bad[3][0] ^= 1;
        f.handle_hashes(now, b, first, bad);
        assert!(matches!(f.poll_drop(), Some((id, LayerDrop::BadProof { index: 0 })) if id == b));
        assert_eq!(f.poll_request(), None);
        f.handle_timeout(now + RETRY);
        assert_eq!(f.poll_request(), Some((a, first)));
        // Honest answers complete the layer, equal to the .torrent's.
        f.handle_hashes(now, a, first, answer(&t, &first));
        f.handle_hashes(now, a, second, answer(&t, &second));
        // An answer nobody asked for changes nothing.
        f.handle_hashes(now, c, first, answer(&t, &first));
        assert!(f.is_done());
        let layers = f.take_layers().unwrap();
        assert_eq!(layers.len(), 1);
        let (root, layer) = layers.iter().next().unwrap();
        assert_eq!(Some(layer.as_slice()), t.piece_layer(root));
        assert_eq!(layer.len(), 600);
    }

    #[test]
    fn an_unanswered_request_times_out_to_another_peer() {
        let (_dir, t) = torrent();
        let now = Instant::now();
        let mut f = PieceLayerFetcher::new(t.info());
        f.handle_peer(now, ConnId(1));
        let (_, first) = f.poll_request().unwrap();
        let _ = f.poll_request();
        f.handle_peer(now, ConnId(2));
        assert_eq!(f.poll_timeout(), Some(now + TIMEOUT));
        f.handle_timeout(now + TIMEOUT);
        let moved: Vec<_> = std::iter::from_fn(|| f.poll_request()).collect();
        assert!(moved.contains(&(ConnId(2), first)), "{moved:?}");
    }
}
