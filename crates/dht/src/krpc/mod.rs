//! KRPC messages (BEP 5, with BEP 32's `nodes6`/`want`, BEP 42's `ip` and BEP 43's `ro`):
//! the message types and their canonical encoding; `decode.rs` holds the strict, bounded
//! decoder that borrows from the datagram.

use std::net::SocketAddr;

use torrentkit_bencode::{encode, Dict, Value};

use crate::compact::{self, NodeInfo};
use crate::id::NodeId;

mod decode;

pub use decode::query_transaction;

/// The longest datagram decoded; anything longer is refused before it is parsed. Real KRPC
/// messages stay under 1,500 bytes (one Ethernet frame).
pub const MAX_DATAGRAM_LEN: usize = 4096;
/// The most nodes accepted in one `nodes` or `nodes6` string (BEP 5 sends 8).
pub const MAX_NODES: usize = 32;
/// The most peers accepted in one `values` list.
pub const MAX_VALUES: usize = 200;
/// The longest transaction id accepted (BEP 5 uses 2 bytes).
pub const MAX_TRANSACTION_LEN: usize = 16;
/// The longest token accepted.
pub const MAX_TOKEN_LEN: usize = 64;

/// KRPC error code 201: generic error.
pub const ERROR_GENERIC: i64 = 201;
/// KRPC error code 202: server error.
pub const ERROR_SERVER: i64 = 202;
/// KRPC error code 203: protocol error (a malformed query, a bad token).
pub const ERROR_PROTOCOL: i64 = 203;
/// KRPC error code 204: method unknown.
pub const ERROR_METHOD_UNKNOWN: i64 = 204;

/// One KRPC message: a query, a response or an error, with its transaction id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    /// The transaction id (`t`) the querier chose; a response or error echoes it.
    pub transaction: &'a [u8],
    /// The sender's client version (`v`), if it gave one.
    pub version: Option<&'a [u8]>,
    /// BEP 42: in a response or error, the querier's address as the responder saw it (`ip`).
    pub ip: Option<SocketAddr>,
    /// BEP 43: the querier is read-only (`ro=1`) and must not be added to routing tables.
    pub read_only: bool,
    /// What the message says.
    pub body: Body<'a>,
}

/// The three kinds of KRPC message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body<'a> {
    /// A query (`y=q`) from the node `id`.
    Query {
        /// The querying node's id.
        id: NodeId,
        /// The method and its arguments.
        query: Query<'a>,
    },
    /// A response (`y=r`) from the node `id`; what it holds depends on the query it answers.
    Response {
        /// The responding node's id.
        id: NodeId,
        /// The response's fields.
        response: Response<'a>,
    },
    /// An error (`y=e`).
    Error {
        /// The error code (201 to 204 in BEP 5).
        code: i64,
        /// The error's text (not necessarily UTF-8).
        message: &'a [u8],
    },
}

/// Which address families a querier wants nodes for (BEP 32 `want`). Both `false` means the
/// querier did not say: it gets the family of the socket the query came on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Want {
    /// `n4`: IPv4 nodes in `nodes`.
    pub v4: bool,
    /// `n6`: IPv6 nodes in `nodes6`.
    pub v6: bool,
}

/// A query's method and arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query<'a> {
    /// `ping`.
    Ping,
    /// `find_node`: the nodes closest to `target`.
    FindNode {
        /// The id looked for.
        target: NodeId,
        /// BEP 32 families wanted.
        want: Want,
    },
    /// `get_peers`: peers of `info_hash`, or the nodes closest to it, and a token.
    GetPeers {
        /// The torrent's info-hash.
        info_hash: NodeId,
        /// BEP 32 families wanted.
        want: Want,
    },
    /// `announce_peer`: the querier downloads `info_hash` on `port`.
    AnnouncePeer {
        /// The torrent's info-hash.
        info_hash: NodeId,
        /// The port given (ignored when `implied_port` is set).
        port: u16,
        /// Use the query's source port instead of `port` (for peers behind NAT or on uTP).
        implied_port: bool,
        /// The token from an earlier `get_peers` response of the queried node.
        token: &'a [u8],
    },
}

/// The fields of a response; which are present depends on the query answered.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Response<'a> {
    /// IPv4 nodes (`nodes`).
    pub nodes: Vec<NodeInfo>,
    /// IPv6 nodes (`nodes6`, BEP 32).
    pub nodes6: Vec<NodeInfo>,
    /// Peers (`values`), IPv4 or IPv6.
    pub values: Vec<SocketAddr>,
    /// The token for a later `announce_peer` (`get_peers` responses).
    pub token: Option<&'a [u8]>,
}

impl Query<'_> {
    /// The method name as sent in `q`.
    pub fn method(&self) -> &'static str {
        match self {
            Query::Ping => "ping",
            Query::FindNode { .. } => "find_node",
            Query::GetPeers { .. } => "get_peers",
            Query::AnnouncePeer { .. } => "announce_peer",
        }
    }
}

impl Message<'_> {
    /// Encodes the message as canonical bencode.
    pub fn encode(&self) -> Vec<u8> {
        // Compact strings are built first so the value tree can borrow them.
        let ip = self.ip.as_ref().map(compact::peer_bytes);
        let (mut nodes, mut nodes6, mut values) = (Vec::new(), Vec::new(), Vec::new());
        let mut top = Dict::new();
        top.insert(b"t", Value::Bytes(self.transaction));
        if let Some(v) = self.version {
            top.insert(b"v", Value::Bytes(v));
        }
        if let Some(ip) = &ip {
            top.insert(b"ip", Value::Bytes(ip));
        }
        if self.read_only {
            top.insert(b"ro", Value::Int(1));
        }
        match &self.body {
            Body::Query { id, query } => {
                top.insert(b"y", Value::Bytes(b"q"));
                top.insert(b"q", Value::Bytes(query.method().as_bytes()));
                let mut args = Dict::new();
                args.insert(b"id", Value::Bytes(&id.0));
                match query {
                    Query::Ping => {}
                    Query::FindNode { target, want } => {
                        args.insert(b"target", Value::Bytes(&target.0));
                        insert_want(&mut args, *want);
                    }
                    Query::GetPeers { info_hash, want } => {
                        args.insert(b"info_hash", Value::Bytes(&info_hash.0));
                        insert_want(&mut args, *want);
                    }
                    Query::AnnouncePeer {
                        info_hash,
                        port,
                        implied_port,
                        token,
                    } => {
                        args.insert(b"info_hash", Value::Bytes(&info_hash.0));
                        args.insert(b"port", Value::Int(i64::from(*port)));
                        args.insert(b"token", Value::Bytes(token));
                        if *implied_port {
                            args.insert(b"implied_port", Value::Int(1));
                        }
                    }
                }
                top.insert(b"a", Value::Dict(args));
                encode(&Value::Dict(top))
            }
            Body::Response { id, response } => {
                for node in &response.nodes {
                    compact::put_node(node, &mut nodes);
                }
                for node in &response.nodes6 {
                    compact::put_node(node, &mut nodes6);
                }
                values.extend(response.values.iter().map(compact::peer_bytes));
                top.insert(b"y", Value::Bytes(b"r"));
                let mut r = Dict::new();
                r.insert(b"id", Value::Bytes(&id.0));
                if !response.nodes.is_empty() {
                    r.insert(b"nodes", Value::Bytes(&nodes));
                }
                if !response.nodes6.is_empty() {
                    r.insert(b"nodes6", Value::Bytes(&nodes6));
                }
                if !values.is_empty() {
                    r.insert(
                        b"values",
                        Value::List(values.iter().map(|v| Value::Bytes(v)).collect()),
                    );
                }
                if let Some(token) = response.token {
                    r.insert(b"token", Value::Bytes(token));
                }
                top.insert(b"r", Value::Dict(r));
                encode(&Value::Dict(top))
            }
            Body::Error { code, message } => {
                top.insert(b"y", Value::Bytes(b"e"));
                top.insert(
                    b"e",
                    Value::List(vec![Value::Int(*code), Value::Bytes(message)]),
                );
                encode(&Value::Dict(top))
            }
        }
    }
}

fn insert_want(args: &mut Dict<'_>, want: Want) {
    if want == Want::default() {
        return;
    }
    let mut list = Vec::new();
    if want.v4 {
        list.push(Value::Bytes(b"n4"));
    }
    if want.v6 {
        list.push(Value::Bytes(b"n6"));
    }
    args.insert(b"want", Value::List(list));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use proptest::prelude::*;
    use std::net::Ipv6Addr;

    fn any_id() -> impl Strategy<Value = NodeId> {
        any::<[u8; 20]>().prop_map(NodeId)
    }

    fn any_addr() -> impl Strategy<Value = SocketAddr> {
        prop_oneof![
            (any::<[u8; 4]>(), any::<u16>()).prop_map(|(ip, port)| SocketAddr::from((ip, port))),
            (any::<[u8; 16]>(), any::<u16>())
                .prop_map(|(ip, port)| SocketAddr::from((Ipv6Addr::from(ip), port))),
        ]
    }

    fn any_want() -> impl Strategy<Value = Want> {
        (any::<bool>(), any::<bool>()).prop_map(|(v4, v6)| Want { v4, v6 })
    }

    fn any_query() -> impl Strategy<Value = Query<'static>> {
        prop_oneof![
            Just(Query::Ping),
            (any_id(), any_want()).prop_map(|(target, want)| Query::FindNode { target, want }),
            (any_id(), any_want())
                .prop_map(|(info_hash, want)| Query::GetPeers { info_hash, want }),
            (
                any_id(),
                1u16..,
                any::<bool>(),
                prop::sample::select(vec![&b"tok"[..], &b"12345678"[..]])
            )
                .prop_map(|(info_hash, port, implied_port, token)| {
                    Query::AnnouncePeer {
                        info_hash,
                        port,
                        implied_port,
                        token,
                    }
                }),
        ]
    }

    fn any_node(v6: bool) -> impl Strategy<Value = NodeInfo> {
        (any_id(), any::<[u8; 16]>(), any::<u16>()).prop_map(move |(id, ip, port)| NodeInfo {
            id,
            addr: if v6 {
                SocketAddr::from((Ipv6Addr::from(ip), port))
            } else {
                SocketAddr::from(([ip[0], ip[1], ip[2], ip[3]], port))
            },
        })
    }

    fn any_body() -> impl Strategy<Value = Body<'static>> {
        prop_oneof![
            (any_id(), any_query()).prop_map(|(id, query)| Body::Query { id, query }),
            (
                any_id(),
                prop::collection::vec(any_node(false), 0..9),
                prop::collection::vec(any_node(true), 0..9),
                prop::collection::vec(any_addr(), 0..20),
                prop::option::of(Just(&b"a token"[..])),
            )
                .prop_map(|(id, nodes, nodes6, values, token)| Body::Response {
                    id,
                    response: Response {
                        nodes,
                        nodes6,
                        values,
                        token
                    },
                }),
            (201i64..=204, Just(&b"A Generic Error Ocurred"[..]))
                .prop_map(|(code, message)| Body::Error { code, message }),
        ]
    }

    proptest! {
        #[test]
        fn every_message_round_trips(
            body in any_body(),
            transaction in prop::sample::select(vec![&b"aa"[..], &b"\x00\xff"[..], &b"t1234567"[..]]),
            version in prop::option::of(Just(&b"TK01"[..])),
            ip in prop::option::of(any_addr()),
            read_only in any::<bool>(),
        ) {
            let message = Message { transaction, version, ip, read_only, body };
            let bytes = message.encode();
            prop_assert_eq!(Message::decode(&bytes), Ok(message));
        }

        #[test]
        fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            if let Err(e) = Message::decode(&bytes) {
                prop_assert!(e.to_string().starts_with("krpc: "));
            }
        }
    }

    #[test]
    fn bep5_examples_decode() {
        let ping =
            Message::decode(b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe").unwrap();
        assert_eq!(ping.transaction, b"aa");
        assert_eq!(
            ping.body,
            Body::Query {
                id: NodeId(*b"abcdefghij0123456789"),
                query: Query::Ping
            }
        );
        let announce = Message::decode(
            b"d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz123456\
              4:porti6881e5:token8:aoeusnthe1:q13:announce_peer1:t2:aa1:y1:qe",
        )
        .unwrap();
        assert!(matches!(
            announce.body,
            Body::Query {
                query: Query::AnnouncePeer {
                    port: 6881,
                    implied_port: false,
                    token: b"aoeusnth",
                    ..
                },
                ..
            }
        ));
        let error =
            Message::decode(b"d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee").unwrap();
        assert_eq!(
            error.body,
            Body::Error {
                code: 201,
                message: b"A Generic Error Ocurred"
            }
        );
    }

    #[test]
    fn bad_messages_name_the_field() {
        let short_id = Message::decode(b"d1:ad2:id3:abce1:q4:ping1:t2:aa1:y1:qe").unwrap_err();
        assert_eq!(
            short_id.to_string(),
            "krpc: ping: field `id` is 3 bytes, not 20"
        );
        let unknown = Message::decode(b"d1:ad2:id20:abcdefghij0123456789e1:q4:pong1:t2:aa1:y1:qe")
            .unwrap_err();
        assert_eq!(
            unknown,
            Error::UnknownMethod {
                method: b"pong".to_vec()
            }
        );
        let nodes = Message::decode(b"d1:rd2:id20:abcdefghij01234567895:nodes3:abce1:t2:aa1:y1:re")
            .unwrap_err();
        assert_eq!(
            nodes.to_string(),
            "krpc: response: field `nodes` is 3 bytes, not a multiple of 26"
        );
        let huge = vec![b'x'; MAX_DATAGRAM_LEN + 1];
        assert_eq!(
            Message::decode(&huge).unwrap_err(),
            Error::TooLong {
                length: MAX_DATAGRAM_LEN + 1,
                limit: MAX_DATAGRAM_LEN
            }
        );
        let no_port = Message::decode(
            b"d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234565:token1:xe\
              1:q13:announce_peer1:t2:aa1:y1:qe",
        )
        .unwrap_err();
        assert_eq!(
            no_port,
            Error::MissingField {
                message: "announce_peer",
                field: "port"
            }
        );
        // The transaction id of a broken query is still found, so it can be answered.
        assert_eq!(
            query_transaction(b"d1:ad2:id3:abce1:q4:ping1:t2:aa1:y1:qe"),
            Some(&b"aa"[..])
        );
        assert_eq!(query_transaction(b"d1:t2:aa1:y1:re"), None);
    }

    #[test]
    fn oversized_values_are_refused() {
        let mut r = Dict::new();
        r.insert(b"id", Value::Bytes(&[0; 20]));
        r.insert(
            b"values",
            Value::List(vec![Value::Bytes(&[1; 6]); MAX_VALUES + 1]),
        );
        let mut top = Dict::new();
        top.insert(b"r", Value::Dict(r));
        top.insert(b"t", Value::Bytes(b"aa"));
        top.insert(b"y", Value::Bytes(b"r"));
        let err = Message::decode(&encode(&Value::Dict(top))).unwrap_err();
        assert!(err.to_string().contains("over the limit of 200"), "{err}");
    }
}
