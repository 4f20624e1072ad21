//! Fuzz target `krpc`: the KRPC decoder on arbitrary bytes.
//!
//! Nothing may panic, and:
//! - errors display as `krpc: ...`;
//! - a datagram that decodes re-encodes to bytes that decode to the same message, and encoding
//!   is a fixed point from there on;
//! - `query_transaction` finds a transaction id only in bencoded queries, never longer than
//!   `MAX_TRANSACTION_LEN`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use torrentkit_dht::{query_transaction, Body, Message, MAX_TRANSACTION_LEN};

fuzz_target!(|data: &[u8]| {
    match Message::decode(data) {
        Ok(message) => {
            let bytes = message.encode();
            let again = Message::decode(&bytes)
                .unwrap_or_else(|e| panic!("re-encoded {message:?} does not decode: {e}"));
            assert_eq!(again, message);
            assert_eq!(again.encode(), bytes, "encoding is not a fixed point");
            if matches!(message.body, Body::Query { .. }) {
                assert_eq!(query_transaction(data), Some(message.transaction));
            }
        }
        Err(e) => assert!(e.to_string().starts_with("krpc: "), "{e}"),
    }
    if let Some(transaction) = query_transaction(data) {
        assert!(transaction.len() <= MAX_TRANSACTION_LEN);
    }
});
