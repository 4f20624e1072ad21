//! Fuzz target `node`: one node fed a stream of arbitrary datagrams from a few addresses over
//! advancing time, with lookups of its own running.
//!
//! The input is cut into records: one byte picks the source address (loopback, private, public,
//! IPv6) and how far the clock moves, two bytes give the length, then the datagram. Nothing may
//! panic, and after every step:
//! - every datagram the node sends decodes as KRPC (its own output is always valid);
//! - every table stays within its configured cap.

#![no_main]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use torrentkit_dht::{Config, Message, Node, NodeId, K};

const SOURCES: [&str; 6] = [
    "127.0.0.1:6881",
    "10.0.0.2:6881",
    "198.51.100.7:51413",
    "203.0.113.9:6881",
    "[::1]:6881",
    "[2001:db8::1]:6881",
];

fuzz_target!(|data: &[u8]| {
    let start = Instant::now();
    let mut now = start;
    let config = Config::default();
    let mut node = Node::new(config.clone(), now);
    let sources: Vec<SocketAddr> = SOURCES.iter().map(|s| s.parse().unwrap()).collect();
    node.bootstrap(&sources[..4], now);
    node.get_peers(NodeId([0x42; 20]), now);
    let mut rest = data;
    while let [selector, hi, lo, tail @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*hi, *lo])).min(tail.len());
        let (datagram, after) = tail.split_at(len);
        rest = after;
        let from = sources[usize::from(selector % 6)];
        now += Duration::from_millis(u64::from(selector / 6) * 250);
        node.handle_datagram(from, datagram, now);
        if node.poll_timeout().is_some_and(|at| at <= now) {
            node.handle_timeout(now);
        }
        while let Some(transmit) = node.poll_transmit() {
            if let Err(e) = Message::decode(&transmit.contents) {
                panic!("the node sent invalid KRPC ({e}): {:?}", transmit.contents);
            }
        }
        while node.poll_event().is_some() {}
        let stats = node.stats();
        assert!(stats.stored_info_hashes <= config.max_info_hashes);
        assert!(stats.stored_peers <= config.max_info_hashes * config.max_peers_per_info_hash);
        assert!(stats.outstanding_queries <= config.max_outstanding_queries);
        assert!(stats.routing_nodes <= 160 * K);
        assert!(stats.tracked_sources <= config.max_tracked_sources);
    }
});
