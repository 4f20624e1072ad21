//! `cargo bench --bench bencode`: torrentkit-bencode against serde_bencode, bendy, bt_bencode and
//! librqbit-bencode on three generated documents, in criterion groups `<document>/<operation>`
//! with one function per crate. `cargo xtask bench bencode` runs this and tabulates the results.

#![allow(
    clippy::print_stdout,
    reason = "a benchmark binary reports what it skips"
)]

use std::hint::black_box;
use std::time::Duration;

use criterion::measurement::{Measurement, WallTime};
use criterion::{BenchmarkGroup, Criterion, Throughput};
use torrentkit_bench::bencode::check::check;
use torrentkit_bench::bencode::docs::{self, Doc};
use torrentkit_bench::bencode::ops::{self, Crate};
use torrentkit_bench::bencode::types::{Document, ReplyOwned, TorrentOwned};
use torrentkit_bench::clock::ThreadCpuTime;

fn main() {
    let torrent_20mb = docs::torrent_20mb();
    let torrent_20kb = docs::torrent_20kb();
    let tracker_reply = docs::tracker_reply();

    let mut failures = check(&torrent_20mb);
    failures.extend(check(&torrent_20kb));
    failures.extend(check(&tracker_reply));
    assert!(
        failures.is_empty(),
        "the crates disagree on the inputs:\n{}",
        failures.join("\n")
    );

    // `cargo xtask bench` collects these lines for the notes under its table.
    for krate in Crate::ALL {
        if let Some(reason) = krate.serde_borrowed_unsupported() {
            println!("skip: serde_borrowed/{krate}, every document: {reason}");
        }
    }

    // Thread CPU time unless told otherwise: see src/clock.rs for why.
    match std::env::var("TORRENTKIT_BENCH_CLOCK").as_deref() {
        Ok("wall") => {
            println!("note: Times are wall-clock time (TORRENTKIT_BENCH_CLOCK=wall)");
            let criterion = Criterion::default().with_measurement(WallTime);
            run(criterion, &torrent_20mb, &torrent_20kb, &tracker_reply);
        }
        Ok("cpu") | Err(_) => {
            println!("note: Times are the benchmark thread's CPU time, which load from other processes does not inflate (TORRENTKIT_BENCH_CLOCK=wall for wall-clock time)");
            let criterion = Criterion::default().with_measurement(ThreadCpuTime);
            run(criterion, &torrent_20mb, &torrent_20kb, &tracker_reply);
        }
        Ok(other) => panic!("TORRENTKIT_BENCH_CLOCK must be `cpu` or `wall`, not `{other}`"),
    }
}

fn run<M: Measurement>(
    criterion: Criterion<M>,
    torrent_20mb: &Doc<TorrentOwned>,
    torrent_20kb: &Doc<TorrentOwned>,
    tracker_reply: &Doc<ReplyOwned>,
) {
    let mut criterion = criterion.configure_from_args();
    // The 20 MB document takes milliseconds per operation: few samples keep the run short.
    bench_document(
        &mut criterion,
        torrent_20mb,
        Timing {
            samples: 10,
            warm_up_ms: 500,
            measure_ms: 2_000,
        },
    );
    bench_document(
        &mut criterion,
        torrent_20kb,
        Timing {
            samples: 30,
            warm_up_ms: 500,
            measure_ms: 1_500,
        },
    );
    bench_document(
        &mut criterion,
        tracker_reply,
        Timing {
            samples: 50,
            warm_up_ms: 500,
            measure_ms: 1_000,
        },
    );
    criterion.final_summary();
}

/// How long criterion spends on each function of a document's groups.
#[derive(Clone, Copy)]
struct Timing {
    samples: usize,
    warm_up_ms: u64,
    measure_ms: u64,
}

fn bench_document<T: Document, M: Measurement>(
    criterion: &mut Criterion<M>,
    doc: &Doc<T>,
    timing: Timing,
) {
    let input = doc.bytes.as_slice();

    let mut group = open_group(criterion, doc, "tree", timing);
    for krate in Crate::ALL {
        group.bench_function(krate.name(), |b| {
            b.iter(|| {
                black_box(ops::tree(krate, black_box(input)).unwrap_or_else(|e| panic!("{e}")))
            })
        });
    }
    group.finish();

    let mut group = open_group(criterion, doc, "serde_borrowed", timing);
    for krate in Crate::ALL {
        if krate.serde_borrowed_unsupported().is_some() {
            continue;
        }
        group.bench_function(krate.name(), |b| {
            b.iter(|| {
                let value: T::Borrowed<'_> =
                    ops::from_bytes(krate, black_box(input)).unwrap_or_else(|e| panic!("{e}"));
                black_box(value)
            })
        });
    }
    group.finish();

    let mut group = open_group(criterion, doc, "serde_owned", timing);
    for krate in Crate::ALL {
        group.bench_function(krate.name(), |b| {
            b.iter(|| {
                let value: T =
                    ops::from_bytes(krate, black_box(input)).unwrap_or_else(|e| panic!("{e}"));
                black_box(value)
            })
        });
    }
    group.finish();

    let mut group = open_group(criterion, doc, "encode", timing);
    for krate in Crate::ALL {
        group.bench_function(krate.name(), |b| {
            b.iter(|| {
                black_box(
                    ops::to_vec(krate, black_box(&doc.value)).unwrap_or_else(|e| panic!("{e}")),
                )
            })
        });
    }
    group.finish();

    let mut group = open_group(criterion, doc, "encode_tree", timing);
    for krate in Crate::ALL {
        let tree = ops::tree_for_encoding(krate, input).unwrap_or_else(|e| panic!("{e}"));
        group.bench_function(krate.name(), |b| {
            b.iter(|| {
                black_box(ops::encode_tree(black_box(&tree)).unwrap_or_else(|e| panic!("{e}")))
            })
        });
    }
    group.finish();
}

fn open_group<'c, T, M: Measurement>(
    criterion: &'c mut Criterion<M>,
    doc: &Doc<T>,
    op: &str,
    timing: Timing,
) -> BenchmarkGroup<'c, M> {
    let mut group = criterion.benchmark_group(format!("{}/{op}", doc.name));
    group
        .throughput(Throughput::Bytes(doc.bytes.len() as u64))
        .sample_size(timing.samples)
        .warm_up_time(Duration::from_millis(timing.warm_up_ms))
        .measurement_time(Duration::from_millis(timing.measure_ms));
    group
}
