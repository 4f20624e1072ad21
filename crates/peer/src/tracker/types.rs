//! The announce request and response, and scrape statistics, shared by HTTP and UDP.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// The event an announce reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Event {
    /// A regular periodic announce.
    #[default]
    None,
    /// The first announce of a session.
    Started,
    /// The download just finished.
    Completed,
    /// The client is leaving the swarm.
    Stopped,
}

impl Event {
    /// The HTTP `event` parameter value, `None` for a regular announce.
    pub fn as_http(self) -> Option<&'static str> {
        match self {
            Event::None => None,
            Event::Started => Some("started"),
            Event::Completed => Some("completed"),
            Event::Stopped => Some("stopped"),
        }
    }

    /// The BEP 15 event number.
    pub fn as_udp(self) -> u32 {
        match self {
            Event::None => 0,
            Event::Completed => 1,
            Event::Started => 2,
            Event::Stopped => 3,
        }
    }
}

/// What a client tells a tracker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnounceRequest {
    /// The torrent.
    pub info_hash: [u8; 20],
    /// Our peer id.
    pub peer_id: [u8; 20],
    /// The port we accept peer connections on.
    pub port: u16,
    /// Bytes uploaded this session.
    pub uploaded: u64,
    /// Bytes downloaded this session.
    pub downloaded: u64,
    /// Bytes still missing.
    pub left: u64,
    /// The event.
    pub event: Event,
    /// How many peers we want (`None`: the tracker's default).
    pub numwant: Option<u32>,
    /// A random key that identifies us across IP changes.
    pub key: u32,
    /// Our address, if the tracker should not use the one it sees.
    pub ip: Option<IpAddr>,
    /// The tracker id a previous reply from this tracker gave us (HTTP only).
    pub tracker_id: Option<Vec<u8>>,
}

impl AnnounceRequest {
    /// A regular announce with zero counters and no options.
    pub fn new(info_hash: [u8; 20], peer_id: [u8; 20], port: u16, left: u64) -> Self {
        AnnounceRequest {
            info_hash,
            peer_id,
            port,
            uploaded: 0,
            downloaded: 0,
            left,
            event: Event::None,
            numwant: None,
            key: 0,
            ip: None,
            tracker_id: None,
        }
    }
}

/// What a tracker answers to an announce.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AnnounceResponse {
    /// How long to wait before the next regular announce.
    pub interval: Duration,
    /// The tracker's minimum time between announces, if it says.
    pub min_interval: Option<Duration>,
    /// An id to send back in later announces (HTTP only).
    pub tracker_id: Option<Vec<u8>>,
    /// Peers with the complete file.
    pub seeders: Option<u32>,
    /// Peers still downloading.
    pub leechers: Option<u32>,
    /// Peer addresses, IPv4 and IPv6.
    pub peers: Vec<SocketAddr>,
    /// A warning the tracker wants shown to the user.
    pub warning: Option<String>,
}

/// Scrape statistics of one torrent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScrapeStats {
    /// The torrent.
    pub info_hash: [u8; 20],
    /// Peers with the complete file.
    pub seeders: u32,
    /// Completed downloads the tracker has seen.
    pub completed: u32,
    /// Peers still downloading.
    pub leechers: u32,
}
