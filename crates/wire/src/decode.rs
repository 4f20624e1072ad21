//! Decoding length-prefixed messages from a buffer: [`decode_message`], [`Messages`], [`Limits`].

use crate::error::{Error, Result};
use crate::message::{id, name_of, BlockRequest, Message};
use crate::status::Status;

/// Size limits checked against a message's length prefix before its payload is waited for,
/// buffered or allocated. A peer that declares a 4 GB message is refused after 4 or 5 bytes.
///
/// Fixed-size messages (`have`, `request`...) are always checked against their exact size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// The largest block accepted in a `piece` message. Default 128 KiB: every client sends
    /// 16 KiB blocks, and some accept requests of up to 128 KiB.
    pub max_block_len: u32,
    /// The largest payload of an `extended` message (BEP 10), extension id included.
    /// Default 1 MiB; a ut_metadata piece is 16 KiB plus a small dictionary.
    pub max_extended_len: u32,
    /// The largest length prefix of any other message: `bitfield` and messages of unknown id.
    /// Default 2 MiB, a bitfield for 16 million pieces.
    pub max_message_len: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_block_len: 128 * 1024,
            max_extended_len: 1024 * 1024,
            max_message_len: 2 * 1024 * 1024,
        }
    }
}

impl Limits {
    /// The largest length prefix any message may declare under these limits.
    fn max_any(&self) -> u64 {
        u64::from(self.max_message_len)
            .max(u64::from(self.max_block_len) + 9)
            .max(u64::from(self.max_extended_len) + 1)
    }
}

/// Decodes one message from the start of `input`, which may hold more after it (the next
/// messages) or less than all of it (a partial read).
///
/// On success the message borrows its payload (a `piece`'s block, a `bitfield`, an extension
/// payload) from `input` without copying, and `consumed` says how many bytes to drop from the
/// front of the buffer. A message with an unknown id is returned as [`Message::Unknown`].
///
/// ```
/// use torrentkit_wire::{decode_message, Limits, Message, Status};
/// let limits = Limits::default();
/// let bytes = [0, 0, 0, 5, 4, 0, 0, 0, 7, /* next message: */ 0, 0];
/// let Status::Complete { value, consumed } = decode_message(&bytes, &limits)? else {
///     unreachable!()
/// };
/// assert_eq!((value, consumed), (Message::Have { piece: 7 }, 9));
/// assert_eq!(decode_message(&bytes[9..], &limits)?, Status::Incomplete { needed: 2 });
/// // A huge length prefix is refused at once, long before 4 GB arrive.
/// let err = decode_message(&[0xff, 0xff, 0xff, 0xff, 7], &limits).unwrap_err();
/// assert_eq!(err.to_string(), "wire: piece (id 7) declares 4294967295 bytes, over the limit of 131081");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[inline]
pub fn decode_message<'a>(input: &'a [u8], limits: &Limits) -> Result<Status<Message<'a>>> {
    let Some(prefix) = input.first_chunk::<4>() else {
        return Ok(Status::Incomplete {
            needed: 4 - input.len(),
        });
    };
    let length = u32::from_be_bytes(*prefix);
    if length == 0 {
        return Ok(Status::Complete {
            value: Message::KeepAlive,
            consumed: 4,
        });
    }
    let Some(&id) = input.get(4) else {
        if u64::from(length) > limits.max_any() {
            return Err(Error::MessageTooLong {
                message: "message",
                id: None,
                length,
                limit: u32::try_from(limits.max_any()).unwrap_or(u32::MAX),
            });
        }
        return Ok(Status::Incomplete {
            needed: (length as usize).saturating_add(4) - input.len(),
        });
    };
    check_length(id, length, limits)?;
    let total = (length as usize).saturating_add(4);
    let Some(body) = input.get(5..total) else {
        return Ok(Status::Incomplete {
            needed: total - input.len(),
        });
    };
    Ok(Status::Complete {
        value: parse_body(id, body),
        consumed: total,
    })
}

/// Checks a length prefix against the message's fixed size or its limit.
#[inline]
fn check_length(id: u8, length: u32, limits: &Limits) -> Result<()> {
    let exact = |expected: u32| {
        if length == expected {
            Ok(())
        } else {
            Err(Error::WrongLength {
                message: name_of(id),
                id,
                length,
                expected,
            })
        }
    };
    let range = |minimum: u32, limit: u64| {
        if length < minimum {
            Err(Error::TooShort {
                message: name_of(id),
                id,
                length,
                minimum,
            })
        } else if u64::from(length) > limit {
            Err(Error::MessageTooLong {
                message: name_of(id),
                id: Some(id),
                length,
                limit: u32::try_from(limit).unwrap_or(u32::MAX),
            })
        } else {
            Ok(())
        }
    };
    match id {
        id::CHOKE
        | id::UNCHOKE
        | id::INTERESTED
        | id::NOT_INTERESTED
        | id::HAVE_ALL
        | id::HAVE_NONE => exact(1),
        id::HAVE | id::SUGGEST_PIECE | id::ALLOWED_FAST => exact(5),
        id::REQUEST | id::CANCEL | id::REJECT_REQUEST => exact(13),
        id::PORT => exact(3),
        id::PIECE => range(9, u64::from(limits.max_block_len) + 9),
        id::EXTENDED => range(2, u64::from(limits.max_extended_len) + 1),
        _ => range(1, u64::from(limits.max_message_len)),
    }
}

/// Builds the message from a whole frame that [`decode_message`] has already accepted.
#[cfg(feature = "tokio-codec")]
pub(crate) fn parse_frame(frame: &[u8]) -> Message<'_> {
    match frame.get(4) {
        None => Message::KeepAlive,
        Some(&id) => parse_body(id, &frame[5..]),
    }
}

/// Builds the message from its payload, whose length `check_length` has already validated.
#[inline]
fn parse_body(message_id: u8, body: &[u8]) -> Message<'_> {
    // `check_length` guarantees the fixed fields are there; the fallback is never taken.
    let u32_at = |at: usize| {
        body.get(at..at + 4)
            .and_then(|b| b.first_chunk::<4>())
            .map_or(0, |b| u32::from_be_bytes(*b))
    };
    let block = || BlockRequest {
        index: u32_at(0),
        begin: u32_at(4),
        length: u32_at(8),
    };
    match message_id {
        id::CHOKE => Message::Choke,
        id::UNCHOKE => Message::Unchoke,
        id::INTERESTED => Message::Interested,
        id::NOT_INTERESTED => Message::NotInterested,
        id::HAVE => Message::Have { piece: u32_at(0) },
        id::BITFIELD => Message::Bitfield(body),
        id::REQUEST => Message::Request(block()),
        id::PIECE => Message::Piece {
            index: u32_at(0),
            begin: u32_at(4),
            block: &body[8..],
        },
        id::CANCEL => Message::Cancel(block()),
        id::PORT => Message::Port(u16::from_be_bytes([body[0], body[1]])),
        id::SUGGEST_PIECE => Message::SuggestPiece { piece: u32_at(0) },
        id::HAVE_ALL => Message::HaveAll,
        id::HAVE_NONE => Message::HaveNone,
        id::REJECT_REQUEST => Message::RejectRequest(block()),
        id::ALLOWED_FAST => Message::AllowedFast { piece: u32_at(0) },
        id::EXTENDED => Message::Extended {
            id: body[0],
            payload: &body[1..],
        },
        id => Message::Unknown { id, payload: body },
    }
}

/// An iterator over the whole messages at the front of a buffer, from [`Messages::new`].
///
/// It stops at the first incomplete message ([`Messages::consumed`] then says how many bytes
/// the whole ones took) or after yielding the first error.
///
/// ```
/// use torrentkit_wire::{Limits, Message, Messages};
/// let stream = [0, 0, 0, 1, 1, 0, 0, 0, 1, 2, 0, 0, 0];
/// let mut messages = Messages::new(&stream, Limits::default());
/// assert_eq!(messages.next(), Some(Ok(Message::Unchoke)));
/// assert_eq!(messages.next(), Some(Ok(Message::Interested)));
/// assert_eq!(messages.next(), None);
/// assert_eq!((messages.consumed(), messages.needed()), (10, Some(1)));
/// ```
#[derive(Debug, Clone)]
pub struct Messages<'a> {
    input: &'a [u8],
    consumed: usize,
    limits: Limits,
    needed: Option<usize>,
    failed: bool,
}

impl<'a> Messages<'a> {
    /// Iterates over the messages at the front of `input`.
    pub fn new(input: &'a [u8], limits: Limits) -> Self {
        Self {
            input,
            consumed: 0,
            limits,
            needed: None,
            failed: false,
        }
    }

    /// The number of bytes taken by the messages yielded so far.
    pub fn consumed(&self) -> usize {
        self.consumed
    }

    /// The bytes not yet consumed (the start of an incomplete message, once iteration ends).
    pub fn remaining(&self) -> &'a [u8] {
        &self.input[self.consumed..]
    }

    /// After the iterator has ended on an incomplete message, how many more bytes it needs.
    pub fn needed(&self) -> Option<usize> {
        self.needed
    }
}

impl<'a> Iterator for Messages<'a> {
    type Item = Result<Message<'a>>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.needed.is_some() {
            return None;
        }
        match decode_message(self.remaining(), &self.limits) {
            Ok(Status::Complete { value, consumed }) => {
                self.consumed += consumed;
                Some(Ok(value))
            }
            Ok(Status::Incomplete { needed }) => {
                self.needed = Some(needed);
                None
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> Result<Status<Message<'_>>> {
        decode_message(bytes, &Limits::default())
    }

    #[test]
    fn every_prefix_of_a_message_is_incomplete_by_exactly_the_missing_bytes() {
        let bytes = [0, 0, 0, 9, 7, 0, 0, 0, 1, 0, 0, 0, 2];
        for cut in 0..bytes.len() {
            let needed = if cut < 4 { 4 - cut } else { bytes.len() - cut };
            assert_eq!(
                decode(&bytes[..cut]).unwrap(),
                Status::Incomplete { needed },
                "cut at {cut}"
            );
        }
        assert_eq!(
            decode(&bytes).unwrap(),
            Status::Complete {
                value: Message::Piece {
                    index: 1,
                    begin: 2,
                    block: &[]
                },
                consumed: 13
            }
        );
    }

    #[test]
    fn a_4_gb_prefix_is_an_error_before_the_id_arrives() {
        let err = decode(&[0xff, 0xff, 0xff, 0xff]).unwrap_err();
        assert_eq!(
            err,
            Error::MessageTooLong {
                message: "message",
                id: None,
                length: u32::MAX,
                limit: 2 * 1024 * 1024
            }
        );
        // Under the overall limit, the id byte is awaited to pick the right one.
        assert_eq!(
            decode(&[0, 1, 0, 0]).unwrap(),
            Status::Incomplete { needed: 65536 }
        );
        let err = decode(&[0, 0x10, 0, 2, 20]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "wire: extended (id 20) declares 1048578 bytes, over the limit of 1048577"
        );
    }

    #[test]
    fn limits_are_configurable() {
        let limits = Limits {
            max_block_len: 16384,
            max_extended_len: 100,
            max_message_len: 64,
        };
        assert!(decode_message(&[0, 0, 0x40, 9, 7], &limits).is_ok());
        assert_eq!(
            decode_message(&[0, 0, 0x40, 10, 7], &limits).unwrap_err(),
            Error::MessageTooLong {
                message: "piece",
                id: Some(7),
                length: 16394,
                limit: 16393
            }
        );
        assert!(decode_message(&[0, 0, 0, 65, 5], &limits).is_err());
        assert!(decode_message(&[0, 0, 0, 64, 5], &limits).is_ok());
        assert!(decode_message(&[0, 0, 0, 102, 20], &limits).is_err());
    }

    #[test]
    fn fixed_size_messages_with_another_size_are_errors() {
        assert_eq!(
            decode(&[0, 0, 0, 2, 1, 0]).unwrap_err(),
            Error::WrongLength {
                message: "unchoke",
                id: 1,
                length: 2,
                expected: 1
            }
        );
        assert_eq!(
            decode(&[0, 0, 0, 4, 4]).unwrap_err().to_string(),
            "wire: have (id 4) declares 4 bytes, but it is always 5"
        );
        assert_eq!(
            decode(&[0, 0, 0, 8, 7]).unwrap_err().to_string(),
            "wire: piece (id 7) declares 8 bytes, less than its minimum of 9"
        );
        assert_eq!(
            decode(&[0, 0, 0, 1, 20]).unwrap_err().to_string(),
            "wire: extended (id 20) declares 1 bytes, less than its minimum of 2"
        );
    }

    #[test]
    fn unknown_ids_are_framed_and_reported() {
        let bytes = [0, 0, 0, 3, 21, 0xaa, 0xbb, 0, 0, 0, 1, 2];
        let mut messages = Messages::new(&bytes, Limits::default());
        assert_eq!(
            messages.next(),
            Some(Ok(Message::Unknown {
                id: 21,
                payload: &[0xaa, 0xbb]
            }))
        );
        assert_eq!(messages.next(), Some(Ok(Message::Interested)));
        assert_eq!(messages.next(), None);
        assert_eq!(messages.consumed(), bytes.len());
    }

    #[test]
    fn the_iterator_stops_after_an_error() {
        let bytes = [0, 0, 0, 2, 0, 0, 0, 0, 0, 1, 1];
        let mut messages = Messages::new(&bytes, Limits::default());
        assert!(matches!(
            messages.next(),
            Some(Err(Error::WrongLength { .. }))
        ));
        assert_eq!(messages.next(), None);
        assert_eq!(messages.consumed(), 0);
    }
}
