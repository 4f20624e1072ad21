//! One node fed hand-made datagrams: bad input answered or dropped and counted, tokens,
//! `implied_port`, read-only nodes, BEP 42, and a flood that must leave its memory bounded.

// The measured numbers (rounds, queries, stored entries) are printed for the report.
#![allow(clippy::print_stderr)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use torrentkit_dht::{
    id_for_ip, Body, Config, Message, Node, NodeId, Query, Response, Want, ERROR_METHOD_UNKNOWN,
    ERROR_PROTOCOL, PEER_TTL,
};

fn node(tweak: impl FnOnce(&mut Config)) -> (Node, Instant) {
    let now = Instant::now();
    let mut config = Config::default();
    config.seed = 5;
    tweak(&mut config);
    (Node::new(config, now), now)
}

fn query(transaction: &[u8], id: NodeId, query: Query<'_>, read_only: bool) -> Vec<u8> {
    Message {
        transaction,
        version: None,
        ip: None,
        read_only,
        body: Body::Query { id, query },
    }
    .encode()
}

/// Every datagram the node wants to send, decoded by a test closure.
fn sent(node: &mut Node) -> Vec<(SocketAddr, Vec<u8>)> {
    std::iter::from_fn(|| node.poll_transmit())
        .map(|t| (t.destination, t.contents))
        .collect()
}

/// The one answer sent to `to` (the node may also send pings of its own).
fn reply(node: &mut Node, to: SocketAddr) -> Vec<u8> {
    let mut answers: Vec<Vec<u8>> = sent(node)
        .into_iter()
        .filter(|(dest, bytes)| {
            *dest == to && !matches!(Message::decode(bytes).unwrap().body, Body::Query { .. })
        })
        .map(|(_, bytes)| bytes)
        .collect();
    assert_eq!(answers.len(), 1, "one answer to {to}");
    answers.remove(0)
}

fn public(n: u32) -> SocketAddr {
    SocketAddr::from(([30, (n >> 16) as u8, (n >> 8) as u8, n as u8], 40000))
}

/// A node id that fits BEP 42 for `addr`.
fn id_of(addr: SocketAddr) -> NodeId {
    id_for_ip(addr.ip(), 3, &NodeId([0x11; 20]))
}

#[test]
fn a_malformed_query_is_answered_with_a_protocol_error_and_counted() {
    let (mut node, now) = node(|_| {});
    let from = public(1);
    node.handle_datagram(from, b"d1:ad2:id3:abce1:q4:ping1:t2:xy1:y1:qe", now);
    let replies = sent(&mut node);
    assert_eq!(replies.len(), 1);
    let reply = Message::decode(&replies[0].1).unwrap();
    assert_eq!(reply.transaction, b"xy");
    let Body::Error { code, message } = reply.body else {
        panic!("expected an error, got {reply:?}");
    };
    assert_eq!(code, ERROR_PROTOCOL);
    assert_eq!(message, b"krpc: ping: field `id` is 3 bytes, not 20");
    assert_eq!(node.stats().malformed, 1);
    assert_eq!(node.stats().errors_sent, 1);
}

#[test]
fn an_unknown_method_gets_error_204() {
    let (mut node, now) = node(|_| {});
    node.handle_datagram(
        public(1),
        b"d1:ad2:id20:abcdefghij0123456789e1:q4:vote1:t2:aa1:y1:qe",
        now,
    );
    let reply = sent(&mut node);
    let Body::Error { code, .. } = Message::decode(&reply[0].1).unwrap().body else {
        panic!("expected an error");
    };
    assert_eq!(code, ERROR_METHOD_UNKNOWN);
}

#[test]
fn garbage_and_unmatched_responses_are_dropped_and_counted() {
    let (mut node, now) = node(|_| {});
    for garbage in [
        &b""[..],
        b"i42e",
        b"d1:t2:aa1:y1:re",
        b"\xff\x00junk",
        b"d1:y1:q",
    ] {
        node.handle_datagram(public(1), garbage, now);
    }
    assert!(
        sent(&mut node).is_empty(),
        "nothing to answer: no usable transaction id"
    );
    assert_eq!(node.stats().malformed, 5);
    let response = Message {
        transaction: b"zz",
        version: None,
        ip: None,
        read_only: false,
        body: Body::Response {
            id: NodeId([1; 20]),
            response: Response::default(),
        },
    };
    node.handle_datagram(public(1), &response.encode(), now);
    assert_eq!(node.stats().unmatched, 1);
    assert_eq!(
        node.stats().routing_nodes,
        0,
        "an unasked-for response teaches nothing"
    );
}

#[test]
fn a_response_must_come_from_the_address_asked() {
    let (mut node, now) = node(|_| {});
    let asked = public(7);
    node.add_node(asked, now);
    let (to, ping) = sent(&mut node).remove(0);
    assert_eq!(to, asked);
    let transaction = Message::decode(&ping).unwrap().transaction.to_vec();
    let response = Message {
        transaction: &transaction,
        version: None,
        ip: None,
        read_only: false,
        body: Body::Response {
            id: id_of(asked),
            response: Response::default(),
        },
    }
    .encode();
    node.handle_datagram(public(8), &response, now);
    assert_eq!(
        (node.stats().unmatched, node.stats().routing_nodes),
        (1, 0),
        "forged source"
    );
    node.handle_datagram(asked, &response, now);
    assert_eq!(node.stats().routing_nodes, 1);
    assert_eq!(node.nodes()[0].addr, asked);
}

#[test]
fn announce_needs_a_token_and_implied_port_takes_the_source_port() {
    let (mut node, now) = node(|_| {});
    let (peer, other) = (public(1), public(2));
    let info_hash = NodeId([0xab; 20]);
    let get = Query::GetPeers {
        info_hash,
        want: Want::default(),
    };
    node.handle_datagram(peer, &query(b"g1", id_of(peer), get, false), now);
    let reply = sent(&mut node).remove(0).1;
    let reply = Message::decode(&reply).unwrap();
    assert_eq!(
        reply.ip,
        Some(peer),
        "BEP 42: the querier learns its address"
    );
    let Body::Response { response, .. } = reply.body else {
        panic!("expected a response")
    };
    let token = response
        .token
        .expect("get_peers answers carry a token")
        .to_vec();

    // Someone else cannot use that token.
    let announce = |port, implied_port, token| Query::AnnouncePeer {
        info_hash,
        port,
        implied_port,
        token,
    };
    node.handle_datagram(
        other,
        &query(b"a0", id_of(other), announce(6881, false, &token), false),
        now,
    );
    let Body::Error { code, .. } = Message::decode(&sent(&mut node)[0].1).unwrap().body else {
        panic!("expected an error")
    };
    assert_eq!(code, ERROR_PROTOCOL);
    assert_eq!(node.stats().bad_tokens, 1);

    node.handle_datagram(
        peer,
        &query(b"a1", id_of(peer), announce(6881, true, &token), false),
        now,
    );
    assert!(matches!(
        Message::decode(&sent(&mut node)[0].1).unwrap().body,
        Body::Response { .. }
    ));
    assert_eq!(node.stats().stored_peers, 1);

    // The stored peer is the querier's address with its source port (implied_port).
    let get = Query::GetPeers {
        info_hash,
        want: Want::default(),
    };
    node.handle_datagram(other, &query(b"g2", id_of(other), get, false), now);
    let reply = sent(&mut node).remove(0).1;
    let Body::Response { response, .. } = Message::decode(&reply).unwrap().body else {
        panic!()
    };
    assert_eq!(response.values, vec![peer]);

    // Thirty minutes later the peer is gone.
    node.handle_timeout(now + PEER_TTL + Duration::from_secs(61));
    assert_eq!(node.stats().stored_peers, 0);
}

#[test]
fn read_only_queriers_stay_out_of_the_table_and_read_only_nodes_do_not_answer() {
    let (mut node, now) = node(|_| {});
    let (ro, rw) = (public(1), public(2));
    node.handle_datagram(ro, &query(b"p1", id_of(ro), Query::Ping, true), now);
    node.handle_datagram(rw, &query(b"p2", id_of(rw), Query::Ping, false), now);
    assert_eq!(sent(&mut node).len(), 2, "both are answered");
    assert_eq!(
        node.nodes().iter().map(|n| n.addr).collect::<Vec<_>>(),
        vec![rw]
    );

    let (mut quiet, now) = self::node(|c| c.read_only = true);
    quiet.handle_datagram(rw, &query(b"p3", id_of(rw), Query::Ping, false), now);
    assert!(sent(&mut quiet).is_empty());
    assert_eq!(quiet.stats().read_only_dropped, 1);
    quiet.find_node(NodeId([9; 20]), now);
    quiet.add_node(rw, now);
    let out = sent(&mut quiet);
    assert!(
        out.iter()
            .all(|(_, q)| Message::decode(q).unwrap().read_only),
        "its queries say ro=1"
    );
}

#[test]
fn bep42_keeps_ids_that_do_not_fit_a_public_address_out_but_not_loopback_ones() {
    let (mut node, now) = node(|_| {});
    let public_addr = public(3);
    node.handle_datagram(
        public_addr,
        &query(b"p1", NodeId([0x42; 20]), Query::Ping, false),
        now,
    );
    assert_eq!(
        (node.stats().routing_nodes, node.stats().bad_node_ids),
        (0, 1)
    );
    let loopback = SocketAddr::from(([127, 0, 0, 1], 7000));
    node.handle_datagram(
        loopback,
        &query(b"p2", NodeId([0x42; 20]), Query::Ping, false),
        now,
    );
    assert_eq!(node.stats().routing_nodes, 1);
    // Our own id fits our external address when it is known.
    let (mine, _) = self::node(|c| c.external_ip = Some(public_addr.ip()));
    assert!(torrentkit_dht::id_matches_ip(&mine.id(), public_addr.ip()));
}

/// A flood of queries from 600 addresses (get_peers and announces for 6,000 distinct
/// info-hashes, 500 peers on one of them) and one address sending 2,000 queries in a second:
/// every table stays within its documented cap, and the flooder is throttled.
#[test]
fn memory_stays_bounded_under_a_query_flood() {
    let (mut node, now) = node(|_| {});
    let config = Config::default();
    let mut datagrams = 0;
    for n in 0..600u32 {
        let from = public(100 + n);
        let t = now + Duration::from_millis(u64::from(n));
        let get = Query::GetPeers {
            info_hash: NodeId([0; 20]),
            want: Want::default(),
        };
        node.handle_datagram(from, &query(b"g", id_of(from), get, false), t);
        let reply = reply(&mut node, from);
        let Body::Response { response, .. } = Message::decode(&reply).unwrap().body else {
            panic!()
        };
        let token = response.token.unwrap().to_vec();
        for k in 0..11u32 {
            // Ten new info-hashes from each address, and one that everybody announces.
            let mut info_hash = [0; 20];
            if k < 10 {
                info_hash[..4].copy_from_slice(&(n * 10 + k + 1).to_be_bytes());
            }
            let announce = Query::AnnouncePeer {
                info_hash: NodeId(info_hash),
                port: 1 + n as u16,
                implied_port: false,
                token: &token,
            };
            node.handle_datagram(from, &query(b"a", id_of(from), announce, false), t);
            datagrams += 1;
        }
        sent(&mut node);
    }
    let flooder = public(99);
    for i in 0..2000u32 {
        let find = Query::FindNode {
            target: NodeId([i as u8; 20]),
            want: Want::default(),
        };
        node.handle_datagram(
            flooder,
            &query(b"f", id_of(flooder), find, false),
            now + Duration::from_secs(1),
        );
    }
    let answered = sent(&mut node)
        .iter()
        .filter(|(to, _)| *to == flooder)
        .count();
    let stats = node.stats();
    eprintln!(
        "flood of {} queries: {} info-hashes and {} peers stored, {} announces refused, {} routing nodes, \
         {} sources tracked, {} pings out, {} throttled, {answered} of the flooder's 2,000 answered",
        datagrams + 600 + 2000,
        stats.stored_info_hashes,
        stats.stored_peers,
        stats.announces_refused,
        stats.routing_nodes,
        stats.tracked_sources,
        stats.outstanding_queries,
        stats.throttled
    );
    assert_eq!(stats.stored_info_hashes, config.max_info_hashes);
    assert!(
        stats.announces_refused >= 6000 - 2000,
        "{}",
        stats.announces_refused
    );
    assert!(stats.stored_peers <= config.max_info_hashes + config.max_peers_per_info_hash);
    assert_eq!(answered, config.answers_per_second as usize);
    assert_eq!(stats.throttled, 2000 - u64::from(config.answers_per_second));
    assert!(stats.routing_nodes <= 160 * torrentkit_dht::K);
    assert!(stats.tracked_sources <= config.max_tracked_sources);
    assert!(
        stats.outstanding_queries <= config.max_outstanding_queries / 2,
        "pings take half at most"
    );
    // The shared info-hash kept only its cap of peers, and answers carry at most 50 of them.
    let get = Query::GetPeers {
        info_hash: NodeId([0; 20]),
        want: Want::default(),
    };
    node.handle_datagram(
        public(5000),
        &query(b"g", id_of(public(5000)), get, false),
        now + Duration::from_secs(3),
    );
    let reply = reply(&mut node, public(5000));
    assert!(
        reply.len() < 1500,
        "an answer fits one datagram: {} bytes",
        reply.len()
    );
    let Body::Response { response, .. } = Message::decode(&reply).unwrap().body else {
        panic!()
    };
    assert_eq!(response.values.len(), config.max_values_per_answer);
    // Half an hour later, everything announced has expired.
    node.handle_timeout(now + PEER_TTL + Duration::from_secs(120));
    assert_eq!(
        (node.stats().stored_peers, node.stats().stored_info_hashes),
        (0, 0)
    );
}

/// An IPv6 address in its own /64 (BEP 42 derives IPv6 ids from the first 64 bits).
fn v6(n: u16) -> SocketAddr {
    SocketAddr::from((
        std::net::Ipv6Addr::new(0x2001, 0xdb8, n, 0, 0, 0, 0, 1),
        6881,
    ))
}

#[test]
fn ipv6_nodes_answer_with_nodes6_and_honour_want() {
    let (mut node, now) = node(|c| c.ipv6 = true);
    let (known, asker) = (v6(1), v6(2));
    node.handle_datagram(known, &query(b"p1", id_of(known), Query::Ping, false), now);
    assert_eq!(node.stats().routing_nodes, 1);
    let find = |want| Query::FindNode {
        target: NodeId([0; 20]),
        want,
    };
    node.handle_datagram(
        asker,
        &query(b"f1", id_of(asker), find(Want::default()), false),
        now,
    );
    let answer = reply(&mut node, asker);
    let Body::Response { response, .. } = Message::decode(&answer).unwrap().body else {
        panic!()
    };
    assert!(response.nodes.is_empty());
    assert_eq!(
        response.nodes6.iter().map(|n| n.addr).collect::<Vec<_>>(),
        vec![known]
    );
    // `want: n4` asks for IPv4 nodes only, which an IPv6 node does not have.
    node.handle_datagram(
        asker,
        &query(
            b"f2",
            id_of(asker),
            find(Want {
                v4: true,
                v6: false,
            }),
            false,
        ),
        now,
    );
    let answer = reply(&mut node, asker);
    let Body::Response { response, .. } = Message::decode(&answer).unwrap().body else {
        panic!()
    };
    assert!(response.nodes.is_empty() && response.nodes6.is_empty());
}

#[test]
fn an_ipv6_lookup_follows_nodes6() {
    let (mut node, now) = node(|c| c.ipv6 = true);
    let (router, next) = (v6(1), v6(3));
    node.bootstrap(&[router], now);
    let (to, bytes) = sent(&mut node).remove(0);
    assert_eq!(to, router);
    let transaction = Message::decode(&bytes).unwrap().transaction.to_vec();
    let nodes6 = vec![torrentkit_dht::NodeInfo {
        id: id_of(next),
        addr: next,
    }];
    let response = Message {
        transaction: &transaction,
        version: None,
        ip: Some(v6(9)),
        read_only: false,
        body: Body::Response {
            id: id_of(router),
            response: Response {
                nodes6,
                ..Response::default()
            },
        },
    };
    node.handle_datagram(router, &response.encode(), now);
    let asked: Vec<SocketAddr> = sent(&mut node).into_iter().map(|(to, _)| to).collect();
    assert_eq!(asked, vec![next], "the node from nodes6 is asked next");
}

#[test]
fn the_external_address_is_learnt_from_three_responders() {
    let (mut node, now) = node(|_| {});
    assert_eq!(node.external_ip(), None);
    let ours = SocketAddr::from(([198, 51, 100, 1], 6881));
    for n in 1..=3 {
        let responder = public(n);
        node.add_node(responder, now);
        let (_, ping) = sent(&mut node).remove(0);
        let transaction = Message::decode(&ping).unwrap().transaction.to_vec();
        let pong = Message {
            transaction: &transaction,
            version: None,
            ip: Some(ours),
            read_only: false,
            body: Body::Response {
                id: id_of(responder),
                response: Response::default(),
            },
        };
        node.handle_datagram(responder, &pong.encode(), now);
        let expected = (n == 3).then_some(ours.ip());
        assert_eq!(node.external_ip(), expected, "after {n} reports");
    }
}

#[test]
fn a_token_older_than_ten_minutes_is_refused() {
    let (mut node, now) = node(|_| {});
    let peer = public(1);
    let info_hash = NodeId([0xcd; 20]);
    let get = Query::GetPeers {
        info_hash,
        want: Want::default(),
    };
    node.handle_datagram(peer, &query(b"g1", id_of(peer), get, false), now);
    let answer = reply(&mut node, peer);
    let Body::Response { response, .. } = Message::decode(&answer).unwrap().body else {
        panic!()
    };
    let token = response.token.unwrap().to_vec();
    let later = now + Duration::from_secs(10 * 60);
    node.handle_timeout(later);
    let announce = Query::AnnouncePeer {
        info_hash,
        port: 6881,
        implied_port: false,
        token: &token,
    };
    node.handle_datagram(peer, &query(b"a1", id_of(peer), announce, false), later);
    let answer = reply(&mut node, peer);
    assert!(matches!(
        Message::decode(&answer).unwrap().body,
        Body::Error {
            code: ERROR_PROTOCOL,
            ..
        }
    ));
    assert_eq!((node.stats().bad_tokens, node.stats().stored_peers), (1, 0));
}

#[test]
fn a_bucket_quiet_for_fifteen_minutes_is_refreshed_with_a_find_node() {
    let (mut node, now) = node(|_| {});
    let known = public(1);
    node.handle_datagram(known, &query(b"p1", id_of(known), Query::Ping, false), now);
    sent(&mut node);
    let due = node.poll_timeout().unwrap();
    assert!(due <= now + torrentkit_dht::QUESTIONABLE_AFTER);
    node.handle_timeout(now + torrentkit_dht::QUESTIONABLE_AFTER);
    let out = sent(&mut node);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].0, known);
    let message = Message::decode(&out[0].1).unwrap();
    assert!(
        matches!(
            message.body,
            Body::Query {
                query: Query::FindNode { .. },
                ..
            }
        ),
        "{message:?}"
    );
}
