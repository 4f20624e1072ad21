//! The BitTorrent mainline DHT (BEP 5) as a sans-IO [`Node`], with an optional tokio driver.
//!
//! A [`Node`] holds a routing table of k-buckets over the 160-bit id space, runs iterative
//! lookups ([`find_node`](Node::find_node), [`get_peers`](Node::get_peers),
//! [`announce`](Node::announce), [`bootstrap`](Node::bootstrap)) with [`ALPHA`] queries in
//! flight, answers other nodes' queries from a bounded peer store, and hands out tokens from a
//! rotating secret. It has no socket and no clock, in the shape of quinn-proto: feed it
//! datagrams with the time ([`Node::handle_datagram`]), call [`Node::handle_timeout`] when
//! [`Node::poll_timeout`] says, and drain [`Node::poll_transmit`] and [`Node::poll_event`].
//! Randomness comes from [`Config::seed`], so a simulation replays exactly.
//!
//! - KRPC ([`Message`]) decodes strictly and borrows from the datagram; every length is bounded
//!   ([`MAX_DATAGRAM_LEN`], [`MAX_NODES`], [`MAX_VALUES`]) and every [`Error`] names the message
//!   and the field. A malformed query is answered with a KRPC error, anything else bad is
//!   dropped; both are counted in [`Stats`].
//! - Compact node and peer formats for IPv4 and IPv6 (BEP 32 `nodes6`, `want`); BEP 42 node ids
//!   ([`id_for_ip`], [`id_matches_ip`]; loopback and private addresses exempt); BEP 43
//!   read-only nodes ([`Config::read_only`]); `implied_port`.
//! - Bounds, all in [`Config`] with documented defaults: stored peers per info-hash,
//!   info-hashes held, outstanding queries, answers per source address per second; stored peers
//!   expire after [`PEER_TTL`].
//!
//! # Example
//!
//! Two nodes in memory, with a made-up clock: `b` joins the DHT through `a` (a lookup of its
//! own id), then announces a torrent, which `a` stores.
//!
//! ```
//! use std::net::SocketAddr;
//! use std::time::{Duration, Instant};
//! use torrentkit_dht::{Config, Event, Node, NodeId};
//!
//! let start = Instant::now(); // any instant will do: nodes never read the clock
//! let mut now = start;
//! let addrs = [SocketAddr::from(([10, 0, 0, 1], 6881)), SocketAddr::from(([10, 0, 0, 2], 6881))];
//! let mut config = Config::default();
//! let a = Node::new(config.clone(), now);
//! config.seed = 1; // the seed fixes ids, transaction ids and secrets
//! let b = Node::new(config, now);
//! let mut nodes = [a, b];
//!
//! // The network: deliver every queued datagram, 10 ms a hop, until all is quiet.
//! let run = |nodes: &mut [Node; 2], now: &mut Instant| {
//!     while let Some((from, transmit)) =
//!         (0..2).find_map(|i| nodes[i].poll_transmit().map(|t| (i, t)))
//!     {
//!         let to = addrs.iter().position(|a| *a == transmit.destination).unwrap();
//!         *now += Duration::from_millis(10);
//!         nodes[to].handle_datagram(addrs[from], &transmit.contents, *now);
//!     }
//! };
//!
//! let join = nodes[1].bootstrap(&[addrs[0]], now);
//! run(&mut nodes, &mut now);
//! let Some(Event::LookupDone(result)) = nodes[1].poll_event() else {
//!     unreachable!("the lookup is done once the network is quiet")
//! };
//! assert_eq!(result.lookup, join);
//! assert_eq!(result.closest[0].id, nodes[0].id()); // it found a...
//! assert_eq!(nodes[0].nodes()[0].addr, addrs[1]); // ...and a learnt b from its query
//!
//! let info_hash = NodeId([0xab; 20]);
//! let announce = nodes[1].announce(info_hash, 51413, false, now);
//! run(&mut nodes, &mut now);
//! let events: Vec<Event> = std::iter::from_fn(|| nodes[1].poll_event()).collect();
//! assert!(matches!(events.last(),
//!     Some(Event::AnnounceDone { lookup, acknowledged: 1, .. }) if *lookup == announce));
//! assert_eq!(nodes[0].stats().stored_peers, 1);
//! // find_node, get_peers and announce_peer, each answered: six hops.
//! assert_eq!(now - start, Duration::from_millis(60));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Timeouts are not needed here because nothing is lost; a real driver also calls
//! [`Node::handle_timeout`] at [`Node::poll_timeout`].
//!
//! # Feature flags
//!
//! - `tokio` (off by default): `Dht`, a task around a tokio `UdpSocket` with an async API
//!   (`bootstrap`, `find_node`, `get_peers`, `announce`, `stats`). Without it the crate
//!   depends only on `torrentkit-bencode`, `crc32c`, `fastrand` and `siphasher`.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod bep42;
mod compact;
mod config;
#[cfg(feature = "tokio")]
mod driver;
mod error;
mod event;
mod id;
mod krpc;
mod lookup;
mod node;
mod routing;
mod state;
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
#[cfg(feature = "tokio")]
pub use driver::{Dht, Inbox, SearchEvent};
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
pub use state::{SavedState, StateError, MAX_SAVED_NODES};
pub use stats::Stats;
pub use store::PEER_TTL;
pub use token::{SECRET_ROTATION, TOKEN_LEN};

/// The README's examples, compiled and run as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
