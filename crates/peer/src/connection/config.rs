//! The settings of one peer connection: timeouts, request queue bounds, message limits.

use std::sync::Arc;
use std::time::Duration;

use torrentkit_wire::{Limits, Reserved};

#[cfg(doc)]
use super::Connection;

/// Settings for a [`Connection`].
#[derive(Debug, Clone)]
pub struct ConnectionConfig {
    /// The torrent's info-hash; a peer that handshakes with another is dropped.
    pub info_hash: [u8; 20],
    /// Our peer id; a peer with the same id is ourselves, and dropped.
    pub peer_id: [u8; 20],
    /// The torrent's piece count, to check indices.
    pub piece_count: u32,
    /// The reserved bits we send (fast extension and extension protocol on by default).
    pub reserved: Reserved,
    /// Time for the peer's handshake to arrive.
    pub handshake_timeout: Duration,
    /// A peer that sends nothing at all for this long is dropped.
    pub idle_timeout: Duration,
    /// We send a keep-alive after this long without sending anything.
    pub keepalive_interval: Duration,
    /// Requests unanswered for this long (no block at all arriving) mark the peer snubbed:
    /// its requests are cancelled and handed back for other peers.
    pub request_timeout: Duration,
    /// The smallest request queue (and the start of slow start).
    pub min_queue: u32,
    /// The largest request queue, whatever the peer's `reqq`.
    pub max_queue: u32,
    /// The queue holds this much time's worth of blocks at the peer's current rate.
    pub queue_time: Duration,
    /// How many of the peer's requests we queue at most (advertised as our `reqq`).
    pub max_peer_requests: u32,
    /// Message size limits for decoding.
    pub limits: Limits,
    /// Our listen port, advertised in the extension handshake.
    pub listen_port: Option<u16>,
    /// The torrent's `info` dictionary, served to peers that ask (ut_metadata); `None`: their
    /// requests are rejected.
    pub metadata: Option<Arc<[u8]>>,
    /// Advertise and take ut_pex (off for private torrents, BEP 27).
    pub pex: bool,
    /// Only the metadata is wanted (a magnet link's first phase): piece messages are ignored.
    pub metadata_only: bool,
    /// The UDP port of our DHT node, when we run one for this torrent: the handshake sets the
    /// DHT bit and peers that set it too get a BEP 5 `port` message. `None` (private
    /// torrents, `--no-dht`): neither.
    pub dht_port: Option<u16>,
}

impl ConnectionConfig {
    /// Defaults for a torrent.
    pub fn new(info_hash: [u8; 20], peer_id: [u8; 20], piece_count: u32) -> Self {
        ConnectionConfig {
            info_hash,
            peer_id,
            piece_count,
            reserved: Reserved::torrentkit(),
            handshake_timeout: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(180),
            keepalive_interval: Duration::from_secs(90),
            request_timeout: Duration::from_secs(30),
            min_queue: 4,
            max_queue: 500,
            queue_time: Duration::from_secs(3),
            max_peer_requests: 500,
            limits: Limits::default(),
            listen_port: None,
            metadata: None,
            pex: true,
            metadata_only: false,
            dht_port: None,
        }
    }
}
