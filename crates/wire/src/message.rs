//! The length-prefixed messages after the handshake (BEP 3, BEP 6, BEP 10) and their encoding.

use crate::error::{Error, Result};

/// The message ids of BEP 3, BEP 5, BEP 6, BEP 10 and BEP 52.
pub mod id {
    /// `choke` (BEP 3).
    pub const CHOKE: u8 = 0;
    /// `unchoke` (BEP 3).
    pub const UNCHOKE: u8 = 1;
    /// `interested` (BEP 3).
    pub const INTERESTED: u8 = 2;
    /// `not interested` (BEP 3).
    pub const NOT_INTERESTED: u8 = 3;
    /// `have` (BEP 3).
    pub const HAVE: u8 = 4;
    /// `bitfield` (BEP 3).
    pub const BITFIELD: u8 = 5;
    /// `request` (BEP 3).
    pub const REQUEST: u8 = 6;
    /// `piece` (BEP 3).
    pub const PIECE: u8 = 7;
    /// `cancel` (BEP 3).
    pub const CANCEL: u8 = 8;
    /// `port` (BEP 5).
    pub const PORT: u8 = 9;
    /// `suggest piece` (BEP 6).
    pub const SUGGEST_PIECE: u8 = 0x0d;
    /// `have all` (BEP 6).
    pub const HAVE_ALL: u8 = 0x0e;
    /// `have none` (BEP 6).
    pub const HAVE_NONE: u8 = 0x0f;
    /// `reject request` (BEP 6).
    pub const REJECT_REQUEST: u8 = 0x10;
    /// `allowed fast` (BEP 6).
    pub const ALLOWED_FAST: u8 = 0x11;
    /// `extended` (BEP 10).
    pub const EXTENDED: u8 = 20;
    /// `hash request` (BEP 52).
    pub const HASH_REQUEST: u8 = 21;
    /// `hashes` (BEP 52).
    pub const HASHES: u8 = 22;
    /// `hash reject` (BEP 52).
    pub const HASH_REJECT: u8 = 23;
}

/// A block of a piece: what `request`, `cancel` and `reject request` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlockRequest {
    /// The piece index.
    pub index: u32,
    /// The byte offset of the block inside the piece.
    pub begin: u32,
    /// The block's length in bytes (16 KiB in practice).
    pub length: u32,
}

/// One peer wire message, borrowing its variable-size payload from the decoded buffer.
///
/// Which messages a peer may send depends on the extensions both sides announced in the
/// handshake (the BEP 6 messages need [`Reserved::fast`](crate::Reserved::fast) on both sides):
/// the codec decodes them all and leaves that check to the connection logic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Message<'a> {
    /// A zero-length message: keeps an idle connection open.
    KeepAlive,
    /// The sender will not serve requests.
    Choke,
    /// The sender will serve requests.
    Unchoke,
    /// The sender wants pieces the receiver has.
    Interested,
    /// The sender wants nothing from the receiver.
    NotInterested,
    /// The sender has completed and verified this piece.
    Have {
        /// The piece index.
        piece: u32,
    },
    /// The pieces the sender has, one bit per piece, high bit first; validate it against the
    /// torrent's piece count with [`Bitfield::from_bytes`](crate::Bitfield::from_bytes).
    Bitfield(&'a [u8]),
    /// A request for a block.
    Request(BlockRequest),
    /// A block of data.
    Piece {
        /// The piece index.
        index: u32,
        /// The byte offset of the block inside the piece.
        begin: u32,
        /// The block's bytes.
        block: &'a [u8],
    },
    /// Withdraws a request.
    Cancel(BlockRequest),
    /// The sender's DHT port (BEP 5).
    Port(u16),
    /// The sender suggests downloading this piece (BEP 6).
    SuggestPiece {
        /// The piece index.
        piece: u32,
    },
    /// The sender has every piece (BEP 6), in place of a bitfield.
    HaveAll,
    /// The sender has no piece (BEP 6), in place of a bitfield.
    HaveNone,
    /// The sender will not serve this request (BEP 6).
    RejectRequest(BlockRequest),
    /// The receiver may request this piece even while choked (BEP 6).
    AllowedFast {
        /// The piece index.
        piece: u32,
    },
    /// An extension protocol message (BEP 10); decode the payload with
    /// [`ExtendedMessage::decode`](crate::ExtendedMessage::decode).
    Extended {
        /// The extension message id: 0 for the extended handshake, otherwise the id the
        /// receiver assigned in its own handshake's `m` dictionary.
        id: u8,
        /// The payload after the extension id.
        payload: &'a [u8],
    },
    /// A message with an id this crate does not know (BEP 52 hash messages, for example).
    /// Peers are expected to ignore these; they are framed correctly, so the stream goes on.
    Unknown {
        /// The message id.
        id: u8,
        /// The payload after the id.
        payload: &'a [u8],
    },
}

impl Message<'_> {
    /// The message id, or `None` for keep-alive.
    pub fn id(&self) -> Option<u8> {
        Some(match self {
            Message::KeepAlive => return None,
            Message::Choke => id::CHOKE,
            Message::Unchoke => id::UNCHOKE,
            Message::Interested => id::INTERESTED,
            Message::NotInterested => id::NOT_INTERESTED,
            Message::Have { .. } => id::HAVE,
            Message::Bitfield(_) => id::BITFIELD,
            Message::Request(_) => id::REQUEST,
            Message::Piece { .. } => id::PIECE,
            Message::Cancel(_) => id::CANCEL,
            Message::Port(_) => id::PORT,
            Message::SuggestPiece { .. } => id::SUGGEST_PIECE,
            Message::HaveAll => id::HAVE_ALL,
            Message::HaveNone => id::HAVE_NONE,
            Message::RejectRequest(_) => id::REJECT_REQUEST,
            Message::AllowedFast { .. } => id::ALLOWED_FAST,
            Message::Extended { .. } => id::EXTENDED,
            Message::Unknown { id, .. } => *id,
        })
    }

    /// The message's name as the BEPs write it, for logs and errors.
    pub fn name(&self) -> &'static str {
        match self.id() {
            None => "keep-alive",
            Some(id) => name_of(id),
        }
    }

    /// The number of bytes [`encode`](Self::encode) writes, length prefix included.
    pub fn encoded_len(&self) -> usize {
        4 + self.body_len()
    }

    /// The length the prefix declares: id byte plus payload.
    fn body_len(&self) -> usize {
        match self {
            Message::KeepAlive => 0,
            Message::Choke
            | Message::Unchoke
            | Message::Interested
            | Message::NotInterested
            | Message::HaveAll
            | Message::HaveNone => 1,
            Message::Have { .. } | Message::SuggestPiece { .. } | Message::AllowedFast { .. } => 5,
            Message::Port(_) => 3,
            Message::Request(_) | Message::Cancel(_) | Message::RejectRequest(_) => 13,
            Message::Bitfield(bits) => 1 + bits.len(),
            Message::Piece { block, .. } => 9 + block.len(),
            Message::Extended { payload, .. } => 2 + payload.len(),
            Message::Unknown { payload, .. } => 1 + payload.len(),
        }
    }

    /// Appends this message, length prefix first, to `out`.
    ///
    /// Fails only for a payload so large that its length does not fit in 32 bits.
    ///
    /// ```
    /// use torrentkit_wire::Message;
    /// let mut out = Vec::new();
    /// Message::Have { piece: 258 }.encode(&mut out)?;
    /// assert_eq!(out, [0, 0, 0, 5, 4, 0, 0, 1, 2]);
    /// # Ok::<(), torrentkit_wire::Error>(())
    /// ```
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        let prefix = self.prefix()?;
        out.reserve(4 + prefix as usize);
        self.write_parts(prefix, |part| out.extend_from_slice(part));
        Ok(())
    }

    /// Writes this message, length prefix first, at the start of `buf` (a fixed send buffer);
    /// returns the number of bytes written.
    ///
    /// Fails with [`Error::BufferTooSmall`], writing nothing, if `buf` is shorter than
    /// [`encoded_len`](Self::encoded_len).
    ///
    /// ```
    /// use torrentkit_wire::{BlockRequest, Message};
    /// let mut buf = [0u8; 64];
    /// let request = Message::Request(BlockRequest { index: 1, begin: 0, length: 16384 });
    /// let n = request.encode_to_slice(&mut buf)?;
    /// assert_eq!(&buf[..n], request.to_vec()?);
    /// assert!(request.encode_to_slice(&mut buf[..10]).is_err());
    /// # Ok::<(), torrentkit_wire::Error>(())
    /// ```
    pub fn encode_to_slice(&self, buf: &mut [u8]) -> Result<usize> {
        let prefix = self.prefix()?;
        let len = 4 + prefix as usize;
        if buf.len() < len {
            return Err(Error::BufferTooSmall {
                needed: len,
                available: buf.len(),
            });
        }
        let mut at = 0;
        self.write_parts(prefix, |part| {
            buf[at..at + part.len()].copy_from_slice(part);
            at += part.len();
        });
        Ok(len)
    }

    /// The length prefix, or an error if the message is too long for one.
    fn prefix(&self) -> Result<u32> {
        let body = self.body_len();
        u32::try_from(body).map_err(|_| Error::TooLongToEncode {
            message: self.name(),
            length: body,
        })
    }

    /// Hands the message's bytes, in order, to `put`.
    fn write_parts(&self, prefix: u32, mut put: impl FnMut(&[u8])) {
        put(&prefix.to_be_bytes());
        let Some(id) = self.id() else {
            return;
        };
        put(&[id]);
        match *self {
            Message::KeepAlive
            | Message::Choke
            | Message::Unchoke
            | Message::Interested
            | Message::NotInterested
            | Message::HaveAll
            | Message::HaveNone => {}
            Message::Have { piece }
            | Message::SuggestPiece { piece }
            | Message::AllowedFast { piece } => put(&piece.to_be_bytes()),
            Message::Port(port) => put(&port.to_be_bytes()),
            Message::Request(r) | Message::Cancel(r) | Message::RejectRequest(r) => {
                put(&r.index.to_be_bytes());
                put(&r.begin.to_be_bytes());
                put(&r.length.to_be_bytes());
            }
            Message::Bitfield(bits) => put(bits),
            Message::Piece {
                index,
                begin,
                block,
            } => {
                put(&index.to_be_bytes());
                put(&begin.to_be_bytes());
                put(block);
            }
            Message::Extended { id, payload } => {
                put(&[id]);
                put(payload);
            }
            Message::Unknown { payload, .. } => put(payload),
        }
    }

    /// This message encoded into a new vector.
    pub fn to_vec(&self) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode(&mut out)?;
        Ok(out)
    }
}

/// The 13 bytes that precede a block in a `piece` message: length prefix, id 7, index, begin.
///
/// Write these and then the block itself (with a vectored write, `writev`/`write_vectored`), so
/// the block goes from the disk cache to the socket without being copied into a message buffer.
///
/// ```
/// use torrentkit_wire::{piece_header, Message};
/// let block = vec![0xab; 16384];
/// let header = piece_header(3, 16384, block.len())?;
/// let mut whole = Vec::new();
/// Message::Piece { index: 3, begin: 16384, block: &block }.encode(&mut whole)?;
/// assert_eq!([&header[..], &block[..]].concat(), whole);
/// # Ok::<(), torrentkit_wire::Error>(())
/// ```
pub fn piece_header(index: u32, begin: u32, block_len: usize) -> Result<[u8; 13]> {
    let length = block_len
        .checked_add(9)
        .and_then(|l| u32::try_from(l).ok())
        .ok_or(Error::TooLongToEncode {
            message: "piece",
            length: block_len.saturating_add(9),
        })?;
    let mut out = [0; 13];
    out[..4].copy_from_slice(&length.to_be_bytes());
    out[4] = id::PIECE;
    out[5..9].copy_from_slice(&index.to_be_bytes());
    out[9..13].copy_from_slice(&begin.to_be_bytes());
    Ok(out)
}

/// The name of message `id` as the BEPs write it, or `"unknown message"`.
pub fn name_of(id: u8) -> &'static str {
    match id {
        id::CHOKE => "choke",
        id::UNCHOKE => "unchoke",
        id::INTERESTED => "interested",
        id::NOT_INTERESTED => "not interested",
        id::HAVE => "have",
        id::BITFIELD => "bitfield",
        id::REQUEST => "request",
        id::PIECE => "piece",
        id::CANCEL => "cancel",
        id::PORT => "port",
        id::SUGGEST_PIECE => "suggest piece",
        id::HAVE_ALL => "have all",
        id::HAVE_NONE => "have none",
        id::REJECT_REQUEST => "reject request",
        id::ALLOWED_FAST => "allowed fast",
        id::EXTENDED => "extended",
        id::HASH_REQUEST => "hash request",
        id::HASHES => "hashes",
        id::HASH_REJECT => "hash reject",
        _ => "unknown message",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_messages_have_the_bytes_bep3_gives_them() {
        let cases: [(Message<'_>, &[u8]); 8] = [
            (Message::KeepAlive, &[0, 0, 0, 0]),
            (Message::Choke, &[0, 0, 0, 1, 0]),
            (Message::NotInterested, &[0, 0, 0, 1, 3]),
            (Message::HaveNone, &[0, 0, 0, 1, 0x0f]),
            (Message::Port(6881), &[0, 0, 0, 3, 9, 0x1a, 0xe1]),
            (
                Message::Request(BlockRequest {
                    index: 1,
                    begin: 0x4000,
                    length: 0x4000,
                }),
                &[0, 0, 0, 13, 6, 0, 0, 0, 1, 0, 0, 0x40, 0, 0, 0, 0x40, 0],
            ),
            (
                Message::Extended {
                    id: 3,
                    payload: b"de",
                },
                &[0, 0, 0, 4, 20, 3, b'd', b'e'],
            ),
            (
                Message::Unknown {
                    id: 21,
                    payload: b"x",
                },
                &[0, 0, 0, 2, 21, b'x'],
            ),
        ];
        for (message, bytes) in cases {
            assert_eq!(message.to_vec().unwrap(), bytes, "{message:?}");
            assert_eq!(message.encoded_len(), bytes.len());
        }
    }

    #[test]
    fn names_come_from_ids() {
        assert_eq!(Message::KeepAlive.name(), "keep-alive");
        assert_eq!(Message::AllowedFast { piece: 1 }.name(), "allowed fast");
        assert_eq!(name_of(200), "unknown message");
    }
}
