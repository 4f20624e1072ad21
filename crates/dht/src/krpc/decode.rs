//! Strict, bounded KRPC decoding: lengths checked before and while decoding, every field's
//! type checked, errors naming the message and the field.

use torrentkit_bencode::{decode_with, DecodeOptions, Dict, Value};

use super::{
    Body, Message, Query, Response, Want, MAX_DATAGRAM_LEN, MAX_NODES, MAX_TOKEN_LEN,
    MAX_TRANSACTION_LEN, MAX_VALUES,
};
use crate::compact::{self, NodeInfo, NODE_V4_LEN, NODE_V6_LEN};
use crate::error::Error;
use crate::id::NodeId;

/// KRPC messages nest three levels deep (message, arguments, `values` list); one spare level.
const MAX_DEPTH: usize = 4;

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
