//! The error of the KRPC decoder, naming the message and the field at fault.

use std::fmt;

/// Why a datagram is not a valid KRPC message.
///
/// Each variant names the message kind (`ping`, `get_peers`, `response`...) and the field, so a
/// counter or log line says exactly what a remote node got wrong. A node answers a query that
/// fails to decode with a KRPC error (code 203, or 204 for [`Error::UnknownMethod`]) and drops
/// anything else.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The datagram is longer than any KRPC message this crate accepts; it is refused before
    /// it is decoded.
    TooLong {
        /// The datagram's length.
        length: usize,
        /// The limit, [`MAX_DATAGRAM_LEN`](crate::MAX_DATAGRAM_LEN).
        limit: usize,
    },
    /// The datagram is not valid bencode (or nests deeper than a KRPC message can).
    Bencode(torrentkit_bencode::Error),
    /// The top-level value is not a dictionary.
    NotADictionary {
        /// The type found instead.
        found: &'static str,
    },
    /// A required key is missing.
    MissingField {
        /// The message kind.
        message: &'static str,
        /// The missing key.
        field: &'static str,
    },
    /// A key has the wrong type, a wrong length, or an impossible value.
    InvalidField {
        /// The message kind.
        message: &'static str,
        /// The key.
        field: &'static str,
        /// What is wrong, with the value or length found.
        problem: String,
    },
    /// The `y` key is not `q`, `r` or `e`.
    UnknownType {
        /// The `y` value received (at most its first 16 bytes).
        found: Vec<u8>,
    },
    /// A query whose method (`q`) this node does not know; answered with KRPC error 204.
    UnknownMethod {
        /// The method name received (at most its first 32 bytes).
        method: Vec<u8>,
    },
}

impl Error {
    pub(crate) fn invalid(message: &'static str, field: &'static str, problem: String) -> Self {
        Error::InvalidField {
            message,
            field,
            problem,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("krpc: ")?;
        match self {
            Error::TooLong { length, limit } => {
                write!(f, "datagram of {length} bytes is over the limit of {limit}")
            }
            Error::Bencode(source) => write!(f, "{source}"),
            Error::NotADictionary { found } => write!(f, "message is a {found}, not a dictionary"),
            Error::MissingField { message, field } => {
                write!(f, "{message}: missing field `{field}`")
            }
            Error::InvalidField {
                message,
                field,
                problem,
            } => write!(f, "{message}: field `{field}` {problem}"),
            Error::UnknownType { found } => {
                write!(
                    f,
                    "message type `{}` is not q, r or e",
                    found.escape_ascii()
                )
            }
            Error::UnknownMethod { method } => {
                write!(f, "unknown query method `{}`", method.escape_ascii())
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Bencode(source) => Some(source),
            _ => None,
        }
    }
}
