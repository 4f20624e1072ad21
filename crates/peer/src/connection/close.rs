//! Why a connection closed ([`CloseReason`]), and the rules a well-formed message can still
//! break ([`ProtocolViolation`]).

use std::fmt;

/// Why a connection closed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// The peer's handshake names another torrent.
    InfoHashMismatch,
    /// The peer is ourselves (same peer id).
    SelfConnection,
    /// The peer's bytes are not valid peer wire protocol; the codec's error names the message
    /// and the field.
    Wire(torrentkit_wire::Error),
    /// The peer sent a well-formed message that breaks the rules of this torrent or connection.
    Violation(ProtocolViolation),
    /// The peer took part in too many pieces that failed their hash check; it is banned.
    BadData,
    /// A timer ran out; the text says which.
    Timeout(&'static str),
    /// We closed it ([`Connection::close`](super::Connection::close)).
    Local,
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::InfoHashMismatch => f.write_str("peer handshake is for another torrent"),
            CloseReason::SelfConnection => f.write_str("connected to ourselves"),
            CloseReason::Wire(e) => write!(f, "protocol error: {e}"),
            CloseReason::Violation(v) => write!(f, "protocol error: {v}"),
            CloseReason::BadData => {
                f.write_str("protocol error: sent data that failed the hash check")
            }
            CloseReason::Timeout(what) => write!(f, "timed out: {what}"),
            CloseReason::Local => f.write_str("closed locally"),
        }
    }
}

impl From<torrentkit_wire::Error> for CloseReason {
    fn from(e: torrentkit_wire::Error) -> Self {
        CloseReason::Wire(e)
    }
}

impl From<ProtocolViolation> for CloseReason {
    fn from(v: ProtocolViolation) -> Self {
        CloseReason::Violation(v)
    }
}

/// A well-formed message that the peer may not send here.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolViolation {
    /// A message names a piece past the torrent's last one.
    PieceOutOfRange {
        /// The message (`"have"`, `"request"`, `"piece"`...).
        message: &'static str,
        /// The piece index it names.
        piece: u32,
        /// The torrent's piece count.
        pieces: u32,
    },
    /// A request for no bytes, or for more than the block limit.
    RequestLength {
        /// The length requested.
        length: u32,
    },
    /// A block that is not one of the torrent's blocks (wrong offset or length), so nobody
    /// requested it.
    UnrequestedBlock {
        /// Piece index.
        piece: u32,
        /// Offset in the piece.
        offset: u32,
        /// Its length.
        len: u32,
    },
}

impl fmt::Display for ProtocolViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolViolation::PieceOutOfRange {
                message,
                piece,
                pieces,
            } => write!(f, "{message} for piece {piece} of {pieces}"),
            ProtocolViolation::RequestLength { length } => write!(f, "request of {length} bytes"),
            ProtocolViolation::UnrequestedBlock { piece, offset, len } => write!(
                f,
                "unrequested block at piece {piece} offset {offset} of {len} bytes"
            ),
        }
    }
}
