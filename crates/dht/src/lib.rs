//! The BitTorrent mainline DHT.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod bep42;
mod compact;
mod config;
mod error;
mod event;
mod id;
mod krpc;
mod lookup;
mod node;
mod routing;
mod stats;
mod store;
mod throttle;
mod token;

pub use bep42::{id_for_ip, id_matches_ip, is_exempt};
pub use compact::{
    parse_nodes, parse_peer, peer_bytes, put_node, put_peer, NodeInfo, NODE_V4_LEN, NODE_V6_LEN,
    PEER_V4_LEN, PEER_V6_LEN,
};
pub use config::Config;
pub use error::Error;
pub use event::{Event, LookupId, LookupResult, Transmit};
pub use id::{Distance, NodeId};
pub use krpc::{
    query_transaction, Body, Message, Query, Response, Want, ERROR_GENERIC, ERROR_METHOD_UNKNOWN,
    ERROR_PROTOCOL, ERROR_SERVER, MAX_DATAGRAM_LEN, MAX_NODES, MAX_TOKEN_LEN, MAX_TRANSACTION_LEN,
    MAX_VALUES,
};
pub use lookup::{ALPHA, MAX_LOOKUP_PEERS, MAX_LOOKUP_QUERIES};
pub use node::{Node, REBOOTSTRAP_AFTER};
pub use routing::{BAD_AFTER_FAILURES, K, QUESTIONABLE_AFTER};
pub use stats::Stats;
pub use store::PEER_TTL;
pub use token::{SECRET_ROTATION, TOKEN_LEN};
