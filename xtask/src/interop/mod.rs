//! `cargo xtask interop [CASE...]`: cases that prove torrentkit against real BitTorrent programs
//! (libtorrent, mktorrent, opentracker...), each bounded in time, with its logs and scratch files
//! under `target/interop/CASE/`.
//!
//! The helpers are shared by every case and by `cargo xtask bench`: [`process`] (managed child
//! processes), [`packages`] (external programs and their Debian packages), [`net`] (ports),
//! [`python`] (libtorrent snippets), [`opentracker`], [`http`] and [`announce`] (tracker requests),
//! [`data`] (deterministic files), [`bt`] (the binary under test).

use std::time::Instant;

use anyhow::{anyhow, bail};

pub(crate) mod announce;
pub(crate) mod bt;
mod cases;
#[allow(
    dead_code,
    reason = "shared helpers: some serve cases and benches not written yet"
)]
pub(crate) mod context;
pub(crate) mod data;
pub(crate) mod hex;
pub(crate) mod http;
pub(crate) mod json_diff;
#[allow(
    dead_code,
    reason = "shared helpers: some serve cases and benches not written yet"
)]
pub(crate) mod net;
pub(crate) mod nginx;
#[allow(
    dead_code,
    reason = "shared helpers: some serve cases and benches not written yet"
)]
pub(crate) mod opentracker;
pub(crate) mod packages;
#[allow(
    dead_code,
    reason = "shared helpers: some serve cases and benches not written yet"
)]
pub(crate) mod process;
#[allow(
    dead_code,
    reason = "shared helpers: some serve cases and benches not written yet"
)]
pub(crate) mod python;
pub(crate) mod redis;
mod runner;
pub(crate) mod workspace;

use cases::{Case, ALL};

/// Runs the named cases (all when none is named), prints `interop: N passed, N failed` last,
/// and fails if any case failed.
pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    if args.iter().any(|a| a == "--list") {
        for case in ALL {
            println!(
                "{:<12} {} (limit {} s)",
                case.name,
                case.about,
                case.timeout.as_secs()
            );
        }
        return Ok(());
    }
    let selected = select(args)?;
    let interop_dir = workspace::target_dir()?.join("interop");
    let built = bt::path().map(|_| ());

    let mut failed = Vec::new();
    for case in &selected {
        println!("interop: {} ({}) ...", case.name, case.about);
        let started = Instant::now();
        let result = match &built {
            Ok(()) => runner::run_case(case, &interop_dir),
            Err(err) => Err(anyhow!("bt could not be built: {err:#}")),
        };
        let secs = started.elapsed().as_secs_f64();
        match result {
            Ok(()) => println!("interop: {} passed in {secs:.1} s", case.name),
            Err(err) => {
                println!("interop: {} FAILED after {secs:.1} s: {err:#}", case.name);
                println!(
                    "interop: {} logs are in {}",
                    case.name,
                    interop_dir.join(case.name).display()
                );
                failed.push(case.name);
            }
        }
    }
    println!(
        "interop: {} passed, {} failed",
        selected.len() - failed.len(),
        failed.len()
    );
    if !failed.is_empty() {
        bail!("interop case(s) failed: {}", failed.join(", "));
    }
    Ok(())
}

/// The cases named in `args`, in the order given, or all of them.
fn select(args: &[String]) -> anyhow::Result<Vec<&'static Case>> {
    if args.is_empty() {
        return Ok(ALL.iter().collect());
    }
    let known = || ALL.iter().map(|c| c.name).collect::<Vec<_>>().join(", ");
    args.iter()
        .map(|name| {
            if name.starts_with('-') {
                bail!("unknown option `{name}`; usage: cargo xtask interop [--list] [CASE...]");
            }
            ALL.iter()
                .find(|c| c.name == name)
                .ok_or_else(|| anyhow!("unknown interop case `{name}`; known cases: {}", known()))
        })
        .collect()
}
