//! Answering BEP 52 hash requests: a peer that got the torrent from a magnet link asks for each
//! file's piece layer (libtorrent does), and one that saw a piece fail asks for its 16 KiB leaf
//! hashes. [`HashTrees`] holds what a torrent can serve without the disk (the piece layers of the
//! metainfo and every layer above them); leaf hashes are SHA-256s of the blocks, read and hashed
//! by the driver as a [`DiskJob::HashBlocks`] and handed back to
//! [`Torrent::handle_block_hashes`].
//!
//! Requests are checked as libtorrent checks them (a base layer inside the tree, the hashes inside
//! their layer, `proof layers` below the root; the wire already insists on a power-of-two length
//! and an aligned index); what we cannot serve (a root we do not know, pieces we do not have, a
//! peer over its hashing budget) gets a `hash reject`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use torrentkit_metainfo::merkle::{self, Hash256, BLOCK_SIZE};
use torrentkit_metainfo::Torrent as Metainfo;
use torrentkit_wire::HashRequest;

use super::{Action, DiskJob, Torrent};
use crate::ConnId;

/// Leaf-hashing jobs one peer may have under way at once; more are refused.
const MAX_JOBS_PER_PEER: u32 = 4;

/// Bytes a peer may make us read and hash for leaf hashes over its connection: the torrent's
/// size (every piece once), and at least this much for small torrents.
const MIN_HASH_BUDGET: u64 = 16 << 20;

/// The Merkle trees of a v2 or hybrid torrent's files, as far as the metainfo gives them: for
/// each file its piece layer and every layer above (a file of one piece: its root alone).
#[derive(Debug, Clone, Default)]
pub struct HashTrees {
    files: HashMap<Hash256, FileTree>,
}

#[derive(Debug, Clone)]
struct FileTree {
    /// The torrent's piece index of the file's first piece.
    first_piece: u32,
    /// The file's bytes.
    length: u64,
    /// Piece length in bytes.
    piece_length: u64,
    /// Leaves (16 KiB blocks) in the file's tree, a power of two.
    num_leaves: u64,
    /// The level (above the leaves) of `tops[0]`: the piece layer's, or for a file of one
    /// piece the root's.
    top_level: u32,
    /// `tops[0]`: the layer at `top_level`, padded to a power of two; each next one the layer
    /// above, up to `[root]`.
    tops: Vec<Vec<Hash256>>,
}

impl HashTrees {
    /// The trees of `torrent`'s files; `None` for a v1 torrent. A file longer than a piece
    /// whose piece layer the torrent lacks is left out (its requests are refused).
    pub fn from_metainfo(torrent: &Metainfo) -> Option<HashTrees> {
        let info = torrent.info();
        if !info.version().has_v2() {
            return None;
        }
        let pl = info.piece_length();
        let mut files = HashMap::new();
        for f in info.files() {
            let Some(root) = f.pieces_root else { continue };
            let num_leaves = f.length.div_ceil(BLOCK_SIZE).max(1).next_power_of_two();
            let height = num_leaves.trailing_zeros();
            let piece_level = (pl / BLOCK_SIZE).max(1).trailing_zeros();
            let (top_level, first) = if f.length <= pl {
                (height, vec![root])
            } else {
                let Some(layer) = torrent.piece_layer(&root) else {
                    continue;
                };
                let width = (layer.len() as u64).next_power_of_two() as usize;
                let mut first = layer.to_vec();
                first.resize(width, merkle::zero_subtree(piece_level as usize));
                (piece_level, first)
            };
            let tops = merkle::layers_to_root(first);
            if tops.last().and_then(|l| l.first()) != Some(&root) {
                // A layer that does not hash to its root was dropped by the parser already;
                // this guards the invariant rather than serve a wrong proof.
                continue;
            }
            let first_piece = u32::try_from(f.offset / pl).unwrap_or(u32::MAX);
            files.insert(
                root,
                FileTree {
                    first_piece,
                    length: f.length,
                    piece_length: pl,
                    num_leaves,
                    top_level,
                    tops,
                },
            );
        }
        Some(HashTrees { files })
    }

    /// How many files have a tree to serve.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether no file has one.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

impl FileTree {
    /// The tree's height: levels from the leaves to the root.
    fn height(&self) -> u32 {
        self.num_leaves.trailing_zeros()
    }

    /// The file's pieces.
    fn piece_count(&self) -> u32 {
        u32::try_from(self.length.div_ceil(self.piece_length)).unwrap_or(u32::MAX)
    }

    /// Whether `r` is well formed for this tree, as libtorrent's `validate_hash_request` has it.
    fn valid(&self, r: &HashRequest) -> bool {
        let height = self.height();
        if r.base_layer >= height || r.proof_layers >= height - r.base_layer {
            return false;
        }
        let layer_size = self.num_leaves >> r.base_layer;
        u64::from(r.index) + u64::from(r.length) <= layer_size
    }

    /// The node at `level`, `pos`, from the layers at and above `top_level`.
    fn top(&self, level: u32, pos: u64) -> Option<Hash256> {
        let layer = self.tops.get(level.checked_sub(self.top_level)? as usize)?;
        layer.get(usize::try_from(pos).ok()?).copied()
    }

    /// The file-relative pieces (at `top_level`) whose leaves `r` needs, when its base layer is
    /// below `top_level`: those under its base hashes (their uncles below `top_level` are in
    /// the same pieces).
    fn pieces_for(&self, r: &HashRequest) -> Option<std::ops::Range<u64>> {
        let shift = self
            .top_level
            .checked_sub(r.base_layer)
            .filter(|&s| s > 0)?;
        let first = u64::from(r.index) >> shift;
        let end = (u64::from(r.index) + u64::from(r.length)).div_ceil(1 << shift);
        Some(first..end)
    }

    /// The reply to `r` (base hashes then uncles), with `low` giving the nodes below
    /// `top_level` when the request reaches there; `None` if a node is missing.
    fn answer(
        &self,
        r: &HashRequest,
        low: impl Fn(u32, u64) -> Option<Hash256>,
    ) -> Option<Vec<Hash256>> {
        let node = |level: u32, pos: u64| {
            if level >= self.top_level {
                self.top(level, pos)
            } else {
                low(level, pos)
            }
        };
        let mut out = Vec::with_capacity((r.length + r.uncle_count()) as usize);
        for i in 0..u64::from(r.length) {
            out.push(node(r.base_layer, u64::from(r.index) + i)?);
        }
        let first_uncle = r.base_layer + r.length.ilog2();
        let mut pos = u64::from(r.index / r.length);
        for k in 0..r.uncle_count() {
            out.push(node(first_uncle + k, pos ^ 1)?);
            pos >>= 1;
        }
        Some(out)
    }
}

/// The torrent's hash serving: the trees and each peer's hashing so far.
#[derive(Debug, Default)]
pub(super) struct HashServe {
    trees: Option<Arc<HashTrees>>,
    /// Per peer: bytes we read and hashed for it, and leaf jobs under way.
    spent: HashMap<ConnId, (u64, u32)>,
}

impl HashServe {
    pub(super) fn new(trees: Option<Arc<HashTrees>>) -> Self {
        HashServe {
            trees,
            spent: HashMap::new(),
        }
    }

    pub(super) fn remove_peer(&mut self, id: ConnId) {
        self.spent.remove(&id);
    }
}

impl Torrent {
    /// The peer on `id` asks for hashes: answered now from the piece layers, or after a
    /// [`DiskJob::HashBlocks`] for leaf hashes, or refused.
    pub(super) fn serve_hash_request(&mut self, now: Instant, id: ConnId, r: HashRequest) {
        match self.plan_hash_answer(id, &r) {
            Plan::Now(hashes) => {
                if let Some(p) = self.peers.get_mut(&id) {
                    p.conn.send_hashes(now, r, hashes);
                }
            }
            Plan::Disk(pieces) => {
                self.actions.push_back(Action::Disk(DiskJob::HashBlocks {
                    conn: id,
                    request: r,
                    pieces,
                }));
            }
            Plan::Reject => {
                if let Some(p) = self.peers.get_mut(&id) {
                    p.conn.send_hash_reject(now, r);
                }
            }
        }
    }

    fn plan_hash_answer(&mut self, id: ConnId, r: &HashRequest) -> Plan {
        let Some(tree) = self
            .hash_serve
            .trees
            .as_ref()
            .and_then(|t| t.files.get(&r.pieces_root))
        else {
            return Plan::Reject;
        };
        if !tree.valid(r) {
            return Plan::Reject;
        }
        let Some(range) = tree.pieces_for(r) else {
            // At or above the piece layer: all in memory.
            return match tree.answer(r, |_, _| None) {
                Some(h) => Plan::Now(h),
                None => Plan::Reject,
            };
        };
        // Leaf hashes: the pieces with file data in them must be ours, and the peer within
        // its budget.
        let real = range.start..range.end.min(u64::from(tree.piece_count()));
        let mut pieces = Vec::new();
        let mut bytes = 0u64;
        for p in real {
            let piece = tree.first_piece + p as u32;
            if !self.picker.have().contains(piece) {
                return Plan::Reject;
            }
            let len = tree.piece_length.min(tree.length - p * tree.piece_length);
            bytes += len;
            pieces.push((piece, len as u32));
        }
        let budget = self.cfg.total_length.max(MIN_HASH_BUDGET);
        let spent = self.hash_serve.spent.entry(id).or_default();
        if spent.1 >= MAX_JOBS_PER_PEER || spent.0 + bytes > budget {
            return Plan::Reject;
        }
        spent.0 += bytes;
        spent.1 += 1;
        Plan::Disk(pieces)
    }

    /// The leaf hashes a [`DiskJob::HashBlocks`] asked for: per piece, the SHA-256 of each
    /// 16 KiB block of its file data (`None`: they could not be read; the request is refused).
    /// They are checked against the piece layer before any is sent.
    pub fn handle_block_hashes(
        &mut self,
        now: Instant,
        id: ConnId,
        request: HashRequest,
        leaves: Option<Vec<Vec<Hash256>>>,
    ) {
        if let Some(s) = self.hash_serve.spent.get_mut(&id) {
            s.1 = s.1.saturating_sub(1);
        }
        let reply = leaves.and_then(|l| self.answer_from_leaves(&request, l));
        let Some(p) = self.peers.get_mut(&id) else {
            return;
        };
        match reply {
            Some(hashes) => p.conn.send_hashes(now, request, hashes),
            None => p.conn.send_hash_reject(now, request),
        }
    }

    fn answer_from_leaves(
        &self,
        r: &HashRequest,
        leaves: Vec<Vec<Hash256>>,
    ) -> Option<Vec<Hash256>> {
        let tree = self.hash_serve.trees.as_ref()?.files.get(&r.pieces_root)?;
        let range = tree.pieces_for(r)?;
        let per_piece = 1usize << tree.top_level;
        // The pieces' leaves, zero past the file's data, then the layers up to the pieces.
        let mut layer: Vec<Hash256> =
            Vec::with_capacity(per_piece * (range.end - range.start) as usize);
        for i in 0..(range.end - range.start) as usize {
            let mut piece = leaves.get(i).cloned().unwrap_or_default();
            if piece.len() > per_piece {
                return None;
            }
            piece.resize(per_piece, [0; 32]);
            layer.extend(piece);
        }
        let mut low = vec![layer];
        for _ in 0..tree.top_level {
            let up = merkle::layer_above(&low[low.len() - 1]);
            low.push(up);
        }
        // The data must hash to the layer we serve from, or we would prove a wrong block.
        for (i, h) in low[tree.top_level as usize].iter().enumerate() {
            if tree.top(tree.top_level, range.start + i as u64) != Some(*h) {
                return None;
            }
        }
        tree.answer(r, |level, pos| {
            let start = range.start << (tree.top_level - level);
            let at = usize::try_from(pos.checked_sub(start)?).ok()?;
            low.get(level as usize)?.get(at).copied()
        })
    }
}

enum Plan {
    Now(Vec<Hash256>),
    Disk(Vec<(u32, u32)>),
    Reject,
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use bytes::Bytes;
    use torrentkit_metainfo::{MetaVersion, TorrentBuilder};
    use torrentkit_wire::HashMessage;

    use super::*;
    use crate::connection::{ConnEvent, Connection, ConnectionConfig};
    use crate::{Bitfield, TorrentConfig};

    /// A v2 seed of one file of 8 pieces of 64 KiB (32 leaves), a remote peer connected to it,
    /// and the file's data.
    fn setup() -> (Torrent, ConnId, Connection, Vec<u8>, Metainfo) {
        let dir = tempfile::tempdir().unwrap();
        let mut data = vec![0u8; 8 * 65_536 - 1_000];
        crate::Rng::new(3).fill(&mut data);
        std::fs::write(dir.path().join("a.bin"), &data).unwrap();
        let meta = TorrentBuilder::new(dir.path().join("a.bin"))
            .piece_length(65_536)
            .meta_version(MetaVersion::V2)
            .build()
            .unwrap();
        let total = meta.info().total_size();
        let mut cfg = TorrentConfig::new(meta.info_hash().0, [1; 20], total, 65_536, 5);
        cfg.hash_trees = HashTrees::from_metainfo(&meta).map(Arc::new);
        let mut t = Torrent::new(cfg, &Bitfield::full(8));
        let now = Instant::now();
        let id = t
            .handle_incoming(now, SocketAddr::from(([10, 0, 0, 1], 1)))
            .unwrap();
        let remote = Connection::new(ConnectionConfig::new(meta.info_hash().0, [2; 20], 8), now);
        let mut s = (t, id, remote, data, meta);
        exchange(&mut s.0, s.1, &mut s.2);
        assert!(s.2.is_connected());
        (s.0, s.1, s.2, s.3, s.4)
    }

    /// Moves bytes both ways until neither side has any; returns the remote's hash events.
    fn exchange(t: &mut Torrent, id: ConnId, remote: &mut Connection) -> Vec<ConnEvent> {
        let now = Instant::now();
        let mut out = Vec::new();
        loop {
            let mut moved = false;
            while let Some(b) = remote.poll_transmit() {
                t.handle_bytes(now, id, Bytes::from(b));
                moved = true;
            }
            while let Some(b) = t.poll_transmit(id) {
                remote.handle_bytes(now, Bytes::from(b));
                moved = true;
            }
            if !moved {
                break;
            }
        }
        while let Some(ev) = remote.poll_event() {
            if matches!(ev, ConnEvent::Hashes { .. } | ConnEvent::HashRejected(_)) {
                out.push(ev);
            }
        }
        out
    }

    fn jobs(t: &mut Torrent) -> Vec<(HashRequest, Vec<(u32, u32)>)> {
        std::iter::from_fn(|| t.poll_action())
            .filter_map(|a| match a {
                Action::Disk(DiskJob::HashBlocks {
                    request, pieces, ..
                }) => Some((request, pieces)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn piece_layer_hashes_come_at_once_and_leaves_after_a_checked_disk_read() {
        let (mut t, id, mut remote, data, meta) = setup();
        let root = meta.info().files()[0].pieces_root.unwrap();
        let now = Instant::now();
        // The piece layer (level 2 of a 5-level tree), whole: proof_layers 2, no uncles.
        let layer = HashRequest {
            pieces_root: root,
            base_layer: 2,
            index: 0,
            length: 8,
            proof_layers: 2,
        };
        remote.send_hash_request(now, layer);
        match exchange(&mut t, id, &mut remote).as_slice() {
            [ConnEvent::Hashes { request, hashes }] => {
                assert_eq!(&hashes[..], meta.piece_layer(&root).unwrap());
                let m = HashMessage::Hashes {
                    request: *request,
                    hashes: hashes.clone(),
                };
                assert!(m.verify());
            }
            other => panic!("{other:?}"),
        }
        // Leaves of pieces 0 to 4: four jobs at once, the fifth refused.
        let leaves = |piece: u32| HashRequest {
            pieces_root: root,
            base_layer: 0,
            index: piece * 4,
            length: 4,
            proof_layers: 4,
        };
        for p in 0..5 {
            remote.send_hash_request(now, leaves(p));
        }
        assert_eq!(
            exchange(&mut t, id, &mut remote),
            [ConnEvent::HashRejected(leaves(4))]
        );
        let jobs = jobs(&mut t);
        assert_eq!(jobs.len(), 4);
        assert_eq!(jobs[1], (leaves(1), vec![(1, 65_536)]));
        let read = |p: usize| -> Vec<[u8; 32]> {
            data[p * 65_536..((p + 1) * 65_536).min(data.len())]
                .chunks(16_384)
                .map(merkle::leaf)
                .collect()
        };
        // The real leaves: sent with their proof; wrong ones (not the piece layer's): refused.
        t.handle_block_hashes(now, id, leaves(1), Some(vec![read(1)]));
        t.handle_block_hashes(now, id, leaves(2), Some(vec![read(3)]));
        t.handle_block_hashes(now, id, leaves(3), None);
        let replies = exchange(&mut t, id, &mut remote);
        match &replies[..] {
            [ConnEvent::Hashes { request, hashes }, ConnEvent::HashRejected(r2), ConnEvent::HashRejected(r3)] =>
            {
                assert_eq!((*r2, *r3), (leaves(2), leaves(3)));
                assert_eq!(hashes.len(), 4 + 3);
                assert_eq!(hashes[..4], read(1)[..]);
                let m = HashMessage::Hashes {
                    request: *request,
                    hashes: hashes.clone(),
                };
                assert!(m.verify());
            }
            other => panic!("{other:?}"),
        }
        // The last piece is short: its leaves past the data are zero, and still prove out.
        remote.send_hash_request(now, leaves(7));
        exchange(&mut t, id, &mut remote);
        let jobs = self::jobs(&mut t);
        assert_eq!(jobs, [(leaves(7), vec![(7, 65_536 - 1_000)])]);
        t.handle_block_hashes(now, id, leaves(7), Some(vec![read(7)]));
        match &exchange(&mut t, id, &mut remote)[..] {
            [ConnEvent::Hashes { request, hashes }] => assert!(HashMessage::Hashes {
                request: *request,
                hashes: hashes.clone()
            }
            .verify()),
            other => panic!("{other:?}"),
        }
        // Out of the tree, or proof layers up to and past the root: refused as libtorrent does.
        for bad in [
            HashRequest {
                base_layer: 5,
                ..layer
            },
            HashRequest {
                proof_layers: 3,
                ..layer
            },
            HashRequest {
                index: 32,
                ..leaves(0)
            },
        ] {
            remote.send_hash_request(now, bad);
            assert_eq!(
                exchange(&mut t, id, &mut remote),
                [ConnEvent::HashRejected(bad)]
            );
        }
    }
}
