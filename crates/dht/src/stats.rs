//! Counters of what a node received, sent and refused, and the sizes of what it holds.

/// A snapshot of a node's counters (since it started) and of the sizes of its tables.
///
/// The counters show bad input and floods: a host sending garbage raises `malformed`, one
/// sending too fast raises `throttled`, forged responses raise `unmatched`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Queries received (valid ones, answered or not).
    pub queries_received: u64,
    /// Queries answered with a response.
    pub answers_sent: u64,
    /// KRPC errors sent (malformed queries, unknown methods, bad tokens).
    pub errors_sent: u64,
    /// Queries we sent.
    pub queries_sent: u64,
    /// Responses received that matched one of our queries.
    pub responses_received: u64,
    /// KRPC errors received that matched one of our queries.
    pub errors_received: u64,
    /// Queries of ours that got no answer in time.
    pub timeouts: u64,
    /// Datagrams that are not valid KRPC.
    pub malformed: u64,
    /// Responses and errors whose transaction id matches nothing we sent to that address.
    pub unmatched: u64,
    /// Queries dropped because their source sent more than its share.
    pub throttled: u64,
    /// `announce_peer` queries whose token did not verify.
    pub bad_tokens: u64,
    /// Nodes kept out of the routing table because their id does not fit BEP 42.
    pub bad_node_ids: u64,
    /// Announces refused because the peer store holds its most info-hashes.
    pub announces_refused: u64,
    /// Queries not answered because this node is read-only (BEP 43).
    pub read_only_dropped: u64,
    /// Nodes in the routing table now.
    pub routing_nodes: usize,
    /// Buckets in the routing table now.
    pub buckets: usize,
    /// Info-hashes in the peer store now.
    pub stored_info_hashes: usize,
    /// Peers in the peer store now, over all info-hashes.
    pub stored_peers: usize,
    /// Queries of ours awaiting an answer now.
    pub outstanding_queries: usize,
    /// Lookups running now.
    pub lookups: usize,
    /// Source addresses counted by the throttle this second.
    pub tracked_sources: usize,
}
