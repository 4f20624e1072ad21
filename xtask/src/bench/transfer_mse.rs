//! The encrypted rows of `cargo xtask bench transfer`: 256 MiB over loopback, `bt seed` ->
//! `bt download` with `--encryption require` (MSE, RC4) against libtorrent -> libtorrent with RC4
//! forced, beside bt -> bt in plaintext on the same data and the RC4 crate's single-core rate on
//! 16 KiB buffers (`crates/wire/examples/rc4_rate.rs`, release build). Target: encrypted bt at
//! least 1.5x encrypted libtorrent. One encrypted connection cannot pass the RC4 rate, so the
//! ratio to plaintext is bounded by RC4 rate / plaintext rate; the report shows how near it is.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{bail, Context as _};

use super::{better, bt_pair_with, lt_pair_with, Measure, RUNS};
use crate::bench::{verdict, Outcome};

const SIZE: u64 = 256 << 20;
const TARGET_SPEEDUP: f64 = 1.5;
const REQUIRE: &[&str] = &["--encryption", "require", "--transport", "tcp"];

/// Measures the three pairs (best of [`RUNS`], alternating) and the RC4 rate; appends the rows
/// and the verdict to `outcome`.
pub(super) fn run(
    root: &Path,
    bt: &Path,
    script: &Path,
    dir: &Path,
    outcome: &mut Outcome,
) -> anyhow::Result<()> {
    let (file, torrent) = super::prepare(bt, dir, "data-256MiB", SIZE, 8)?;
    let rc4 = rc4_rate(root)?;
    let (mut enc, mut plain, mut lt) = (None, None, None);
    for run in 1..=RUNS {
        println!("bench transfer: run {run} of {RUNS}: bt -> bt --encryption require, 256 MiB");
        let m = bt_pair_with(bt, &torrent, &file, dir, REQUIRE)?;
        println!("bench transfer:   {m:?}");
        enc = Some(better(enc, m));
        println!("bench transfer: run {run} of {RUNS}: bt -> bt plaintext, 256 MiB");
        let m = bt_pair_with(bt, &torrent, &file, dir, super::PLAIN_TCP)?;
        println!("bench transfer:   {m:?}");
        plain = Some(better(plain, m));
        println!(
            "bench transfer: run {run} of {RUNS}: libtorrent -> libtorrent RC4 forced, 256 MiB"
        );
        let m = lt_pair_with(script, &torrent, &file, dir, &["--rc4"])?;
        println!("bench transfer:   {m:?}");
        lt = Some(better(lt, m));
    }
    let (enc, plain, lt) = (
        enc.context("no encrypted bt run")?,
        plain.context("no plaintext bt run")?,
        lt.context("no libtorrent run")?,
    );
    report(outcome, enc, plain, lt, rc4);
    Ok(())
}

/// The RC4 crate's single-core MB/s on 16 KiB buffers, from the release-built example.
fn rc4_rate(root: &Path) -> anyhow::Result<f64> {
    let out = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .current_dir(root)
        .args([
            "run",
            "--release",
            "--quiet",
            "-p",
            "torrentkit-wire",
            "--example",
            "rc4_rate",
        ])
        .stdin(Stdio::null())
        .output()
        .context("running the rc4_rate example")?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "rc4_rate failed: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    text.lines()
        .find_map(|l| {
            l.strip_prefix("RC4 MB/s: ")?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .with_context(|| format!("rc4_rate printed {text:?}"))
}

fn report(outcome: &mut Outcome, enc: Measure, plain: Measure, lt: Measure, rc4: f64) {
    let rate = |m: &Measure| SIZE as f64 / m.wall / 1e6;
    let speedup = lt.wall / enc.wall;
    let to_plain = plain.wall / enc.wall;
    let bound = rc4 / rate(&plain);
    let md = &mut outcome.markdown;
    let _ = writeln!(
        md,
        "\n## bench transfer, encrypted: 256 MiB over loopback, one seed, one downloader (best of {RUNS})\n"
    );
    let _ = writeln!(md, "| pair | time | rate | downloader CPU | seed CPU |");
    let _ = writeln!(md, "|---|---:|---:|---:|---:|");
    for (name, m) in [
        ("bt -> bt, --encryption require (RC4)", &enc),
        ("libtorrent -> libtorrent, RC4 forced", &lt),
        ("bt -> bt, plaintext", &plain),
    ] {
        let _ = writeln!(
            md,
            "| {name} | {:.2} s | {:.0} MB/s | {:.2} s | {:.2} s |",
            m.wall,
            rate(m),
            m.down_cpu,
            m.seed_cpu
        );
    }
    let _ = writeln!(md, "\n| target | measured | |\n|---|---:|---|");
    let _ = writeln!(
        md,
        "| encrypted bt >= {TARGET_SPEEDUP}x encrypted libtorrent | {speedup:.2}x | {} |",
        verdict(speedup >= TARGET_SPEEDUP)
    );
    let limit = if bound < 1.0 {
        format!("so one encrypted connection is bounded near {bound:.2}x plaintext here")
    } else {
        format!("{bound:.2}x this run's plaintext rate, so RC4 alone is not the limit here")
    };
    let _ = writeln!(
        md,
        "\nEncrypted / plaintext bt: {to_plain:.2}x. RC4 (RustCrypto `rc4`, one core, in place on \
         16 KiB buffers, per CPU second): {rc4:.0} MB/s, {limit}; encrypted bt runs at {:.0}% of \
         the RC4 rate.",
        100.0 * rate(&enc) / rc4
    );
    if speedup < TARGET_SPEEDUP {
        outcome.failures.push(format!(
            "encrypted bt at {speedup:.2}x encrypted libtorrent's throughput, target {TARGET_SPEEDUP}x"
        ));
    }
}
