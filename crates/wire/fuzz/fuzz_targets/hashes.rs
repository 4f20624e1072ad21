//! Fuzz target `hashes`: the BEP 52 hash message decoder on arbitrary bytes.
//!
//! The first byte picks the id (21 hash request, 22 hashes, 23 hash reject, others none); the
//! rest is the payload. Nothing may panic, and a payload that decodes re-encodes to exactly the
//! frame it came from; `verify` never panics on whatever decoded.

#![no_main]

use libfuzzer_sys::fuzz_target;
use torrentkit_wire::HashMessage;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, payload)) = data.split_first() else {
        return;
    };
    let id = 20 + selector % 5;
    match HashMessage::decode(id, payload) {
        None => assert!(!(21..=23).contains(&id)),
        Some(Err(e)) => assert!(e.to_string().starts_with("wire: "), "{e}"),
        Some(Ok(m)) => {
            let mut wire = Vec::new();
            m.encode(&mut wire);
            assert_eq!(wire[4], id);
            assert_eq!(&wire[5..], payload, "{m:?} re-encodes differently");
            let _ = m.verify();
        }
    }
});
