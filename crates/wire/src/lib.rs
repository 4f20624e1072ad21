//! The BitTorrent peer wire protocol as a sans-IO codec.
//!
//! Peers exchange a 68-byte [`Handshake`] and then length-prefixed [`Message`]s: the BEP 3 core
//! (choke, have, bitfield, request, piece...), the fast extension of BEP 6 (have all, reject
//! request, allowed fast...) and the extension protocol of BEP 10, whose payloads
//! ([`ExtendedHandshake`], ut_metadata's [`MetadataMessage`], ut_pex's [`PexMessage`]) are
//! bencoded through `torrentkit-bencode`. This crate turns bytes into those values and back. It
//! does no I/O and keeps no connection state, so any runtime (or none) can drive it.
//!
//! - [`decode_message`] borrows from your read buffer (a `piece` block is a slice of it, never a
//!   copy) and says how many bytes it consumed; a partial message is [`Status::Incomplete`]
//!   with the exact number of bytes still needed, not an error. Length prefixes are checked
//!   against [`Limits`] before anything is buffered, so a 4 GB prefix fails at once; unknown
//!   message ids come back as [`Message::Unknown`] so you can skip them.
//! - [`Message::encode`] appends to your `Vec<u8>`; [`piece_header`] gives the 13 bytes before
//!   a block so the block itself can go out in a vectored write, uncopied.
//! - [`Bitfield`] stores pieces in 64-bit words and enforces BEP 3's spare-bits rule;
//!   [`allowed_fast_set`] is BEP 6's algorithm; [`PeerId`] generates our Azureus-style id and
//!   recognises other clients'.
//! - Every [`Error`] names the message and the value at fault.
//! - [`mse`] is protocol encryption (MSE/PE): the obfuscated Diffie-Hellman handshake as a
//!   sans-IO state machine, then RC4 in place on the caller's buffers.
//!
//! # Example
//!
//! ```
//! use torrentkit_wire::{
//!     decode_message, Bitfield, ExtendedMessage, ExtensionIds, Handshake, Limits, Message, PeerId,
//!     Status,
//! };
//!
//! // What a peer sent: its handshake, then a bitfield and a piece, then half a message.
//! let theirs = Handshake::new([0xaa; 20], PeerId(*b"-qB4650-abcdefghijkl"));
//! let mut input = theirs.to_bytes().to_vec();
//! Message::Bitfield(&[0b1010_0000]).encode(&mut input)?;
//! Message::Piece { index: 2, begin: 0, block: b"hello" }.encode(&mut input)?;
//! input.extend_from_slice(&[0, 0, 0, 5, 4]);
//!
//! let Status::Complete { value: handshake, consumed } = Handshake::decode(&input)? else {
//!     unreachable!("68 bytes are there")
//! };
//! assert!(handshake.reserved.extension_protocol() && handshake.reserved.fast());
//! assert_eq!(handshake.peer_id.client().unwrap().to_string(), "qBittorrent 4.6.5");
//!
//! let mut rest = &input[consumed..];
//! let limits = Limits::default();
//! let mut received = Vec::new();
//! while let Status::Complete { value, consumed } = decode_message(rest, &limits)? {
//!     match value {
//!         Message::Bitfield(bits) => {
//!             let have = Bitfield::from_bytes(bits, 3)?; // validated against 3 pieces
//!             received.extend(have.iter());
//!         }
//!         Message::Piece { index, block, .. } => assert_eq!((index, block), (2, &b"hello"[..])),
//!         Message::Extended { id, payload } => {
//!             let _ = ExtendedMessage::decode(id, payload, &ExtensionIds::default())?;
//!         }
//!         _ => {}
//!     }
//!     rest = &rest[consumed..];
//! }
//! assert_eq!(received, [0, 2]);
//! // The `have` at the end is cut short: 4 more bytes complete it.
//! assert_eq!(decode_message(rest, &limits)?, Status::Incomplete { needed: 4 });
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Feature flags
//!
//! - `tokio-codec` (off by default): `PeerCodec`, a `tokio_util::codec` `Decoder`/`Encoder`
//!   whose frames share the read buffer. Without it the crate depends only on
//!   `torrentkit-bencode`, `sha1`, and `rc4` and `num-bigint` for [`mse`].
#![cfg_attr(docsrs, feature(doc_cfg))]

mod bitfield;
#[cfg(feature = "tokio-codec")]
mod codec;
mod decode;
mod error;
mod extended;
mod fast;
mod handshake;
mod hashes;
mod message;
pub mod mse;
mod peer_id;
mod status;

pub use bitfield::{bitfield_len, Bitfield, Ones};
#[cfg(feature = "tokio-codec")]
pub use codec::{CodecError, Frame, MessageFrame, PeerCodec};
pub use decode::{decode_message, Limits, Messages};
pub use error::{Error, Result};
pub use extended::{
    ExtendedHandshake, ExtendedMessage, ExtensionIds, MetadataMessage, PexFlags, PexMessage,
    METADATA_PIECE_LEN,
};
pub use fast::allowed_fast_set;
pub use handshake::{Handshake, Reserved, HANDSHAKE_LEN, PROTOCOL};
pub use hashes::{HashMessage, HashRequest, MAX_HASH_REQUEST, MAX_PROOF_LAYERS};
pub use message::{id, name_of, piece_header, BlockRequest, Message};
pub use peer_id::{Client, PeerId, CLIENT_CODE};
pub use status::Status;
