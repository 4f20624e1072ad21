//! What each piece of a v2 (or hybrid) torrent must hash to under BEP 52, from the files'
//! `pieces root`s and the `piece layers`: the one place that maps pieces onto Merkle trees, used
//! by `verify` and by the peer engine's piece checks.

use crate::hash::PieceDigest;
use crate::merkle::{self, Hash256, BLOCK_SIZE};
use crate::torrent::Torrent;

/// The BEP 52 hash one piece must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct V2Piece {
    /// The root of the piece's subtree: its piece-layer entry, or the file's `pieces root` for a
    /// file of one piece.
    pub expected: Hash256,
    /// The bytes of file data in the piece (the rest, if any, is padding).
    pub data_len: u64,
    /// The number of leaves of the subtree (a power of two): a piece's worth of blocks, or for a
    /// one-piece file its blocks rounded up to a power of two.
    pub width: u64,
    /// The index of the file in [`Info::files`](crate::Info::files).
    pub file: usize,
}

impl V2Piece {
    /// True when `leaves` (the SHA-256 of each 16 KiB block of the piece's file data) hash to
    /// [`expected`](Self::expected).
    pub fn matches_leaves(&self, leaves: &[Hash256]) -> bool {
        leaves.len() as u64 <= self.width && merkle::root(leaves, self.width) == self.expected
    }

    /// True when the piece's bytes (file data first, padding after, as storage reads a piece)
    /// hash to [`expected`](Self::expected).
    pub fn matches(&self, piece: &[u8]) -> bool {
        let Some(data) = piece.get(..self.data_len as usize) else {
            return false;
        };
        let leaves: Vec<Hash256> = data.chunks(BLOCK_SIZE as usize).map(merkle::leaf).collect();
        self.matches_leaves(&leaves)
    }
}

impl Torrent {
    /// For a v2 or hybrid torrent, what each piece must hash to under BEP 52 (`None` for v1).
    /// A piece is `None` when it holds no file data or when its file is longer than a piece and
    /// the torrent carries no piece layer for it (a magnet's metadata: peers send the layer).
    pub fn v2_pieces(&self) -> Option<Vec<Option<V2Piece>>> {
        let info = self.info();
        if !info.version().has_v2() {
            return None;
        }
        let pl = info.piece_length();
        let mut out = vec![None; info.piece_count()];
        for (file, f) in info.files().iter().enumerate() {
            let Some(root) = f.pieces_root else { continue };
            let first = (f.offset / pl) as usize;
            let count = f.length.div_ceil(pl) as usize;
            if count == 1 {
                let blocks = f.length.div_ceil(BLOCK_SIZE).max(1);
                out[first] = Some(V2Piece {
                    expected: root,
                    data_len: f.length,
                    width: blocks.next_power_of_two(),
                    file,
                });
                continue;
            }
            let Some(layer) = self.piece_layer(&root) else {
                continue;
            };
            for (i, hash) in layer.iter().enumerate() {
                if let Some(slot) = out.get_mut(first + i) {
                    *slot = Some(V2Piece {
                        expected: *hash,
                        data_len: pl.min(f.length - i as u64 * pl),
                        width: pl / BLOCK_SIZE,
                        file,
                    });
                }
            }
        }
        Some(out)
    }
}

/// Which pieces of a v2 torrent match, from the leaves of every piece (`None`: unreadable).
/// Pieces of files without a piece layer are judged together: they all match when the file's
/// leaves give its `pieces root`.
pub(crate) fn verdicts(torrent: &Torrent, digests: &[Option<PieceDigest>]) -> Vec<bool> {
    let info = torrent.info();
    let pl = info.piece_length();
    let expected = torrent.v2_pieces().unwrap_or_default();
    let mut good = vec![false; info.piece_count()];
    for (i, want) in expected.iter().enumerate() {
        if let (Some(want), Some(Some(d))) = (want, digests.get(i)) {
            good[i] = want.matches_leaves(&d.leaves);
        }
    }
    for f in info.files() {
        let Some(root) = f.pieces_root else { continue };
        let first = (f.offset / pl) as usize;
        let count = f.length.div_ceil(pl) as usize;
        let Some(range) = expected.get(first..first + count) else {
            continue;
        };
        if range.iter().all(Option::is_some) {
            continue;
        }
        let mut leaves = Vec::new();
        let mut readable = true;
        for d in &digests[first..(first + count).min(digests.len())] {
            match d {
                Some(d) => leaves.extend_from_slice(&d.leaves),
                None => readable = false,
            }
        }
        let ok = readable && merkle::file_root(&leaves) == root;
        for g in &mut good[first..first + count] {
            *g = ok;
        }
    }
    // Pieces of padding only (none in a torrent made as BEP 52 says) have nothing to check.
    for (i, g) in good.iter_mut().enumerate() {
        if expected.get(i).is_some_and(Option::is_none)
            && !info.files().iter().any(|f| {
                f.pieces_root.is_some()
                    && f.offset / pl <= i as u64
                    && (i as u64) < (f.offset + f.length).div_ceil(pl)
            })
        {
            *g = true;
        }
    }
    good
}
