//! [`PeerSource`]: where the torrent learnt of a peer, kept for every peer and shown in peer
//! lists.

use std::fmt;

/// Where a peer's address came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum PeerSource {
    /// A tracker's announce reply.
    Tracker,
    /// Another peer's ut_pex message (BEP 11).
    Pex,
    /// A magnet link's `x.pe` hint.
    MagnetHint,
    /// Given by the user or the program ([`Torrent::add_peer`](crate::Torrent::add_peer)).
    Manual,
    /// It connected to us.
    Incoming,
    /// A DHT `get_peers` lookup (BEP 5).
    Dht,
}

impl PeerSource {
    /// The lower-case name shown in peer lists and JSON: `tracker`, `pex`, `magnet`,
    /// `manual`, `incoming`, `dht`.
    pub fn as_str(self) -> &'static str {
        match self {
            PeerSource::Tracker => "tracker",
            PeerSource::Pex => "pex",
            PeerSource::MagnetHint => "magnet",
            PeerSource::Manual => "manual",
            PeerSource::Incoming => "incoming",
            PeerSource::Dht => "dht",
        }
    }
}

impl fmt::Display for PeerSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
