//! Fuzz target `stream`: the handshake and message-stream decoders on arbitrary bytes.
//!
//! A leading handshake is decoded (and must re-encode to its 68 bytes); the rest is a message
//! stream. Nothing may panic, and:
//! - every error displays as `wire: ...`;
//! - every decoded message re-encodes to exactly the bytes it was decoded from, and
//!   `encoded_len` is that length;
//! - the stream stops at an incomplete message whose `needed` is exactly the missing bytes (or
//!   the missing prefix bytes), and every cut of the first message is `Incomplete` likewise;
//! - tight limits only turn successes into `MessageTooLong` errors, never change a message;
//! - bitfield payloads that validate re-encode to themselves; extension payloads that decode
//!   re-encode to something that decodes to the same value.

#![no_main]

use libfuzzer_sys::fuzz_target;
use torrentkit_wire::{
    decode_message, Bitfield, Error, ExtendedMessage, ExtensionIds, Handshake, Limits, Message,
    Messages, Status,
};

fuzz_target!(|input: &[u8]| {
    // A stream may open with a handshake (the seeds are whole captured connections).
    let mut data = input;
    match Handshake::decode(input) {
        Ok(Status::Complete { value, consumed }) => {
            assert_eq!((consumed, &value.to_bytes()[..]), (68, &input[..68]));
            data = &input[consumed..];
        }
        Ok(Status::Incomplete { needed }) => assert_eq!(needed, 68 - input.len()),
        Err(e) => check_error(&e),
    }
    if let Err(e) = Handshake::decode_head(input) {
        check_error(&e);
    }

    let limits = Limits::default();
    let mut messages = Messages::new(data, limits);
    let mut at = 0;
    for result in messages.by_ref() {
        let message = match result {
            Ok(m) => m,
            Err(e) => {
                check_error(&e);
                break;
            }
        };
        let len = message.encoded_len();
        let bytes = &data[at..at + len];
        assert_eq!(message.to_vec().unwrap(), bytes, "re-encoding differs");
        check_tight_limits(bytes, &message);
        check_payloads(&message);
        at += len;
    }
    if let Some(needed) = messages.needed() {
        let rest = messages.remaining();
        assert!(needed > 0);
        if rest.len() >= 4 {
            let total = 4 + u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
            assert_eq!(needed, total - rest.len(), "needed is not the missing bytes");
        } else {
            assert_eq!(needed, 4 - rest.len());
        }
    }

    // Every cut of the first whole message is Incomplete by exactly what is missing.
    if let Ok(Status::Complete { consumed, .. }) = decode_message(data, &limits) {
        for cut in [0, 1, 3, 4, 5, consumed / 2, consumed - 1] {
            if cut < consumed {
                match decode_message(&data[..cut], &limits) {
                    Ok(Status::Incomplete { needed }) => {
                        let expect = if cut < 4 { 4 - cut } else { consumed - cut };
                        assert_eq!(needed, expect, "cut at {cut} of {consumed}");
                    }
                    other => panic!("cut at {cut} of {consumed}: {other:?}"),
                }
            }
        }
    }
});

fn check_error(e: &Error) {
    assert!(e.to_string().starts_with("wire: "), "{e}");
}

/// Tighter limits may reject a message as too long, but never decode it differently.
fn check_tight_limits(bytes: &[u8], message: &Message<'_>) {
    let mut tight = Limits::default();
    tight.max_block_len = 16;
    tight.max_extended_len = 16;
    tight.max_message_len = 16;
    match decode_message(bytes, &tight) {
        Ok(Status::Complete { value, consumed }) => {
            assert_eq!((&value, consumed), (message, bytes.len()));
        }
        Err(Error::MessageTooLong { length, limit, .. }) => assert!(length > limit),
        other => panic!("tight limits gave {other:?} for {message:?}"),
    }
}

fn check_payloads(message: &Message<'_>) {
    match *message {
        Message::Bitfield(bits) if !bits.is_empty() => {
            for spare in [0, 1, 7] {
                let pieces = (bits.len() * 8 - spare) as u32;
                match Bitfield::from_bytes(bits, pieces) {
                    Ok(b) => {
                        assert_eq!(b.to_bytes(), bits);
                        assert_eq!(b.iter().count() as u32, b.count());
                    }
                    Err(e) => {
                        check_error(&e);
                        assert!(matches!(e, Error::SpareBitsSet { .. }), "{e}");
                    }
                }
            }
        }
        Message::Extended { id, payload } => {
            let ids = ExtensionIds::default();
            match ExtendedMessage::decode(id, payload, &ids) {
                Ok(ext) => {
                    let mut out = Vec::new();
                    assert!(ext.encode(&ids, &mut out).unwrap());
                    match decode_message(&out, &Limits::default()) {
                        Ok(Status::Complete {
                            value: Message::Extended { id: id2, payload: p2 },
                            consumed,
                        }) => {
                            assert_eq!((id2, consumed), (id, out.len()));
                            let again = ExtendedMessage::decode(id2, p2, &ids).unwrap();
                            assert_eq!(again, ext);
                        }
                        other => panic!("re-encoded extension message gave {other:?}"),
                    }
                }
                Err(e) => check_error(&e),
            }
        }
        _ => {}
    }
}
