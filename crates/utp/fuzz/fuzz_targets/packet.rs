//! Fuzz target `packet`: the uTP packet decoder on arbitrary bytes.
//!
//! Nothing may panic, and:
//! - errors display as `utp: ...`;
//! - a packet that decodes re-encodes to bytes that decode to the same packet, and encoding is
//!   a fixed point from there on (unknown extensions are dropped by the first re-encoding);
//! - the payload is a suffix of the datagram.

#![no_main]

use libfuzzer_sys::fuzz_target;
use torrentkit_utp::Packet;

fuzz_target!(|data: &[u8]| {
    match Packet::decode(data) {
        Ok(p) => {
            assert!(data.ends_with(p.payload));
            let mut wire = Vec::new();
            p.encode(&mut wire);
            let again = Packet::decode(&wire).unwrap_or_else(|e| panic!("re-encoded {p:?} does not decode: {e}"));
            assert_eq!(again, p);
            let mut wire2 = Vec::new();
            again.encode(&mut wire2);
            assert_eq!(wire2, wire, "encoding is not a fixed point");
        }
        Err(e) => assert!(e.to_string().starts_with("utp: "), "{e}"),
    }
});
