//! [`SessionConfig::from_torrent`]: the settings of a session straight from a parsed `.torrent`
//! (info-hash, size, piece length, piece hashes, trackers), so that no program re-derives them.

use torrentkit_metainfo::Torrent as Metainfo;

use super::SessionConfig;
use crate::TorrentConfig;

impl SessionConfig {
    /// Defaults (see [`SessionConfig::new`]) for `torrent`: its info-hash, total size, piece
    /// length, piece hashes, announce-list tiers and web seeds, with our `peer_id` and the `seed` of the
    /// session's randomness. The caller sets the rest (port, seeding, limits, [`Shared`]).
    ///
    /// [`Shared`]: super::Shared
    ///
    /// ```
    /// use torrentkit_metainfo::TorrentBuilder;
    /// use torrentkit_peer::session::SessionConfig;
    ///
    /// let dir = tempfile::tempdir()?;
    /// std::fs::write(dir.path().join("a.bin"), vec![7u8; 40_000])?;
    /// let torrent = TorrentBuilder::new(dir.path().join("a.bin"))
    ///     .piece_length(16_384)
    ///     .tier(vec!["http://tracker.example/announce".into()])
    ///     .build()?;
    /// let config = SessionConfig::from_torrent(&torrent, *b"-TK0100-123456789012", 42);
    /// assert_eq!(config.piece_hashes.len(), 3);
    /// assert_eq!(config.torrent.total_length, 40_000);
    /// assert_eq!(config.trackers, [["http://tracker.example/announce"]]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_torrent(torrent: &Metainfo, peer_id: [u8; 20], seed: u64) -> Self {
        let info = torrent.info();
        // A parsed torrent's piece length is at most `MAX_PIECE_LENGTH` (i32::MAX): it fits.
        let piece_length = u32::try_from(info.piece_length()).unwrap_or(u32::MAX);
        let tc = TorrentConfig::new(
            torrent.info_hash().0,
            peer_id,
            info.total_size(),
            piece_length,
            seed,
        );
        let mut tc = tc;
        // Every session serves its metadata (BEP 9); private torrents exchange no peers (BEP 27).
        tc.connection.metadata = Some(info.raw().into());
        tc.connection.pex = !info.is_private();
        // v2 and hybrid: a failed piece's bad blocks are found against its Merkle tree.
        tc.merkle = crate::MerklePieces::from_metainfo(torrent).map(std::sync::Arc::new);
        // BEP 52: v2 and hybrid torrents announce the v2 upgrade (libtorrent then speaks hash
        // requests with us); a v1 torrent never does.
        tc.connection.reserved = tc
            .connection
            .reserved
            .with_v2_upgrade(info.version().has_v2());
        tc.hash_trees = crate::HashTrees::from_metainfo(torrent).map(std::sync::Arc::new);
        let mut config = SessionConfig::new(tc, info.pieces().to_vec());
        if !info.version().has_v1() {
            config.v2_hashes = torrent
                .v2_pieces()
                .map(|p| std::sync::Arc::new(super::V2Hashes(p)));
        }
        config.trackers = torrent.trackers();
        config.private = info.is_private();
        config.web_seeds = crate::webseed::WebSeedConfig::from_info(
            info,
            torrent.web_seeds().to_vec(),
            torrent.http_seeds().to_vec(),
        );
        config
    }
}

#[cfg(test)]
mod tests {
    use torrentkit_metainfo::{MetaVersion, TorrentBuilder};

    use super::*;

    #[test]
    fn the_config_carries_the_torrents_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path().join("two");
        std::fs::create_dir_all(&top).unwrap();
        std::fs::write(top.join("a"), vec![1u8; 20_000]).unwrap();
        std::fs::write(top.join("b"), vec![2u8; 30_000]).unwrap();
        let torrent = TorrentBuilder::new(&top)
            .piece_length(32_768)
            .tier(vec!["udp://a.example:6969".into()])
            .tier(vec!["http://b.example/announce".into()])
            .build()
            .unwrap();
        let c = SessionConfig::from_torrent(&torrent, [9; 20], 5);
        assert_eq!(c.torrent.info_hash, torrent.info_hash().0);
        assert_eq!(c.torrent.peer_id, [9; 20]);
        assert_eq!(c.torrent.total_length, 50_000);
        assert_eq!(c.torrent.piece_length, 32_768);
        assert_eq!(c.piece_hashes, torrent.info().pieces());
        assert_eq!(
            c.trackers,
            [["udp://a.example:6969"], ["http://b.example/announce"]]
        );
        // Everything else is the plain defaults.
        let plain = SessionConfig::new(c.torrent.clone(), c.piece_hashes.clone());
        assert_eq!(c.listen_port, plain.listen_port);
        assert_eq!(c.seed, plain.seed);
        assert_eq!(c.max_connections, plain.max_connections);
        assert!(c.shared.is_none());
        // A v1 torrent never sets the BEP 52 bit and serves no hashes.
        assert!(!c.torrent.connection.reserved.v2_upgrade());
        assert!(c.torrent.hash_trees.is_none());
    }

    #[test]
    fn v2_and_hybrid_torrents_set_the_v2_bit_and_serve_their_trees() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), vec![3u8; 100_000]).unwrap();
        for version in [MetaVersion::V2, MetaVersion::Hybrid] {
            let torrent = TorrentBuilder::new(dir.path().join("a"))
                .piece_length(32_768)
                .meta_version(version)
                .build()
                .unwrap();
            let c = SessionConfig::from_torrent(&torrent, [9; 20], 5);
            assert!(c.torrent.connection.reserved.v2_upgrade(), "{version:?}");
            assert_eq!(c.torrent.hash_trees.as_ref().map(|t| t.len()), Some(1));
        }
    }
}
