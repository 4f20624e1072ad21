//! `cargo xtask bench wire`: torrentkit-wire decoding message streams against a plain `memcpy` of
//! the same bytes in the same run (`bench/benches/wire.rs`), in GB/s and messages/s.

use std::path::Path;

use crate::bench::criterion;
use crate::bench::table::{Row, Table};
use crate::bench::Outcome;

/// The criterion groups, their message counts (as `bench/benches/wire.rs` builds them) and the
/// speed ratio against memcpy torrentkit must reach (0 where the issue sets none).
const STREAMS: [(&str, u64, f64); 3] = [
    ("piece_stream", 256, 0.5),
    ("piece_stream_copy", 256, 0.5),
    ("small_stream", 100_000, 0.0),
];

const ABOUT: &str = "\
Streams as a downloading peer receives them, built and checked (decoded and re-encoded exactly)
before timing: `piece_stream` is 256 `piece` messages with 16 KiB blocks (4 MiB), decoded
zero-copy (each block is a slice of the input); `piece_stream_copy` decodes the same stream and
copies every block into its place in a piece buffer, as a client assembling pieces does;
`small_stream` is 100,000 small messages (have, request, cancel, reject, allowed fast, choke
state, keep-alive). `memcpy` copies the same bytes once into a preallocated buffer. The ratio is
memcpy's time divided by torrentkit's (above 1: decoding the stream is faster than copying it).
The issue's target is piece-stream decoding at no less than half of memcpy speed; the small
stream has no target and is reported for its messages/s.";

pub(crate) fn run(root: &Path, passthrough: &[String]) -> anyhow::Result<Outcome> {
    let run = criterion::run(root, "wire", passthrough)?;
    let mut table = Table::new(vec!["stream"], vec!["memcpy"]);
    let mut rates = String::from(
        "| stream | messages | torrentkit messages/s | torrentkit GB/s | memcpy GB/s |\n\
         |--------|---------:|----------------------:|----------------:|------------:|\n",
    );
    for (stream, messages, target) in STREAMS {
        let ours = run.estimate(stream, "torrentkit")?;
        let memcpy = run.estimate(stream, "memcpy")?;
        if ours.is_none() && memcpy.is_none() && !passthrough.is_empty() {
            // A criterion filter left this stream out on purpose.
            continue;
        }
        let gbps = |e: Option<criterion::Estimate>| {
            e.and_then(|e| e.bytes.map(|b| format!("{:.2}", b as f64 / e.mean_ns)))
                .unwrap_or_else(|| "—".into())
        };
        let per_second = ours
            .map(|e| format!("{:.1} M", messages as f64 / e.mean_ns * 1e3))
            .unwrap_or_else(|| "—".into());
        rates.push_str(&format!(
            "| {stream} | {messages} | {per_second} | {} | {} |\n",
            gbps(ours),
            gbps(memcpy)
        ));
        table.push(Row {
            labels: vec![stream.into()],
            ours,
            others: vec![memcpy],
            target,
        });
    }
    let mut markdown = String::from("## wire: torrentkit-wire decoding against memcpy\n\n");
    markdown.push_str(ABOUT);
    markdown.push_str("\n\n");
    markdown.push_str(&table.markdown());
    markdown.push('\n');
    markdown.push_str(&rates);
    Ok(Outcome {
        markdown,
        failures: table.failures(),
    })
}
