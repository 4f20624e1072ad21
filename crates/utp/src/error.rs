//! The errors of the packet decoder and of the endpoint's commands.

use std::fmt;

/// Why a datagram is not a valid uTP packet, or why a command failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The datagram is shorter than the 20-byte header.
    ShortHeader {
        /// The datagram's length.
        length: usize,
    },
    /// The version nibble is not 1.
    UnknownVersion {
        /// The version found.
        version: u8,
    },
    /// The type nibble is not one of the five BEP 29 types.
    UnknownType {
        /// The type found.
        packet_type: u8,
    },
    /// An extension header or body runs past the end of the datagram.
    TruncatedExtension {
        /// Where the extension starts.
        offset: usize,
    },
    /// More than [`MAX_EXTENSIONS`](crate::MAX_EXTENSIONS) extensions are chained.
    TooManyExtensions {
        /// Where the one over the limit starts.
        offset: usize,
    },
    /// A selective-ack extension with an empty bitmask.
    BadSackLength {
        /// Its length in bytes.
        length: usize,
    },
    /// A packet type that carries no payload (STATE) has bytes after its header.
    PayloadNotAllowed {
        /// The packet type.
        packet_type: &'static str,
        /// How many bytes follow the header.
        length: usize,
    },
    /// The endpoint already holds [`Config::max_connections`](crate::Config::max_connections)
    /// connections.
    TooManyConnections {
        /// The limit.
        limit: usize,
    },
    /// The handle names no connection of this endpoint (it was closed and removed).
    UnknownConnection,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::ShortHeader { length } => {
                write!(
                    f,
                    "utp: datagram of {length} bytes is shorter than the 20-byte header"
                )
            }
            Error::UnknownVersion { version } => {
                write!(f, "utp: unknown version {version} at byte 0")
            }
            Error::UnknownType { packet_type } => {
                write!(f, "utp: unknown packet type {packet_type} at byte 0")
            }
            Error::TruncatedExtension { offset } => {
                write!(
                    f,
                    "utp: extension at byte {offset} runs past the end of the datagram"
                )
            }
            Error::TooManyExtensions { offset } => {
                write!(
                    f,
                    "utp: too many extensions, the one at byte {offset} is over the limit"
                )
            }
            Error::BadSackLength { length } => write!(
                f,
                "utp: selective-ack bitmask of {length} bytes (at least 1)"
            ),
            Error::PayloadNotAllowed {
                packet_type,
                length,
            } => {
                write!(
                    f,
                    "utp: {packet_type} packet carries {length} bytes of payload"
                )
            }
            Error::TooManyConnections { limit } => {
                write!(
                    f,
                    "utp: the endpoint holds its limit of {limit} connections"
                )
            }
            Error::UnknownConnection => write!(f, "utp: no such connection"),
        }
    }
}

impl std::error::Error for Error {}
