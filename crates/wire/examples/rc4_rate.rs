//! Prints the single-core rate of the RC4 stream MSE uses, in place on 16 KiB buffers (the size
//! of a block), as `RC4 MB/s: N`. `cargo xtask bench transfer` runs it (release build) to show the
//! ceiling one encrypted connection cannot pass. The rate is per second of this process's CPU
//! time (from `/proc/self/stat` on Linux, wall time elsewhere), so a busy machine does not lower
//! it. Usage: `rc4_rate [MiB]` (default 512).
#![allow(clippy::print_stdout)] // a measuring tool: its output is the point

use std::time::Instant;

use torrentkit_wire::mse::Cipher;

/// This process's user + system CPU seconds, if `/proc` says (clock ticks of 1/100 s).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i)?.parse::<f64>().ok();
    Some((ticks(11)? + ticks(12)?) / 100.0)
}

fn main() {
    let mib: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(512);
    let mut cipher = Cipher::new(b"keyA", &[7; 96], &[9; 20]);
    let mut buf = vec![0x5au8; 16 * 1024];
    let rounds = mib * 64;
    let (started, cpu0) = (Instant::now(), cpu_seconds());
    for _ in 0..rounds {
        cipher.apply(&mut buf);
    }
    let wall = started.elapsed().as_secs_f64();
    let secs = match (cpu0, cpu_seconds()) {
        (Some(a), Some(b)) if b > a => b - a,
        _ => wall,
    };
    // The buffer's last byte, so the work cannot be optimised away.
    println!(
        "RC4 MB/s: {:.0} ({mib} MiB in {secs:.2} CPU s, {wall:.2} s wall, last byte {})",
        (rounds * buf.len()) as f64 / secs / 1e6,
        buf[buf.len() - 1]
    );
}
