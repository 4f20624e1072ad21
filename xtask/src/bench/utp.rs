//! `cargo xtask bench utp`: one 256 MiB uTP stream over loopback through torrentkit-utp's tokio
//! driver against the same stream through `librqbit-utp` 0.6 (rqbit's uTP) in the same run
//! (`bench/benches/utp.rs`), with path-sized packets and with datagrams capped at 1,400 bytes;
//! wall time and CPU seconds of both.

use std::path::Path;

use anyhow::{bail, Context as _};

use crate::bench::criterion::{self, Estimate};
use crate::bench::table::{Row, Table};
use crate::bench::Outcome;

/// The speed ratio against librqbit-utp torrentkit must reach, in both packet modes.
const TARGET: f64 = 1.2;

const ABOUT: &str = "\
One process, a fresh two-worker tokio runtime per transfer, sender and receiver in it: the
sender writes a 1 MiB buffer 256 times and shuts down, the receiver reads into 256 KiB and
checksums (both implementations are checked to deliver the same 256 MiB). `path`: the packet
size loopback allows: torrentkit's endpoints offer each other 64 KiB datagrams; librqbit-utp
runs at its default link MTU of 1,500, the largest with which it completes on loopback (with
9,000 or 16,412 its stream stalls, and at 65,535 its MTU probes outgrow the 16 KiB it reads
datagrams into); `1400`: datagrams of at most 1,400 bytes (torrentkit
`Config::default()`, librqbit-utp link MTU 1,428). Times are the median of three runs by wall
time; CPU is the process's (both ends). The ratio is librqbit-utp's wall time divided by
torrentkit's.";

/// One `RESULT` line: implementation, packet mode, wall seconds, CPU seconds, bytes.
struct Measured {
    name: String,
    packets: String,
    wall_s: f64,
    cpu_s: f64,
    bytes: u64,
}

fn parse(line: &str) -> anyhow::Result<Measured> {
    let f: Vec<&str> = line.split_whitespace().collect();
    let [name, packets, wall, cpu, bytes] = f[..] else {
        bail!("malformed result line `{line}` (want: impl packets wall_s cpu_s bytes)");
    };
    let num = |s: &str, what: &str| -> anyhow::Result<f64> {
        s.parse()
            .with_context(|| format!("{what} `{s}` in result line `{line}`"))
    };
    Ok(Measured {
        name: name.to_owned(),
        packets: packets.to_owned(),
        wall_s: num(wall, "wall seconds")?,
        cpu_s: num(cpu, "cpu seconds")?,
        bytes: num(bytes, "bytes")? as u64,
    })
}

pub(crate) fn run(root: &Path, passthrough: &[String]) -> anyhow::Result<Outcome> {
    let run = criterion::run(root, "utp", passthrough)?;
    let results = run
        .results
        .iter()
        .map(|l| parse(l))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let find = |name: &str, packets: &str| {
        results
            .iter()
            .find(|m| m.name == name && m.packets == packets)
    };
    let estimate = |m: Option<&Measured>| {
        m.map(|m| Estimate {
            mean_ns: m.wall_s * 1e9,
            bytes: Some(m.bytes),
        })
    };
    let mut table = Table::new(vec!["packets"], vec!["librqbit-utp"]);
    let mut cpu = String::from(
        "| packets | torrentkit MB/s | librqbit-utp MB/s | torrentkit CPU s | librqbit-utp CPU s |\n\
         |---------|----------------:|------------------:|-----------------:|-------------------:|\n",
    );
    for packets in ["path", "1400"] {
        let ours = find("torrentkit", packets);
        let theirs = find("librqbit-utp", packets);
        let mbps = |m: Option<&Measured>| {
            m.map(|m| format!("{:.0}", m.bytes as f64 / m.wall_s / 1e6))
                .unwrap_or_else(|| "—".into())
        };
        let secs = |m: Option<&Measured>| {
            m.map(|m| format!("{:.2}", m.cpu_s))
                .unwrap_or_else(|| "—".into())
        };
        cpu.push_str(&format!(
            "| {packets} | {} | {} | {} | {} |\n",
            mbps(ours),
            mbps(theirs),
            secs(ours),
            secs(theirs)
        ));
        table.push(Row {
            labels: vec![packets.into()],
            ours: estimate(ours),
            others: vec![estimate(theirs)],
            target: TARGET,
        });
    }
    let mut markdown =
        String::from("## utp: torrentkit-utp against librqbit-utp, 256 MiB over loopback\n\n");
    markdown.push_str(ABOUT);
    markdown.push_str("\n\n");
    markdown.push_str(&table.markdown());
    markdown.push('\n');
    markdown.push_str(&cpu);
    Ok(Outcome {
        markdown,
        failures: table.failures(),
    })
}
