//! `cargo bench --bench wire`: torrentkit-wire decoding message streams, against a plain
//! `memcpy` of the same bytes in the same run. Groups `<stream>/<function>`:
//!
//! - `piece_stream`: 256 `piece` messages with 16 KiB blocks (4 MiB); `torrentkit` decodes them
//!   (zero-copy: the blocks are slices of the input); `memcpy` copies the stream once.
//! - `piece_stream_copy`: the same, but `torrentkit` also copies each block into its place in a
//!   piece buffer, as a client assembling pieces does.
//! - `small_stream`: 100,000 small messages (have, request, cancel, reject, allowed fast, choke
//!   state, keep-alive; 13.4 bytes each on average).
//!
//! `cargo xtask bench wire` runs this and tabulates GB/s and messages/s.

#![allow(clippy::print_stdout, reason = "a benchmark binary reports its inputs")]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput};
use torrentkit_bench::wire::{
    check, decode_all, decode_and_copy, piece_stream, small_stream, BLOCK_LEN,
};

const PIECES: u32 = 256;
const SMALL: u32 = 100_000;

fn main() {
    let failures = check(PIECES, SMALL);
    assert!(
        failures.is_empty(),
        "the streams do not decode exactly:\n{}",
        failures.join("\n")
    );
    let pieces = piece_stream(PIECES);
    let small = small_stream(SMALL);
    // `cargo xtask bench wire` reads these to compute messages/s.
    println!("messages: piece_stream {PIECES} {}", pieces.len());
    println!("messages: piece_stream_copy {PIECES} {}", pieces.len());
    println!("messages: small_stream {SMALL} {}", small.len());

    let mut criterion = Criterion::default()
        .configure_from_args()
        .sample_size(50)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));

    let mut dst = vec![0u8; pieces.len().max(small.len())];
    let mut assembled = vec![0u8; PIECES as usize * BLOCK_LEN];
    for (name, stream) in [("piece_stream", &pieces), ("small_stream", &small)] {
        let mut group = criterion.benchmark_group(name);
        group.throughput(Throughput::Bytes(stream.len() as u64));
        group.bench_function("torrentkit", |b| b.iter(|| decode_all(black_box(stream))));
        group.bench_function("memcpy", |b| {
            b.iter(|| {
                dst[..stream.len()].copy_from_slice(black_box(stream));
                black_box(&dst);
            })
        });
        group.finish();
    }
    let mut group = criterion.benchmark_group("piece_stream_copy");
    group.throughput(Throughput::Bytes(pieces.len() as u64));
    group.bench_function("torrentkit", |b| {
        b.iter(|| {
            let n = decode_and_copy(black_box(&pieces), &mut assembled);
            black_box(&assembled);
            n
        })
    });
    group.bench_function("memcpy", |b| {
        b.iter(|| {
            dst[..pieces.len()].copy_from_slice(black_box(&pieces));
            black_box(&dst);
        })
    });
    group.finish();
    criterion.final_summary();
}
