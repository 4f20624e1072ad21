//! What a node hands back to its driver: datagrams to send and events.

use std::net::SocketAddr;

use crate::compact::NodeInfo;
use crate::id::NodeId;

/// Names one lookup started by [`Node::find_node`](crate::Node::find_node),
/// [`get_peers`](crate::Node::get_peers), [`announce`](crate::Node::announce) or
/// [`bootstrap`](crate::Node::bootstrap), so its events can be told apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LookupId(pub u64);

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Where to send it.
    pub destination: SocketAddr,
    /// The datagram.
    pub contents: Vec<u8>,
}

/// The outcome of a lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupResult {
    /// Which lookup.
    pub lookup: LookupId,
    /// The id or info-hash looked for.
    pub target: NodeId,
    /// The (up to) 8 closest nodes to the target that answered, closest first.
    pub closest: Vec<NodeInfo>,
    /// Every distinct peer found (`get_peers` and `announce` lookups).
    pub peers: Vec<SocketAddr>,
    /// Queries sent, retries included.
    pub queries: u32,
    /// Rounds: how many answers away from our routing table the farthest of `closest` was
    /// learnt (0: they were all in our table).
    pub rounds: u32,
}

/// Something that happened, from [`Node::poll_event`](crate::Node::poll_event).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A lookup converged (or ran out of nodes to ask).
    LookupDone(LookupResult),
    /// A `get_peers` or `announce` lookup received peers it had not seen; sent as they come,
    /// before the lookup is done.
    PeersFound {
        /// Which lookup.
        lookup: LookupId,
        /// The info-hash.
        info_hash: NodeId,
        /// The new peers.
        peers: Vec<SocketAddr>,
    },
    /// An announce lookup sent `announce_peer` to the closest nodes, and they all answered or
    /// timed out.
    AnnounceDone {
        /// Which lookup.
        lookup: LookupId,
        /// The info-hash announced.
        info_hash: NodeId,
        /// How many nodes acknowledged the announce.
        acknowledged: usize,
    },
}
