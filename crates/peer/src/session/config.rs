//! The settings of a [`Session`](super::Session): the torrent's, trackers, ports, connection
//! limits, rates, and the [`Shared`] limits of a multi-torrent program.

use std::net::IpAddr;
use std::time::Duration;

#[cfg(doc)]
use super::Session;
use super::{Encryption, Shared};
use crate::tracker::{AnnouncerConfig, ClientConfig};
use crate::TorrentConfig;

/// Settings for a [`Session`].
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// The torrent state machine's settings.
    pub torrent: TorrentConfig,
    /// The SHA-1 of every piece, from the metainfo.
    pub piece_hashes: Vec<[u8; 20]>,
    /// For a v2-only torrent, its pieces' BEP 52 checks, used instead of `piece_hashes`
    /// (set by [`SessionConfig::from_torrent`]).
    pub v2_hashes: Option<std::sync::Arc<super::V2Hashes>>,
    /// Announce-list tiers (empty: no trackers; add peers with [`Session::add_peer`]).
    pub trackers: Vec<Vec<String>>,
    /// The port we accept peers on, for announces.
    pub listen_port: u16,
    /// Keep seeding after the download completes (until [`Session::stop`]).
    pub seed: bool,
    /// Most simultaneous connections.
    pub max_connections: usize,
    /// Time limit for an outgoing TCP connect.
    pub connect_timeout: Duration,
    /// Tracker client settings.
    pub tracker_client: ClientConfig,
    /// Announce scheduling.
    pub announcer: AnnouncerConfig,
    /// Most bytes per second sent to all peers together (`None`: unlimited).
    pub max_upload_rate: Option<u64>,
    /// Most bytes per second received from all peers together (`None`: unlimited).
    pub max_download_rate: Option<u64>,
    /// The address to tell trackers we are at (`ip=`), when it differs from the one they see.
    pub announce_ip: Option<IpAddr>,
    /// Limits and the listening port shared with other sessions (`bt launch-many`): its
    /// connection cap and rates apply on top of this session's own, and peers that connect to
    /// its listener for this torrent's info-hash are handed to this session.
    pub shared: Option<Shared>,
    /// Protocol encryption (MSE/PE) for the connections we make and accept.
    pub encryption: Encryption,
    /// Web seeds (BEP 19 `url-list`, BEP 17 `httpseeds`) used beside peers; empty: none.
    pub web_seeds: crate::webseed::WebSeedConfig,
    /// The DHT node to look peers up in and announce to (usually the one on the listener's
    /// [`UdpPort`](super::UdpPort)); `None`: no DHT. Never used when `private` is set.
    pub dht: Option<std::sync::Arc<torrentkit_dht::Dht>>,
    /// The torrent is private (BEP 27): no DHT, whatever `dht` says
    /// ([`from_torrent`](SessionConfig::from_torrent) sets it).
    pub private: bool,
    /// Which transports peer connections use (`--transport`).
    pub transport: super::Transport,
    /// The uTP endpoint (the [`UdpPort`](super::UdpPort)'s) dialled from, and, for a session
    /// with its own listener, accepted on; `None`: TCP only.
    pub utp: Option<std::sync::Arc<torrentkit_utp::UtpSocket>>,
}

impl SessionConfig {
    /// Defaults around a torrent's settings and piece hashes.
    pub fn new(torrent: TorrentConfig, piece_hashes: Vec<[u8; 20]>) -> Self {
        SessionConfig {
            torrent,
            piece_hashes,
            v2_hashes: None,
            trackers: Vec::new(),
            listen_port: 6881,
            seed: false,
            max_connections: 50,
            connect_timeout: Duration::from_secs(10),
            tracker_client: ClientConfig::default(),
            announcer: AnnouncerConfig::default(),
            max_upload_rate: None,
            max_download_rate: None,
            announce_ip: None,
            shared: None,
            encryption: Encryption::default(),
            web_seeds: Default::default(),
            dht: None,
            private: false,
            transport: super::Transport::default(),
            utp: None,
        }
    }
}
