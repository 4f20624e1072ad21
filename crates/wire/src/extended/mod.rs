//! The extension protocol (BEP 10): message 0 is the extended handshake; the others are routed by
//! the ids each side assigned in its handshake's `m` dictionary.

mod fields;
mod handshake;
mod metadata;
mod pex;

pub use handshake::ExtendedHandshake;
pub use metadata::{MetadataMessage, METADATA_PIECE_LEN};
pub use pex::{PexFlags, PexMessage};

use crate::error::{Error, Result};
use crate::message::id;

/// The extension message ids for the extensions this crate decodes, as one side assigned them
/// in its extended handshake.
///
/// Messages are sent under the *receiver's* ids: decode what you receive with the ids you
/// advertised ([`ExtensionIds::default`] unless you chose others), and send with the peer's
/// ([`ExtensionIds::from_handshake`] of its handshake).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExtensionIds {
    /// The id of `ut_metadata`, or `None` if not supported.
    pub ut_metadata: Option<u8>,
    /// The id of `ut_pex`, or `None` if not supported.
    pub ut_pex: Option<u8>,
}

impl Default for ExtensionIds {
    /// The ids torrentkit advertises: `ut_metadata` 1 and `ut_pex` 2 (as libtorrent uses 2 and 1).
    fn default() -> Self {
        Self {
            ut_metadata: Some(1),
            ut_pex: Some(2),
        }
    }
}

impl ExtensionIds {
    /// No extension supported.
    pub const NONE: ExtensionIds = ExtensionIds {
        ut_metadata: None,
        ut_pex: None,
    };

    /// The ids a peer assigned in its extended handshake.
    pub fn from_handshake(handshake: &ExtendedHandshake<'_>) -> Self {
        Self {
            ut_metadata: handshake.extension_id("ut_metadata"),
            ut_pex: handshake.extension_id("ut_pex"),
        }
    }

    /// Adds these ids to the `m` dictionary of our handshake.
    pub fn advertise(&self, handshake: &mut ExtendedHandshake<'_>) {
        if let Some(i) = self.ut_metadata {
            handshake.extensions.insert(b"ut_metadata", i);
        }
        if let Some(i) = self.ut_pex {
            handshake.extensions.insert(b"ut_pex", i);
        }
    }
}

/// A decoded extension message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExtendedMessage<'a> {
    /// Extension message 0, the extended handshake.
    Handshake(ExtendedHandshake<'a>),
    /// ut_metadata (BEP 9).
    Metadata(MetadataMessage<'a>),
    /// ut_pex (BEP 11).
    Pex(PexMessage),
    /// An extension id we did not assign (or not to an extension this crate decodes): BEP 10
    /// says to ignore it.
    Unknown {
        /// The extension message id.
        id: u8,
        /// Its payload.
        payload: &'a [u8],
    },
}

impl<'a> ExtendedMessage<'a> {
    /// Decodes the payload of an `extended` message (the `id` and `payload` of
    /// [`Message::Extended`](crate::Message::Extended)) given the ids *we* advertised.
    ///
    /// ```
    /// use torrentkit_wire::{ExtendedMessage, ExtensionIds, MetadataMessage};
    /// let ours = ExtensionIds::default();
    /// let msg = ExtendedMessage::decode(1, b"d8:msg_typei0e5:piecei2ee", &ours)?;
    /// assert_eq!(msg, ExtendedMessage::Metadata(MetadataMessage::Request { piece: 2 }));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn decode(id: u8, payload: &'a [u8], ours: &ExtensionIds) -> Result<Self> {
        Ok(if id == 0 {
            ExtendedMessage::Handshake(ExtendedHandshake::decode(payload)?)
        } else if Some(id) == ours.ut_metadata {
            ExtendedMessage::Metadata(MetadataMessage::decode(payload)?)
        } else if Some(id) == ours.ut_pex {
            ExtendedMessage::Pex(PexMessage::decode(payload)?)
        } else {
            ExtendedMessage::Unknown { id, payload }
        })
    }

    /// Appends the whole wire message (length prefix, id 20, extension id, payload) to `out`.
    ///
    /// `theirs` are the ids the receiving peer advertised. Returns `false`, writing nothing,
    /// when the peer does not support this extension. The handshake always goes as 0.
    pub fn encode(&self, theirs: &ExtensionIds, out: &mut Vec<u8>) -> Result<bool> {
        let ext_id = match self {
            ExtendedMessage::Handshake(_) => Some(0),
            ExtendedMessage::Metadata(_) => theirs.ut_metadata,
            ExtendedMessage::Pex(_) => theirs.ut_pex,
            ExtendedMessage::Unknown { id, .. } => Some(*id),
        };
        let Some(ext_id) = ext_id else {
            return Ok(false);
        };
        let start = out.len();
        out.extend_from_slice(&[0, 0, 0, 0, id::EXTENDED, ext_id]);
        match self {
            ExtendedMessage::Handshake(h) => h.encode(out),
            ExtendedMessage::Metadata(m) => m.encode(out),
            ExtendedMessage::Pex(p) => p.encode(out),
            ExtendedMessage::Unknown { payload, .. } => out.extend_from_slice(payload),
        }
        let body = out.len() - start - 4;
        let Ok(length) = u32::try_from(body) else {
            out.truncate(start);
            return Err(Error::TooLongToEncode {
                message: "extended",
                length: body,
            });
        };
        out[start..start + 4].copy_from_slice(&length.to_be_bytes());
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{decode_message, Limits, Message, Status};

    #[test]
    fn messages_go_out_under_the_receivers_ids_and_come_back() {
        let theirs = ExtensionIds {
            ut_metadata: Some(3),
            ut_pex: None,
        };
        let msg = ExtendedMessage::Metadata(MetadataMessage::Reject { piece: 4 });
        let mut out = Vec::new();
        assert!(msg.encode(&theirs, &mut out).unwrap());
        let Status::Complete { value, consumed } =
            decode_message(&out, &Limits::default()).unwrap()
        else {
            panic!("incomplete")
        };
        assert_eq!(consumed, out.len());
        let Message::Extended { id, payload } = value else {
            panic!("{value:?}")
        };
        assert_eq!(id, 3);
        assert_eq!(ExtendedMessage::decode(id, payload, &theirs).unwrap(), msg);
        // Not supported by the receiver: nothing written.
        let pex = ExtendedMessage::Pex(PexMessage::default());
        let before = out.len();
        assert!(!pex.encode(&theirs, &mut out).unwrap());
        assert_eq!(out.len(), before);
        // An id we never assigned is reported as unknown.
        assert_eq!(
            ExtendedMessage::decode(9, b"x", &ExtensionIds::default()).unwrap(),
            ExtendedMessage::Unknown {
                id: 9,
                payload: b"x"
            }
        );
    }

    #[test]
    fn advertised_ids_are_read_back_from_the_handshake() {
        let mut h = ExtendedHandshake::default();
        ExtensionIds::default().advertise(&mut h);
        let payload = h.to_payload();
        let back = ExtendedHandshake::decode(&payload).unwrap();
        assert_eq!(ExtensionIds::from_handshake(&back), ExtensionIds::default());
    }
}
