//! Fuzz target `extended`: the BEP 10 extension payload decoders on arbitrary bytes.
//!
//! The first byte picks the extension id (0 = handshake, 1 = ut_metadata, 2 = ut_pex, others
//! unknown); the rest is the payload. Nothing may panic, and:
//! - errors display as `wire: ...`;
//! - a payload that decodes re-encodes to bytes that decode to the same value, and encoding is
//!   a fixed point from there on;
//! - ut_metadata data is a suffix of the payload no longer than 16 KiB.

#![no_main]

use libfuzzer_sys::fuzz_target;
use torrentkit_wire::{
    ExtendedHandshake, ExtendedMessage, ExtensionIds, MetadataMessage, PexMessage,
    METADATA_PIECE_LEN,
};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, payload)) = data.split_first() else {
        return;
    };
    let id = selector % 4;
    let ids = ExtensionIds::default();
    match ExtendedMessage::decode(id, payload, &ids) {
        Ok(ext) => {
            let mut wire = Vec::new();
            assert!(ext.encode(&ids, &mut wire).unwrap());
            let body = &wire[6..];
            let again = ExtendedMessage::decode(id, body, &ids)
                .unwrap_or_else(|e| panic!("re-encoded {ext:?} does not decode: {e}"));
            assert_eq!(again, ext);
            let mut wire2 = Vec::new();
            assert!(again.encode(&ids, &mut wire2).unwrap());
            assert_eq!(wire2, wire, "encoding is not a fixed point");
            if let ExtendedMessage::Metadata(MetadataMessage::Data { data: piece, .. }) = ext {
                assert!(piece.len() <= METADATA_PIECE_LEN);
                assert!(payload.ends_with(piece));
            }
        }
        Err(e) => assert!(e.to_string().starts_with("wire: "), "{e}"),
    }
    // Each decoder directly, whatever the id.
    for result in [
        ExtendedHandshake::decode(payload).map(|_| ()),
        MetadataMessage::decode(payload).map(|_| ()),
        PexMessage::decode(payload).map(|_| ()),
    ] {
        if let Err(e) = result {
            assert!(e.to_string().starts_with("wire: "), "{e}");
        }
    }
});
