//! BEP 52 Merkle trees: SHA-256 over 16 KiB leaves, padded with zero leaves to a power of two;
//! roots, piece layers and the uncle-hash proofs peers exchange.
//!
//! Every function here is pure; the file hashing that produces the leaves is in `hash.rs`.

use sha2::{Digest, Sha256};

/// A SHA-256 hash, the node type of every v2 tree.
pub type Hash256 = [u8; 32];

/// Bytes per leaf (the BEP 52 block size).
pub const BLOCK_SIZE: u64 = 16 * 1024;

/// The most levels a tree can have: 2^62 bytes / 16 KiB leaves is 2^48 leaves.
const MAX_LEVELS: usize = 49;

/// The hash of a node over two children.
pub fn parent(left: &Hash256, right: &Hash256) -> Hash256 {
    let mut h = Sha256::new();
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The SHA-256 of one block of data (a leaf).
pub fn leaf(block: &[u8]) -> Hash256 {
    Sha256::digest(block).into()
}

/// The root of a subtree of `2^level` leaves that are all zero (BEP 52's padding).
pub fn zero_subtree(level: usize) -> Hash256 {
    let mut h = [0u8; 32];
    for _ in 0..level.min(MAX_LEVELS) {
        h = parent(&h, &h);
    }
    h
}

/// The layer above `layer` (a power of two of nodes, at least two): each pair's parent.
pub fn layer_above(layer: &[Hash256]) -> Vec<Hash256> {
    debug_assert!(layer.len() >= 2 && layer.len().is_power_of_two());
    layer.chunks(2).map(|p| parent(&p[0], &p[1])).collect()
}

/// `layer` (a power of two of nodes) and every layer above it, up to the one-node root layer.
pub fn layers_to_root(layer: Vec<Hash256>) -> Vec<Vec<Hash256>> {
    let mut layers = vec![layer];
    while let Some(top) = layers.last().filter(|l| l.len() > 1) {
        let up = layer_above(top);
        layers.push(up);
    }
    layers
}

/// The root of a tree of `width` leaves (a power of two), of which `leaves` come first and the
/// rest are zero. `leaves.len()` must not exceed `width`.
pub fn root(leaves: &[Hash256], width: u64) -> Hash256 {
    debug_assert!(width.is_power_of_two() && leaves.len() as u64 <= width);
    let mut layer: Vec<Hash256> = leaves.to_vec();
    let mut level = 0usize;
    let mut width = width;
    if layer.is_empty() {
        return zero_subtree(width.trailing_zeros() as usize);
    }
    while width > 1 {
        let pad = zero_subtree(level);
        let next: Vec<Hash256> = layer
            .chunks(2)
            .map(|pair| parent(&pair[0], pair.get(1).unwrap_or(&pad)))
            .collect();
        layer = next;
        level += 1;
        width /= 2;
    }
    layer[0]
}

/// The `pieces root` of a file from its leaf hashes (one per 16 KiB block, the last one over
/// the short tail).
pub fn file_root(leaves: &[Hash256]) -> Hash256 {
    root(leaves, (leaves.len() as u64).max(1).next_power_of_two())
}

/// The hash of one piece from its leaves: a subtree of `piece_length / 16 KiB` leaves, zero-padded.
pub fn piece_hash(leaves: &[Hash256], piece_length: u64) -> Hash256 {
    root(leaves, (piece_length / BLOCK_SIZE).max(1))
}

/// The `pieces root` of a file from its piece layer: the layer is padded to a power of two with
/// the hash of an all-zero piece, then hashed up.
pub fn root_from_layer(layer: &[Hash256], piece_length: u64) -> Hash256 {
    let piece_level = (piece_length / BLOCK_SIZE).max(1).trailing_zeros() as usize;
    let width = (layer.len() as u64).max(1).next_power_of_two();
    let pad = zero_subtree(piece_level);
    let mut nodes: Vec<Hash256> = layer.to_vec();
    nodes.resize(width as usize, pad);
    let mut level = nodes;
    while level.len() > 1 {
        level = layer_above(&level);
    }
    level[0]
}

/// Checks a BEP 52 proof: `node` at `index` in its layer, hashed up with the `uncles` (nearest
/// first), must give `root`. Returns false for a proof longer than any tree.
pub fn verify_proof(node: &Hash256, index: u64, uncles: &[Hash256], root: &Hash256) -> bool {
    if uncles.len() >= MAX_LEVELS {
        return false;
    }
    let mut h = *node;
    let mut i = index;
    for u in uncles {
        h = if i % 2 == 0 {
            parent(&h, u)
        } else {
            parent(u, &h)
        };
        i /= 2;
    }
    i == 0 && h == *root
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_single_block_file_has_its_leaf_as_root() {
        let l = leaf(b"hello");
        assert_eq!(file_root(&[l]), l);
    }

    #[test]
    fn roots_pad_with_zero_leaves() {
        let a = leaf(b"a");
        let b = leaf(b"b");
        let c = leaf(b"c");
        let want = parent(&parent(&a, &b), &parent(&c, &[0; 32]));
        assert_eq!(file_root(&[a, b, c]), want);
        assert_eq!(zero_subtree(1), parent(&[0; 32], &[0; 32]));
    }

    #[test]
    fn the_layer_gives_the_same_root_as_the_leaves() {
        // 2 leaves per piece (32 KiB pieces), 5 leaves: 3 pieces, layer padded to 4.
        let leaves: Vec<Hash256> = (0..5u8).map(|i| leaf(&[i])).collect();
        let pl = 2 * BLOCK_SIZE;
        let layer: Vec<Hash256> = leaves.chunks(2).map(|c| piece_hash(c, pl)).collect();
        assert_eq!(root_from_layer(&layer, pl), file_root(&leaves));
    }

    #[test]
    fn proofs_check_position_and_root() {
        let leaves: Vec<Hash256> = (0..4u8).map(|i| leaf(&[i])).collect();
        let r = file_root(&leaves);
        let uncles = [leaves[3], parent(&leaves[0], &leaves[1])];
        assert!(verify_proof(&leaves[2], 2, &uncles, &r));
        assert!(!verify_proof(&leaves[2], 3, &uncles, &r));
        assert!(!verify_proof(&leaves[3], 2, &uncles, &r));
        assert!(
            !verify_proof(&leaves[2], 6, &uncles, &r),
            "index beyond the tree"
        );
    }
}
