//! Fuzz target `mse`: the MSE handshake state machine in both roles on arbitrary bytes.
//!
//! The first byte picks the role (even: responder, odd: initiator) and the chunk size the rest
//! is fed in. Nothing may panic, an error is final (every later input fails too), errors
//! display as `mse: ...`, and the buffered input stays within the spec's bounds.

#![no_main]

use libfuzzer_sys::fuzz_target;
use torrentkit_wire::mse::{Handshake, Methods, Secret};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let secret = Secret { private_key: [0x5c; 20], pad: vec![0; usize::from(selector)] };
    let mut h = if selector % 2 == 0 {
        Handshake::responder(vec![[1; 20], [2; 20]], Methods::BOTH, Methods::RC4, secret)
    } else {
        Handshake::initiator([1; 20], Methods::BOTH, b"ia".to_vec(), secret)
    };
    let chunk = usize::from(selector / 2).max(1);
    let mut failed = false;
    for piece in rest.chunks(chunk) {
        let _ = h.poll_transmit();
        match h.handle_bytes(piece) {
            Ok(()) => assert!(!failed, "an error is final"),
            Err(e) => {
                assert!(e.to_string().starts_with("mse: "), "{e}");
                failed = true;
            }
        }
    }
    if h.is_done() {
        let done = h.finish().expect("done means an outcome");
        assert!(done.payload.len() <= rest.len());
    }
});
