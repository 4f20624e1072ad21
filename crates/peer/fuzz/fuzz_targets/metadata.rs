//! Fuzz target `metadata`: the BEP 9 metadata assembler driven by arbitrary peer behaviour.
//!
//! The input is read as a script of steps: peers announcing sizes (any, including 0 and huge
//! ones), data for pieces in or out of range with any `total_size`, rejects, closes and timers.
//! Nothing may panic or allocate past the bound, and whatever it finally returns must hash to
//! the info-hash.

#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use torrentkit_peer::{ConnId, MetadataAssembler};

const HASH: [u8; 20] = [0x11; 20];

fuzz_target!(|data: &[u8]| {
    let start = Instant::now();
    let mut a = MetadataAssembler::new(HASH, 64 * 1024);
    let mut bytes = data.iter().copied();
    let mut t = 0u64;
    while let Some(op) = bytes.next() {
        let id = ConnId(u64::from(bytes.next().unwrap_or(0) % 8));
        let arg = u32::from_le_bytes([
            bytes.next().unwrap_or(0),
            bytes.next().unwrap_or(0),
            bytes.next().unwrap_or(0),
            bytes.next().unwrap_or(0),
        ]);
        let now = start + Duration::from_millis(t);
        match op % 6 {
            0 => a.handle_peer(id, Some(u64::from(arg) * 97)),
            1 => {
                let len = (arg % 16_385) as usize;
                let piece: Vec<u8> = bytes.by_ref().take(len).collect();
                a.handle_data(id, arg % 8, u64::from(arg), &piece);
            }
            2 => a.handle_reject(id, arg % 8),
            3 => a.remove_peer(id),
            4 => {
                t += u64::from(arg % 30_000);
                a.handle_timeout(start + Duration::from_millis(t));
            }
            _ => {}
        }
        while a.poll_request(now).is_some() {}
        while a.poll_drop().is_some() {}
        let (have, of) = a.pieces();
        assert!(have <= of && of <= 4, "{have}/{of} pieces under a 64 KiB bound");
    }
    // A match is impossible to stumble on; if it were, it would have to be right.
    assert!(a.metadata().is_none());
});
