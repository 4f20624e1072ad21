//! [`Config`]: every knob of the tracker, with defaults that work on first run.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// How the tracker behaves. Build it with `Config { field: value, ..Config::default() }`.
///
/// The defaults follow the classic tracker (`bttrack`): a 30-minute announce interval, peers
/// forgotten after 45 minutes without an announce, 50 peers per reply unless more are asked for
/// (at most 200), state saved every 5 minutes.
#[derive(Clone, Debug)]
pub struct Config {
    /// The `interval` sent to clients: how long they should wait between announces (30 min).
    pub interval: Duration,
    /// The `min interval` sent to clients: they must not announce more often than this (15 min).
    pub min_interval: Duration,
    /// A peer that has not announced for this long is dropped from its swarm (45 min). A swarm
    /// left without peers is dropped with it.
    pub peer_timeout: Duration,
    /// How many peers a reply carries when the client does not send `numwant` (50).
    pub default_numwant: usize,
    /// The most peers a reply carries, whatever `numwant` asks for (200).
    pub max_numwant: usize,
    /// The most peers kept per torrent (10,000); announces beyond it are answered but not stored.
    pub max_peers_per_torrent: usize,
    /// The most torrents tracked at once (1,000,000); announces for new torrents beyond it fail.
    pub max_torrents: usize,
    /// The longest accepted HTTP query string, in bytes (4,096).
    pub max_query_len: usize,
    /// The most info-hashes in one scrape (74, what fits in one UDP packet).
    pub max_scrape_hashes: usize,
    /// Believe the `ip=` announce parameter (and the UDP `ip` field) instead of the socket address.
    /// Only for trackers behind a trusted network (off).
    pub trust_ip_param: bool,
    /// Take the client address from the last `X-Forwarded-For` entry, as set by a reverse proxy in
    /// front of the tracker (off).
    pub trust_proxy_headers: bool,
    /// When set, only torrents whose `.torrent` file is in this directory are tracked, and each is
    /// served at `/torrents/INFOHASH.torrent` (none).
    pub allowed_dir: Option<PathBuf>,
    /// How often the allowed directory is scanned for added or removed files (1 min).
    pub rescan_interval: Duration,
    /// When set, `POST /publish` with this token accepts a `.torrent` file (none: publishing off).
    pub publish_token: Option<String>,
    /// The largest accepted published `.torrent`, in bytes (10 MiB).
    pub max_publish_size: usize,
    /// Where swarms are kept across restarts (none: state lives in memory only).
    pub dfile: Option<PathBuf>,
    /// How often the dfile is written (5 min); it is also written on shutdown.
    pub save_interval: Duration,
    /// Where the UDP tracker (BEP 15) listens when run by [`serve`](crate::serve).
    pub udp: UdpBind,
    /// How many independently locked parts the swarm store has (64); more parts, less contention.
    pub shards: usize,
    /// How long an HTTP client has to send a complete request head, from when the connection is
    /// opened or its previous reply was sent (10 s); then the connection is closed. This also
    /// bounds how long an idle keep-alive connection is kept.
    pub header_timeout: Duration,
    /// The most HTTP connections open at once from one client IP (256); further ones are closed
    /// as soon as they are accepted. Generous for clients behind one NAT, far below the open-file
    /// limit, so that one address cannot hold every file descriptor.
    pub max_connections_per_ip: usize,
    /// Serve HTTPS instead of HTTP on the listener ([`TlsConfig::from_pem_files`](crate::TlsConfig::from_pem_files): a
    /// certificate chain and its key); UDP is unaffected.
    pub tls: Option<crate::TlsConfig>,
    /// Where the swarms are kept: in this process (the default) or in Redis, shared by every
    /// tracker pointed at it. With Redis the dfile is not used (Redis's own RDB/AOF persistence
    /// is): setting both is refused by [`Tracker::load_dfile`](crate::Tracker::load_dfile).
    pub store: StoreConfig,
    /// The secret UDP connection ids are keyed with (none: a random one per process). Trackers
    /// sharing a Redis should share one, so that an id issued by one verifies on any other.
    pub udp_secret: Option<String>,
}

/// Where a tracker keeps its swarms.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub enum StoreConfig {
    /// In this process's memory (sharded, bounded; saved to the dfile when one is set).
    #[default]
    Memory,
    /// In Redis, shared by every tracker that uses the same one (see the crate README for the
    /// key layout).
    Redis(crate::RedisConfig),
}

/// Where [`serve`](crate::serve) runs the UDP tracker.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum UdpBind {
    /// On the HTTP listener's address and port number.
    #[default]
    SamePort,
    /// On this address.
    Addr(SocketAddr),
    /// No UDP tracker.
    Off,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            interval: Duration::from_secs(30 * 60),
            min_interval: Duration::from_secs(15 * 60),
            peer_timeout: Duration::from_secs(45 * 60),
            default_numwant: 50,
            max_numwant: 200,
            max_peers_per_torrent: 10_000,
            max_torrents: 1_000_000,
            max_query_len: 4096,
            max_scrape_hashes: 74,
            trust_ip_param: false,
            trust_proxy_headers: false,
            allowed_dir: None,
            rescan_interval: Duration::from_secs(60),
            publish_token: None,
            max_publish_size: 10 << 20,
            dfile: None,
            save_interval: Duration::from_secs(5 * 60),
            udp: UdpBind::SamePort,
            shards: 64,
            header_timeout: Duration::from_secs(10),
            max_connections_per_ip: 256,
            tls: None,
            store: StoreConfig::Memory,
            udp_secret: None,
        }
    }
}
