//! The uTP rows of `cargo xtask bench transfer`: 256 MiB over loopback, `bt seed` ->
//! `bt download` with `--transport utp` against the same pair over TCP and against
//! libtorrent -> libtorrent with TCP off (`shared/interop/lt_forced.py utp`'s settings), all
//! plaintext, alternating in the same run. Targets: bt over uTP at least 0.3x bt over TCP and
//! at least 5x libtorrent over uTP. CPU seconds per GiB of both ends are reported beside them.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context as _;

use super::{better, bt_pair_with, lt_pair_with, Measure, PLAIN_TCP, RUNS};
use crate::bench::{verdict, Outcome};

const SIZE: u64 = 256 << 20;
const TO_TCP: f64 = 0.3;
const TO_LIBTORRENT: f64 = 5.0;
const PLAIN_UTP: &[&str] = &["--encryption", "plaintext", "--transport", "utp"];

/// Measures the three pairs (best of [`RUNS`], alternating); appends the rows and verdicts.
pub(super) fn run(
    bt: &Path,
    script: &Path,
    dir: &Path,
    outcome: &mut Outcome,
) -> anyhow::Result<()> {
    let (file, torrent) = super::prepare(bt, dir, "data-256MiB", SIZE, 8)?;
    let (mut utp, mut tcp, mut lt) = (None, None, None);
    for run in 1..=RUNS {
        println!("bench transfer: run {run} of {RUNS}: bt -> bt --transport utp, 256 MiB");
        let m = bt_pair_with(bt, &torrent, &file, dir, PLAIN_UTP)?;
        println!("bench transfer:   {m:?}");
        utp = Some(better(utp, m));
        println!("bench transfer: run {run} of {RUNS}: bt -> bt --transport tcp, 256 MiB");
        let m = bt_pair_with(bt, &torrent, &file, dir, PLAIN_TCP)?;
        println!("bench transfer:   {m:?}");
        tcp = Some(better(tcp, m));
        println!("bench transfer: run {run} of {RUNS}: libtorrent -> libtorrent uTP only, 256 MiB");
        let m = lt_pair_with(script, &torrent, &file, dir, &["--utp"])?;
        println!("bench transfer:   {m:?}");
        lt = Some(better(lt, m));
    }
    let (utp, tcp, lt) = (
        utp.context("no bt uTP run")?,
        tcp.context("no bt TCP run")?,
        lt.context("no libtorrent uTP run")?,
    );
    report(outcome, utp, tcp, lt);
    Ok(())
}

fn report(outcome: &mut Outcome, utp: Measure, tcp: Measure, lt: Measure) {
    let gib = SIZE as f64 / (1u64 << 30) as f64;
    let rate = |m: &Measure| SIZE as f64 / m.wall / 1e6;
    let to_tcp = tcp.wall / utp.wall;
    let to_lt = lt.wall / utp.wall;
    let md = &mut outcome.markdown;
    let _ = writeln!(
        md,
        "\n## bench transfer, uTP: 256 MiB over loopback, one seed, one downloader, plaintext (best of {RUNS})\n"
    );
    let _ = writeln!(
        md,
        "| pair | time | rate | downloader CPU s/GiB | seed CPU s/GiB | downloader peak RSS |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|");
    for (name, m) in [
        ("bt -> bt, --transport utp", &utp),
        ("bt -> bt, --transport tcp", &tcp),
        ("libtorrent -> libtorrent, uTP only (TCP off)", &lt),
    ] {
        let _ = writeln!(
            md,
            "| {name} | {:.2} s | {:.0} MB/s | {:.2} | {:.2} | {:.1} MiB |",
            m.wall,
            rate(m),
            m.down_cpu / gib,
            m.seed_cpu / gib,
            m.down_rss
        );
    }
    let _ = writeln!(md, "\n| target | measured | |\n|---|---:|---|");
    let _ = writeln!(
        md,
        "| bt over uTP >= {TO_TCP}x bt over TCP | {to_tcp:.2}x | {} |",
        verdict(to_tcp >= TO_TCP)
    );
    let _ = writeln!(
        md,
        "| bt over uTP >= {TO_LIBTORRENT}x libtorrent over uTP | {to_lt:.2}x | {} |",
        verdict(to_lt >= TO_LIBTORRENT)
    );
    if to_tcp < TO_TCP {
        outcome.failures.push(format!(
            "bt over uTP at {to_tcp:.2}x bt over TCP, target {TO_TCP}x"
        ));
    }
    if to_lt < TO_LIBTORRENT {
        outcome.failures.push(format!(
            "bt over uTP at {to_lt:.2}x libtorrent over uTP, target {TO_LIBTORRENT}x"
        ));
    }
}
