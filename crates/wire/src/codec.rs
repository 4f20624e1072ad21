//! A `tokio_util::codec` adapter over the sans-IO decoder (feature `tokio-codec`).

use std::fmt;
use std::io;

use bytes::{Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::decode::{decode_message, parse_frame, Limits};
use crate::error::Error;
use crate::handshake::Handshake;
use crate::message::Message;
use crate::status::Status;

/// A [`Decoder`]/[`Encoder`] for a peer connection: the handshake first, then messages.
///
/// Decoded messages are [`MessageFrame`]s that share the read buffer ([`Bytes`]), so a `piece`
/// block is never copied; [`MessageFrame::message`] gives the borrowed [`Message`].
#[derive(Debug, Clone)]
pub struct PeerCodec {
    limits: Limits,
    handshake_done: bool,
}

impl PeerCodec {
    /// A codec that expects the peer's handshake first.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            handshake_done: false,
        }
    }

    /// A codec for a connection whose handshake has already been read.
    pub fn after_handshake(limits: Limits) -> Self {
        Self {
            limits,
            handshake_done: true,
        }
    }
}

/// What [`PeerCodec`] decodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// The peer's handshake (always the first frame of a [`PeerCodec::new`] codec).
    Handshake(Handshake),
    /// A message.
    Message(MessageFrame),
}

/// One whole message, length prefix included, sharing the codec's read buffer.
#[derive(Clone, PartialEq, Eq)]
pub struct MessageFrame(Bytes);

impl MessageFrame {
    /// The decoded message, borrowing from the frame.
    pub fn message(&self) -> Message<'_> {
        parse_frame(&self.0)
    }

    /// The message's bytes as received, length prefix included.
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }
}

impl fmt::Debug for MessageFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.message().fmt(f)
    }
}

/// The error of [`PeerCodec`]: the socket failed, or the peer sent something invalid.
#[derive(Debug)]
#[non_exhaustive]
pub enum CodecError {
    /// An I/O error from the underlying transport.
    Io(io::Error),
    /// The peer sent bytes that are not valid peer wire protocol.
    Wire(Error),
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodecError::Io(e) => write!(f, "wire: i/o error: {e}"),
            CodecError::Wire(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for CodecError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CodecError::Io(e) => Some(e),
            CodecError::Wire(e) => Some(e),
        }
    }
}

impl From<io::Error> for CodecError {
    fn from(e: io::Error) -> Self {
        CodecError::Io(e)
    }
}

impl From<Error> for CodecError {
    fn from(e: Error) -> Self {
        CodecError::Wire(e)
    }
}

impl Decoder for PeerCodec {
    type Item = Frame;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, CodecError> {
        if !self.handshake_done {
            return match Handshake::decode(src)? {
                Status::Complete { value, consumed } => {
                    let _ = src.split_to(consumed);
                    self.handshake_done = true;
                    Ok(Some(Frame::Handshake(value)))
                }
                Status::Incomplete { needed } => {
                    src.reserve(needed);
                    Ok(None)
                }
            };
        }
        match decode_message(src, &self.limits)? {
            Status::Complete { consumed, .. } => Ok(Some(Frame::Message(MessageFrame(
                src.split_to(consumed).freeze(),
            )))),
            Status::Incomplete { needed } => {
                src.reserve(needed);
                Ok(None)
            }
        }
    }
}

impl Encoder<&Message<'_>> for PeerCodec {
    type Error = CodecError;

    fn encode(&mut self, item: &Message<'_>, dst: &mut BytesMut) -> Result<(), CodecError> {
        let mut buf = Vec::with_capacity(item.encoded_len());
        item.encode(&mut buf)?;
        dst.extend_from_slice(&buf);
        Ok(())
    }
}

impl Encoder<Handshake> for PeerCodec {
    type Error = CodecError;

    fn encode(&mut self, item: Handshake, dst: &mut BytesMut) -> Result<(), CodecError> {
        dst.extend_from_slice(&item.to_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PeerId;

    #[test]
    fn handshake_then_messages_across_partial_reads() {
        let mut codec = PeerCodec::new(Limits::default());
        let hs = Handshake::new([1; 20], PeerId([2; 20]));
        let mut wire = BytesMut::new();
        codec.encode(hs, &mut wire).unwrap();
        let block = [9u8; 100];
        let piece = Message::Piece {
            index: 1,
            begin: 0,
            block: &block,
        };
        codec.encode(&piece, &mut wire).unwrap();
        codec.encode(&Message::KeepAlive, &mut wire).unwrap();

        let mut reader = PeerCodec::new(Limits::default());
        let mut buf = BytesMut::new();
        let mut frames = Vec::new();
        for chunk in wire.chunks(7) {
            buf.extend_from_slice(chunk);
            while let Some(frame) = reader.decode(&mut buf).unwrap() {
                frames.push(frame);
            }
        }
        assert_eq!(frames.len(), 3);
        assert_eq!(frames[0], Frame::Handshake(hs));
        let Frame::Message(m) = &frames[1] else {
            panic!("{:?}", frames[1])
        };
        assert_eq!(m.message(), piece);
        let Frame::Message(m) = &frames[2] else {
            panic!("{:?}", frames[2])
        };
        assert_eq!(m.message(), Message::KeepAlive);
        assert!(buf.is_empty());
    }

    #[test]
    fn invalid_input_is_a_wire_error() {
        let mut reader = PeerCodec::after_handshake(Limits::default());
        let mut buf = BytesMut::from(&[0xffu8, 0xff, 0xff, 0xff][..]);
        let err = reader.decode(&mut buf).unwrap_err();
        assert!(
            matches!(err, CodecError::Wire(Error::MessageTooLong { .. })),
            "{err}"
        );
    }
}
