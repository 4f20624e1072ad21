//! The node's settings: identity, timeouts, and the caps that bound its memory and its answers.

use std::net::IpAddr;
use std::time::Duration;

use crate::id::NodeId;

/// How a [`Node`](crate::Node) behaves. Every cap has a default that keeps a node's memory
/// within a few megabytes whatever the network sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Seeds every random choice (node id, transaction ids, token secrets, refresh targets):
    /// the same seed and inputs replay the same run. Seed it from the OS in production.
    /// Default: `0`.
    pub seed: u64,
    /// The node id to use (a saved one, to keep the routing table's position). Default: `None`,
    /// a random id, made to fit BEP 42 when `external_ip` is known.
    pub id: Option<NodeId>,
    /// Our address as the rest of the DHT sees it, if known. A generated id then follows BEP 42
    /// for it (unless it is a loopback or private address). Default: `None`.
    pub external_ip: Option<IpAddr>,
    /// The node's socket is IPv6: its routing table holds IPv6 nodes and it answers with
    /// `nodes6` (BEP 32). Default: `false` (IPv4, `nodes`).
    pub ipv6: bool,
    /// BEP 43 read-only: queries carry `ro=1`, so other nodes do not add us to their tables,
    /// and queries we receive are not answered. Default: `false`.
    pub read_only: bool,
    /// BEP 42: nodes whose id does not fit their (public) address are kept out of the routing
    /// table. Default: `true`.
    pub enforce_node_id: bool,
    /// How long a query waits for its answer. Default: 2 s.
    pub query_timeout: Duration,
    /// How many times a silent node is asked before it counts as gone: by lookups, and for
    /// bootstrap queries, pings of new contacts and announces, which the node re-sends itself.
    /// Default: 4, so with 10% loss each way a live node is lost to a lookup about once in 770
    /// (each try fails with probability 0.19).
    pub query_attempts: u8,
    /// The most queries out at once, over all lookups and pings; more wait. Default: 256.
    pub max_outstanding_queries: usize,
    /// The most info-hashes the peer store holds; announces for new ones beyond it are
    /// refused. Default: 2,000 (libtorrent's `dht_max_torrents`).
    pub max_info_hashes: usize,
    /// The most peers stored per info-hash; a new peer then replaces the one closest to
    /// expiry. Default: 100.
    pub max_peers_per_info_hash: usize,
    /// The most peers in one `get_peers` answer. Default: 50 (under 1,100 bytes in IPv6).
    pub max_values_per_answer: usize,
    /// Queries answered per source IP address per second; the rest are dropped and counted in
    /// [`Stats::throttled`](crate::Stats::throttled). Default: 20.
    pub answers_per_second: u32,
    /// The most source addresses counted in one second; queries from further new addresses in
    /// that second are throttled. Default: 4,096.
    pub max_tracked_sources: usize,
    /// The client version sent in `v`. Default: `b"TK01"`.
    pub version: [u8; 4],
}

impl Default for Config {
    fn default() -> Self {
        Config {
            seed: 0,
            id: None,
            external_ip: None,
            ipv6: false,
            read_only: false,
            enforce_node_id: true,
            query_timeout: Duration::from_secs(2),
            query_attempts: 4,
            max_outstanding_queries: 256,
            max_info_hashes: 2000,
            max_peers_per_info_hash: 100,
            max_values_per_answer: 50,
            answers_per_second: 20,
            max_tracked_sources: 4096,
            version: *b"TK01",
        }
    }
}
