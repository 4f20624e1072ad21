//! [`MerklePieces`]: where each piece of a v2 or hybrid torrent sits in its file's BEP 52 tree
//! (its file's `pieces root`, the index of its first 16 KiB leaf, how many leaves its subtree
//! has) and the trusted hash of that subtree (its piece-layer entry). The bad-block hunt
//! (`bad_block.rs`) asks peers for a failed piece's leaves with it and checks their answer
//! against the trusted hash before believing any of them.

use torrentkit_metainfo::merkle::{self, Hash256, BLOCK_SIZE};
use torrentkit_metainfo::Torrent as Metainfo;
use torrentkit_wire::HashRequest;

/// One piece's place in its file's Merkle tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MerklePiece {
    /// The file's `pieces root` (which tree a hash request names).
    pub pieces_root: Hash256,
    /// The index, in the file's leaf layer, of the piece's first block.
    pub first_leaf: u32,
    /// The leaves of the piece's subtree (a power of two): leaves past the file's end are
    /// zero hashes (BEP 52's padding).
    pub width: u32,
    /// The blocks of file data in the piece (the rest of the subtree is padding).
    pub blocks: u32,
    /// The bytes of file data in the piece.
    pub data_len: u32,
    /// What the subtree must hash to: the piece-layer entry (or, for a file of one piece, the
    /// `pieces root`), from the metainfo, so trusted.
    pub expected: Hash256,
}

impl MerklePiece {
    /// The BEP 52 request for this piece's leaves: base layer 0, `width` hashes from the
    /// piece's first leaf, and no uncles (the trusted piece hash is the proof). libtorrent
    /// counts `proof_layers` from the base layer and sends `proof_layers + 1 - log2(length)`
    /// uncles; it refuses a count at or above the tree's height, so `log2(width) - 1` is the
    /// one value that asks for exactly the subtree.
    pub fn leaf_request(&self) -> HashRequest {
        HashRequest {
            pieces_root: self.pieces_root,
            base_layer: 0,
            index: self.first_leaf,
            length: self.width,
            proof_layers: self.width.trailing_zeros().saturating_sub(1),
        }
    }

    /// The piece's leaves out of a `hashes` reply to [`leaf_request`](Self::leaf_request),
    /// when they hash to the trusted [`expected`](Self::expected) hash (`None`: forged, or
    /// not an answer to that request).
    pub fn trusted_leaves(
        &self,
        request: &HashRequest,
        hashes: &[Hash256],
    ) -> Option<Vec<Hash256>> {
        let want = self.leaf_request();
        let same = request.pieces_root == want.pieces_root
            && request.base_layer == 0
            && request.index == want.index
            && request.length == want.length;
        let base = hashes.get(..self.width as usize).filter(|_| same)?;
        (merkle::root(base, u64::from(self.width)) == self.expected)
            .then(|| base[..self.blocks as usize].to_vec())
    }
}

/// Every piece's [`MerklePiece`] (`None`: a piece without file data, or whose file's piece
/// layer is not known).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MerklePieces {
    /// Per piece.
    pub pieces: Vec<Option<MerklePiece>>,
    /// A hybrid torrent: its swarm may hold v1-only peers, so only peers that set the BEP 52
    /// bit in their handshake are asked for hashes (a v1 client may drop a connection over a
    /// message id it does not know).
    pub hybrid: bool,
}

impl MerklePieces {
    /// For a v2 or hybrid torrent, its pieces' places in their trees (`None` for v1).
    pub fn from_metainfo(torrent: &Metainfo) -> Option<MerklePieces> {
        let info = torrent.info();
        let pl = info.piece_length();
        let pieces = torrent.v2_pieces()?;
        let files = info.files();
        let out = pieces
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let p = p.as_ref()?;
                let f = files.get(p.file)?;
                let first_leaf = (i as u64 * pl).checked_sub(f.offset)? / BLOCK_SIZE;
                Some(MerklePiece {
                    pieces_root: f.pieces_root?,
                    first_leaf: u32::try_from(first_leaf).ok()?,
                    width: u32::try_from(p.width).ok()?,
                    blocks: u32::try_from(p.data_len.div_ceil(BLOCK_SIZE)).ok()?,
                    data_len: u32::try_from(p.data_len).ok()?,
                    expected: p.expected,
                })
            })
            .collect();
        Some(MerklePieces {
            pieces: out,
            hybrid: info.version().has_v1(),
        })
    }

    /// The pieces of one file of `length` bytes whose 16 KiB leaves are `leaves`, in pieces of
    /// `piece_length` (a power of two, at least 16 KiB): what a v2 torrent of that one file
    /// would carry (for simulations and tests).
    pub fn single_file(leaves: &[Hash256], length: u64, piece_length: u32) -> MerklePieces {
        let per_piece = (u64::from(piece_length) / BLOCK_SIZE).max(1) as usize;
        let root = merkle::file_root(leaves);
        let pieces = length.div_ceil(u64::from(piece_length)) as usize;
        let one_piece = pieces == 1;
        let out = (0..pieces)
            .map(|i| {
                let ls = &leaves
                    [(i * per_piece).min(leaves.len())..((i + 1) * per_piece).min(leaves.len())];
                let width = if one_piece {
                    (ls.len() as u64).max(1).next_power_of_two()
                } else {
                    per_piece as u64
                };
                let data_len =
                    (length - i as u64 * u64::from(piece_length)).min(u64::from(piece_length));
                Some(MerklePiece {
                    pieces_root: root,
                    first_leaf: (i * per_piece) as u32,
                    width: width as u32,
                    blocks: ls.len() as u32,
                    data_len: data_len as u32,
                    expected: merkle::root(ls, width),
                })
            })
            .collect();
        MerklePieces {
            pieces: out,
            hybrid: false,
        }
    }

    /// Piece `piece`'s place, if known.
    pub fn get(&self, piece: u32) -> Option<&MerklePiece> {
        self.pieces.get(piece as usize)?.as_ref()
    }

    /// The piece whose leaves `request` asked for.
    pub fn piece_of(&self, request: &HashRequest) -> Option<u32> {
        self.pieces
            .iter()
            .position(|p| {
                p.as_ref().is_some_and(|p| {
                    p.pieces_root == request.pieces_root
                        && p.first_leaf == request.index
                        && p.width == request.length
                })
            })
            .map(|i| i as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: usize) -> Vec<Hash256> {
        (0..n).map(|i| merkle::leaf(&[i as u8; 100])).collect()
    }

    #[test]
    fn a_pieces_leaves_are_trusted_only_when_they_hash_to_its_piece_hash() {
        // Five blocks in pieces of four: the second piece has one data block and three pads.
        let l = leaves(5);
        let m = MerklePieces::single_file(&l, 4 * 16_384 + 100, 65_536);
        let p = *m.get(1).unwrap();
        assert_eq!(
            (p.first_leaf, p.width, p.blocks, p.data_len),
            (4, 4, 1, 100)
        );
        let r = p.leaf_request();
        assert_eq!((r.index, r.length, r.proof_layers), (4, 4, 1));
        let reply = [l[4], [0; 32], [0; 32], [0; 32]];
        assert_eq!(p.trusted_leaves(&r, &reply), Some(vec![l[4]]));
        // A forged leaf, or pad leaves that are not zero, do not match the trusted hash.
        assert_eq!(
            p.trusted_leaves(&r, &[l[3], [0; 32], [0; 32], [0; 32]]),
            None
        );
        assert_eq!(
            p.trusted_leaves(&r, &[l[4], [1; 32], [0; 32], [0; 32]]),
            None
        );
        // Too few hashes, or an answer to another request.
        assert_eq!(p.trusted_leaves(&r, &reply[..3]), None);
        let other = HashRequest { index: 0, ..r };
        assert_eq!(p.trusted_leaves(&other, &reply), None);
        assert_eq!(m.piece_of(&r), Some(1));
        assert_eq!(m.piece_of(&other), Some(0));
        // The piece layer and the root agree with the file's tree.
        let first = m.get(0).unwrap();
        assert_eq!(
            merkle::root_from_layer(&[first.expected, p.expected], 65_536),
            merkle::file_root(&l)
        );
    }

    #[test]
    fn a_one_piece_file_is_its_own_subtree() {
        let l = leaves(3);
        let m = MerklePieces::single_file(&l, 3 * 16_384, 65_536);
        let p = m.get(0).unwrap();
        assert_eq!(
            (p.width, p.blocks, p.expected),
            (4, 3, merkle::file_root(&l))
        );
        assert_eq!(p.leaf_request().proof_layers, 1);
    }
}
