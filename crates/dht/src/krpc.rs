//! KRPC messages (BEP 5, with BEP 32's `nodes6`/`want`, BEP 42's `ip` and BEP 43's `ro`):
//! strict, bounded decoding that borrows from the datagram, and canonical encoding.

use std::net::SocketAddr;

use torrentkit_bencode::{decode_with, encode, DecodeOptions, Dict, Value};

use crate::compact::{self, NodeInfo, NODE_V4_LEN, NODE_V6_LEN};
use crate::error::Error;
use crate::id::NodeId;

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
/// KRPC messages nest three levels deep (message, arguments, `values` list); one spare level.
const MAX_DEPTH: usize = 4;

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

impl<'a> Message<'a> {
    /// Decodes one datagram. Lengths are checked before decoding and again per field
    /// ([`MAX_DATAGRAM_LEN`], [`MAX_NODES`], [`MAX_VALUES`], [`MAX_TRANSACTION_LEN`],
    /// [`MAX_TOKEN_LEN`]); unknown keys are ignored, as BEP 5 asks.
    pub fn decode(datagram: &'a [u8]) -> Result<Self, Error> {
        let top = decode_top(datagram)?;
        let transaction =
            bytes_field(&top, "message", "t", MAX_TRANSACTION_LEN)?.ok_or(Error::MissingField {
                message: "message",
                field: "t",
            })?;
        let version = bytes_field(&top, "message", "v", 64)?;
        let ip = match bytes_field(&top, "message", "ip", compact::PEER_V6_LEN)? {
            None => None,
            Some(bytes) => Some(compact::parse_peer(bytes).ok_or_else(|| {
                Error::invalid(
                    "message",
                    "ip",
                    format!("is {} bytes, not 6 or 18", bytes.len()),
                )
            })?),
        };
        let read_only = int_field(&top, "message", "ro")?.is_some_and(|ro| ro == 1);
        let kind = bytes_field(&top, "message", "y", 16)?.ok_or(Error::MissingField {
            message: "message",
            field: "y",
        })?;
        let body = match kind {
            b"q" => decode_query(&top)?,
            b"r" => decode_response(&top)?,
            b"e" => decode_error(&top)?,
            other => {
                return Err(Error::UnknownType {
                    found: other.to_vec(),
                })
            }
        };
        Ok(Message {
            transaction,
            version,
            ip,
            read_only,
            body,
        })
    }

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

/// The transaction id of a datagram that is a bencoded dictionary with `y=q` and a usable `t`,
/// even when the rest of it is malformed: the node answers such queries with a KRPC error.
pub fn query_transaction(datagram: &[u8]) -> Option<&[u8]> {
    let top = decode_top(datagram).ok()?;
    if top.get(b"y")?.as_bytes()? != b"q" {
        return None;
    }
    bytes_field(&top, "message", "t", MAX_TRANSACTION_LEN).ok()?
}

fn decode_top(datagram: &[u8]) -> Result<Dict<'_>, Error> {
    if datagram.len() > MAX_DATAGRAM_LEN {
        return Err(Error::TooLong {
            length: datagram.len(),
            limit: MAX_DATAGRAM_LEN,
        });
    }
    let options = DecodeOptions::strict().with_max_depth(MAX_DEPTH);
    match decode_with(datagram, &options).map_err(Error::Bencode)? {
        Value::Dict(top) => Ok(top),
        other => Err(Error::NotADictionary {
            found: other.type_name(),
        }),
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

fn decode_query<'a>(top: &Dict<'a>) -> Result<Body<'a>, Error> {
    let method = bytes_field(top, "query", "q", 32)?.ok_or(Error::MissingField {
        message: "query",
        field: "q",
    })?;
    let message: &'static str = match method {
        b"ping" => "ping",
        b"find_node" => "find_node",
        b"get_peers" => "get_peers",
        b"announce_peer" => "announce_peer",
        other => {
            return Err(Error::UnknownMethod {
                method: other.to_vec(),
            })
        }
    };
    let args = match top.get(b"a") {
        Some(Value::Dict(args)) => args,
        Some(other) => {
            return Err(Error::invalid(
                message,
                "a",
                format!("is a {}, not a dictionary", other.type_name()),
            ))
        }
        None => {
            return Err(Error::MissingField {
                message,
                field: "a",
            })
        }
    };
    let id = id_field(args, message, "id")?;
    let query = match message {
        "ping" => Query::Ping,
        "find_node" => Query::FindNode {
            target: id_field(args, message, "target")?,
            want: want_field(args, message)?,
        },
        "get_peers" => Query::GetPeers {
            info_hash: id_field(args, message, "info_hash")?,
            want: want_field(args, message)?,
        },
        _ => {
            let implied_port = int_field(args, message, "implied_port")?.is_some_and(|v| v == 1);
            let port = match int_field(args, message, "port")? {
                Some(port) => u16::try_from(port)
                    .ok()
                    .filter(|p| *p != 0 || implied_port)
                    .ok_or_else(|| {
                        Error::invalid(message, "port", format!("{port} is not a port"))
                    })?,
                None if implied_port => 0,
                None => {
                    return Err(Error::MissingField {
                        message,
                        field: "port",
                    })
                }
            };
            Query::AnnouncePeer {
                info_hash: id_field(args, message, "info_hash")?,
                port,
                implied_port,
                token: bytes_field(args, message, "token", MAX_TOKEN_LEN)?.ok_or(
                    Error::MissingField {
                        message,
                        field: "token",
                    },
                )?,
            }
        }
    };
    Ok(Body::Query { id, query })
}

fn decode_response<'a>(top: &Dict<'a>) -> Result<Body<'a>, Error> {
    const MESSAGE: &str = "response";
    let r = match top.get(b"r") {
        Some(Value::Dict(r)) => r,
        Some(other) => {
            return Err(Error::invalid(
                MESSAGE,
                "r",
                format!("is a {}, not a dictionary", other.type_name()),
            ))
        }
        None => {
            return Err(Error::MissingField {
                message: MESSAGE,
                field: "r",
            })
        }
    };
    let id = id_field(r, MESSAGE, "id")?;
    let nodes = nodes_field(r, "nodes", false)?;
    let nodes6 = nodes_field(r, "nodes6", true)?;
    let token = bytes_field(r, MESSAGE, "token", MAX_TOKEN_LEN)?;
    let values = match r.get(b"values") {
        None => Vec::new(),
        Some(Value::List(list)) => {
            if list.len() > MAX_VALUES {
                return Err(Error::invalid(
                    MESSAGE,
                    "values",
                    format!("holds {} peers, over the limit of {MAX_VALUES}", list.len()),
                ));
            }
            list.iter()
                .enumerate()
                .map(|(i, v)| {
                    v.as_bytes().and_then(compact::parse_peer).ok_or_else(|| {
                        Error::invalid(
                            MESSAGE,
                            "values",
                            format!("entry {i} is not a 6- or 18-byte compact peer"),
                        )
                    })
                })
                .collect::<Result<_, _>>()?
        }
        Some(other) => {
            return Err(Error::invalid(
                MESSAGE,
                "values",
                format!("is a {}, not a list", other.type_name()),
            ))
        }
    };
    Ok(Body::Response {
        id,
        response: Response {
            nodes,
            nodes6,
            values,
            token,
        },
    })
}

fn decode_error<'a>(top: &Dict<'a>) -> Result<Body<'a>, Error> {
    const MESSAGE: &str = "error";
    let malformed = || Error::invalid(MESSAGE, "e", "is not a list [code, message]".into());
    let list = match top.get(b"e") {
        Some(Value::List(list)) => list,
        Some(_) => return Err(malformed()),
        None => {
            return Err(Error::MissingField {
                message: MESSAGE,
                field: "e",
            })
        }
    };
    match list.as_slice() {
        [Value::Int(code), Value::Bytes(message)] => Ok(Body::Error {
            code: *code,
            message,
        }),
        _ => Err(malformed()),
    }
}

fn bytes_field<'a>(
    dict: &Dict<'a>,
    message: &'static str,
    field: &'static str,
    max_len: usize,
) -> Result<Option<&'a [u8]>, Error> {
    match dict.get(field.as_bytes()) {
        None => Ok(None),
        Some(Value::Bytes(bytes)) if bytes.len() <= max_len => Ok(Some(bytes)),
        Some(Value::Bytes(bytes)) => Err(Error::invalid(
            message,
            field,
            format!("is {} bytes long, over the limit of {max_len}", bytes.len()),
        )),
        Some(other) => Err(Error::invalid(
            message,
            field,
            format!("is a {}, not a byte string", other.type_name()),
        )),
    }
}

fn int_field(
    dict: &Dict<'_>,
    message: &'static str,
    field: &'static str,
) -> Result<Option<i64>, Error> {
    match dict.get(field.as_bytes()) {
        None => Ok(None),
        Some(Value::Int(i)) => Ok(Some(*i)),
        Some(other) => Err(Error::invalid(
            message,
            field,
            format!("is a {}, not an integer", other.type_name()),
        )),
    }
}

fn id_field(dict: &Dict<'_>, message: &'static str, field: &'static str) -> Result<NodeId, Error> {
    let bytes = bytes_field(dict, message, field, NodeId::LEN)?
        .ok_or(Error::MissingField { message, field })?;
    NodeId::from_slice(bytes)
        .ok_or_else(|| Error::invalid(message, field, format!("is {} bytes, not 20", bytes.len())))
}

fn nodes_field(r: &Dict<'_>, field: &'static str, v6: bool) -> Result<Vec<NodeInfo>, Error> {
    let entry = if v6 { NODE_V6_LEN } else { NODE_V4_LEN };
    let Some(bytes) = bytes_field(r, "response", field, MAX_NODES * entry)? else {
        return Ok(Vec::new());
    };
    compact::parse_nodes(bytes, v6).ok_or_else(|| {
        Error::invalid(
            "response",
            field,
            format!("is {} bytes, not a multiple of {entry}", bytes.len()),
        )
    })
}

fn want_field(args: &Dict<'_>, message: &'static str) -> Result<Want, Error> {
    let mut want = Want::default();
    match args.get(b"want") {
        None => {}
        Some(Value::List(list)) if list.len() <= 8 => {
            // Unknown families are ignored, so that a future `n8` does not break the query.
            for item in list {
                match item.as_bytes() {
                    Some(b"n4") => want.v4 = true,
                    Some(b"n6") => want.v6 = true,
                    _ => {}
                }
            }
        }
        Some(_) => {
            return Err(Error::invalid(
                message,
                "want",
                "is not a list of at most 8 families".into(),
            ))
        }
    }
    Ok(want)
}

#[cfg(test)]
mod tests {
    use super::*;
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
