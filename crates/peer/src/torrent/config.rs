//! The settings of a [`Torrent`](super::Torrent): sizes, picking, choking, connections, bans.

use crate::connection::ConnectionConfig;
#[cfg(doc)]
use crate::Torrent;
use crate::{ChokerConfig, PickerConfig};

/// Settings for a [`Torrent`].
#[derive(Debug, Clone)]
pub struct TorrentConfig {
    /// The info-hash.
    pub info_hash: [u8; 20],
    /// Our peer id.
    pub peer_id: [u8; 20],
    /// Total length of the torrent's data.
    pub total_length: u64,
    /// Piece length.
    pub piece_length: u32,
    /// Piece picking.
    pub picker: PickerConfig,
    /// Choking.
    pub choker: ChokerConfig,
    /// Per-connection settings (info-hash, peer id and piece count are filled in from above).
    pub connection: ConnectionConfig,
    /// A peer that took part in this many pieces failing their hash check is banned.
    pub max_strikes: u32,
    /// Most open connections; dials start only while open ones plus dials under way stay
    /// below it (a [`Session`](crate::session::Session) sets it from its `max_connections`).
    pub max_connections: usize,
    /// Most addresses kept waiting for a free connection slot ([`Torrent::add_peer`]).
    pub max_pool: usize,
    /// Seed for every random choice.
    pub seed: u64,
    /// Super-seeding (BEP 16): while complete, new peers are told we have nothing and shown
    /// one piece at a time, so the swarm, not we, makes the copies after the first.
    pub super_seed: bool,
    /// For a v2 or hybrid torrent, each piece's place in its file's Merkle tree: a failed
    /// piece then has its bad blocks found and only those fetched again (`None`: v1, whole
    /// pieces).
    pub merkle: Option<std::sync::Arc<super::MerklePieces>>,
    /// The Merkle trees of a v2 or hybrid torrent, to answer peers' BEP 52 hash requests
    /// (`None`: every request is refused).
    pub hash_trees: Option<std::sync::Arc<super::HashTrees>>,
}

impl TorrentConfig {
    /// Defaults for a torrent of `total_length` bytes in pieces of `piece_length`.
    pub fn new(
        info_hash: [u8; 20],
        peer_id: [u8; 20],
        total_length: u64,
        piece_length: u32,
        seed: u64,
    ) -> Self {
        let pieces = u32::try_from(total_length.div_ceil(u64::from(piece_length.max(1))))
            .unwrap_or(u32::MAX);
        TorrentConfig {
            info_hash,
            peer_id,
            total_length,
            piece_length,
            picker: PickerConfig::default(),
            choker: ChokerConfig::default(),
            connection: ConnectionConfig::new(info_hash, peer_id, pieces),
            max_strikes: 2,
            max_connections: 50,
            max_pool: 1000,
            seed,
            super_seed: false,
            merkle: None,
            hash_trees: None,
        }
    }
}
