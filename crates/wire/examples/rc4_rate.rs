//! Prints the single-core rate of the RC4 stream MSE uses, in place on 16 KiB buffers (the size
//! of a block), as `RC4 MB/s: N`. `cargo xtask bench transfer` runs it (release build) to show the
//! ceiling one encrypted connection cannot pass. Usage: `rc4_rate [MiB]` (default 512).
#![allow(clippy::print_stdout)] // a measuring tool: its output is the point

use std::time::Instant;

use torrentkit_wire::mse::Cipher;

fn main() {
    let mib: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(512);
    let mut cipher = Cipher::new(b"keyA", &[7; 96], &[9; 20]);
    let mut buf = vec![0x5au8; 16 * 1024];
    let rounds = mib * 64;
    let started = Instant::now();
    for _ in 0..rounds {
        cipher.apply(&mut buf);
    }
    let secs = started.elapsed().as_secs_f64();
    // The buffer's last byte, so the work cannot be optimised away.
    println!(
        "RC4 MB/s: {:.0} ({} MiB in {secs:.2} s, last byte {})",
        (rounds * buf.len()) as f64 / secs / 1e6,
        mib,
        buf[buf.len() - 1]
    );
}
