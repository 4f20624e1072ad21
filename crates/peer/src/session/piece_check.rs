//! [`PieceHashes`]: how a completed piece is checked, by SHA-1 (v1 and hybrid torrents) or
//! against its BEP 52 Merkle subtree (v2-only torrents), so the disk thread, the re-check and
//! the start-up check share one rule.

use std::sync::Arc;

use sha1::{Digest, Sha1};
use torrentkit_metainfo::{Torrent as Metainfo, V2Piece};

/// What a piece's bytes (as storage reads them, pad zeros included) must hash to.
pub trait PieceHashes {
    /// True when the bytes of piece `piece` are right.
    fn check(&self, piece: u32, bytes: &[u8]) -> bool;
}

impl PieceHashes for [[u8; 20]] {
    fn check(&self, piece: u32, bytes: &[u8]) -> bool {
        self.get(piece as usize)
            .is_some_and(|h| Sha1::digest(bytes)[..] == h[..])
    }
}

impl PieceHashes for Vec<[u8; 20]> {
    fn check(&self, piece: u32, bytes: &[u8]) -> bool {
        self.as_slice().check(piece, bytes)
    }
}

/// The BEP 52 checks of a v2-only torrent's pieces (`None`: no hash known yet, which fails).
#[derive(Debug, Clone)]
pub struct V2Hashes(pub Vec<Option<V2Piece>>);

impl PieceHashes for V2Hashes {
    fn check(&self, piece: u32, bytes: &[u8]) -> bool {
        self.0
            .get(piece as usize)
            .and_then(Option::as_ref)
            .is_some_and(|p| p.matches(bytes))
    }
}

/// The checks for `torrent`: SHA-1 when it has v1 piece hashes (v1-only peers can then share a
/// hybrid's swarm), else the v2 Merkle subtrees.
pub fn piece_hashes(torrent: &Metainfo) -> Arc<dyn PieceHashes + Send + Sync> {
    match torrent.v2_pieces() {
        Some(v2) if !torrent.info().version().has_v1() => Arc::new(V2Hashes(v2)),
        _ => Arc::new(torrent.info().pieces().to_vec()),
    }
}
