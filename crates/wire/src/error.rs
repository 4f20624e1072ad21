//! The error type of every decoder and encoder in the crate, naming the message and the field.

use std::fmt;

/// What went wrong while decoding or encoding peer wire data.
///
/// Each variant names the message (by name and id where there is one) and the value at fault, so
/// that a log line says exactly why a peer was disconnected. Running out of input is never an
/// error: decoders return [`Status::Incomplete`](crate::Status::Incomplete) instead.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The handshake does not start with the 19-byte string `BitTorrent protocol`.
    /// `pstrlen` is the first byte received; `pstr` the bytes that followed it (at most 19).
    WrongProtocol {
        /// The protocol-string length byte received.
        pstrlen: u8,
        /// The protocol string received, or its first 19 bytes.
        pstr: Vec<u8>,
    },
    /// A length prefix larger than the configured limit for that message. It is reported as soon
    /// as the prefix (and the id byte, where the limit depends on it) is read, before anything
    /// is buffered or allocated.
    MessageTooLong {
        /// The message's name, or `"message"` when the id was not yet known.
        message: &'static str,
        /// The message id, when it was known.
        id: Option<u8>,
        /// The declared length (id byte plus payload).
        length: u32,
        /// The limit it exceeds.
        limit: u32,
    },
    /// A fixed-size message whose length prefix is not the size the protocol gives it
    /// (a `have` that is not 5 bytes long, for example).
    WrongLength {
        /// The message's name.
        message: &'static str,
        /// The message id.
        id: u8,
        /// The declared length.
        length: u32,
        /// The length this message always has.
        expected: u32,
    },
    /// A variable-size message too short to hold its fixed fields (a `piece` under 9 bytes, an
    /// `extended` message without its extension id).
    TooShort {
        /// The message's name.
        message: &'static str,
        /// The message id.
        id: u8,
        /// The declared length.
        length: u32,
        /// The least length this message can have.
        minimum: u32,
    },
    /// A bitfield whose byte length does not match the torrent's piece count.
    BitfieldLength {
        /// The torrent's number of pieces.
        pieces: u32,
        /// The number of bytes that many pieces take (`ceil(pieces / 8)`).
        expected: usize,
        /// The number of bytes received.
        found: usize,
    },
    /// A bitfield with bits set past the last piece; BEP 3 says the spare bits must be zero.
    SpareBitsSet {
        /// The torrent's number of pieces.
        pieces: u32,
    },
    /// A piece index at or past the number of pieces.
    PieceOutOfRange {
        /// The index given.
        piece: u32,
        /// The number of pieces.
        pieces: u32,
    },
    /// A message too large to encode: its length does not fit the 32-bit length prefix.
    TooLongToEncode {
        /// The message's name.
        message: &'static str,
        /// Its length in bytes.
        length: usize,
    },
    /// The buffer given to [`Message::encode_to_slice`](crate::Message::encode_to_slice) is too
    /// short for the message.
    BufferTooSmall {
        /// The message's encoded length.
        needed: usize,
        /// The buffer's length.
        available: usize,
    },
    /// The bencoded dictionary of an extension message (BEP 10) could not be decoded.
    Bencode {
        /// The extension message, such as `"extended handshake"` or `"ut_metadata"`.
        message: &'static str,
        /// The bencode error, with its byte offset inside the message payload.
        source: torrentkit_bencode::Error,
    },
    /// An extension message is missing a field it requires.
    MissingField {
        /// The extension message.
        message: &'static str,
        /// The field's key.
        field: &'static str,
    },
    /// An extension message field has the wrong type or an impossible value.
    InvalidField {
        /// The extension message.
        message: &'static str,
        /// The field's key.
        field: &'static str,
        /// What is wrong with it, including the value found.
        problem: String,
    },
    /// A ut_metadata message (BEP 9) whose `msg_type` is not 0, 1 or 2. BEP 9 says such
    /// messages must be ignored, so callers can match on this variant and carry on.
    UnknownMetadataType {
        /// The `msg_type` received.
        msg_type: i64,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("wire: ")?;
        match self {
            Error::WrongProtocol { pstrlen, pstr } => write!(
                f,
                "handshake protocol is {:?} (length byte {pstrlen}), expected \"BitTorrent protocol\"",
                String::from_utf8_lossy(pstr)
            ),
            Error::MessageTooLong {
                message,
                id,
                length,
                limit,
            } => {
                write!(f, "{message}")?;
                if let Some(id) = id {
                    write!(f, " (id {id})")?;
                }
                write!(f, " declares {length} bytes, over the limit of {limit}")
            }
            Error::WrongLength {
                message,
                id,
                length,
                expected,
            } => write!(
                f,
                "{message} (id {id}) declares {length} bytes, but it is always {expected}"
            ),
            Error::TooShort {
                message,
                id,
                length,
                minimum,
            } => write!(
                f,
                "{message} (id {id}) declares {length} bytes, less than its minimum of {minimum}"
            ),
            Error::BitfieldLength {
                pieces,
                expected,
                found,
            } => write!(
                f,
                "bitfield has {found} bytes, but {pieces} pieces take {expected}"
            ),
            Error::SpareBitsSet { pieces } => {
                write!(f, "bitfield has spare bits set past piece {pieces}")
            }
            Error::PieceOutOfRange { piece, pieces } => {
                write!(f, "piece index {piece} is out of range ({pieces} pieces)")
            }
            Error::TooLongToEncode { message, length } => write!(
                f,
                "{message} of {length} bytes is too long for a 32-bit length prefix"
            ),
            Error::BufferTooSmall { needed, available } => write!(
                f,
                "message needs {needed} bytes, but the buffer holds {available}"
            ),
            Error::Bencode { message, source } => write!(f, "{message}: {source}"),
            Error::MissingField { message, field } => {
                write!(f, "{message}: missing field `{field}`")
            }
            Error::InvalidField {
                message,
                field,
                problem,
            } => write!(f, "{message}: field `{field}` {problem}"),
            Error::UnknownMetadataType { msg_type } => {
                write!(f, "ut_metadata: unknown msg_type {msg_type}")
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Bencode { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
