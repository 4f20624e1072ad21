//! `cargo xtask ci`: the test command CI runs. Formatting, clippy and rustdoc with warnings
//! denied, every test (doc tests included), then the whole interop suite and the conformance run
//! on libtorrent's test torrents; stops at the first failing step and names it.

use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context as _};

use crate::interop::{self, workspace};

/// A cargo command: its arguments and extra environment.
struct Step {
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
}

const CARGO_STEPS: &[Step] = &[
    Step {
        args: &["fmt", "--all", "--check"],
        env: &[],
    },
    Step {
        args: &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
        env: &[],
    },
    Step {
        args: &["doc", "--workspace", "--no-deps"],
        env: &[("RUSTDOCFLAGS", "-D warnings")],
    },
    Step {
        args: &["test", "--workspace"],
        env: &[],
    },
];

pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    if let Some(extra) = args.first() {
        bail!("`cargo xtask ci` takes no arguments (got `{extra}`)");
    }
    let started = Instant::now();
    let total = CARGO_STEPS.len() + 2;
    let root = workspace::root()?;
    for (i, step) in CARGO_STEPS.iter().enumerate() {
        let env: String = step
            .env
            .iter()
            .map(|(k, v)| format!("{k}=\"{v}\" "))
            .collect();
        let title = format!("{env}cargo {}", step.args.join(" "));
        timed(i + 1, total, &title, || {
            let status = Command::new(workspace::cargo())
                .args(step.args)
                .envs(step.env.iter().copied())
                .current_dir(root)
                .stdin(Stdio::null())
                .status()
                .with_context(|| format!("could not run {title}"))?;
            if !status.success() {
                bail!("{status}");
            }
            Ok(())
        })?;
    }
    timed(total - 1, total, "cargo xtask interop (every case)", || {
        interop::run(&[])
    })?;
    timed(total, total, "cargo xtask conformance", || {
        crate::conformance::run(&[])
    })?;
    println!(
        "ci: all {total} steps passed in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Runs one step between a header and its elapsed time; a failure names the step.
fn timed(
    n: usize,
    total: usize,
    title: &str,
    step: impl FnOnce() -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    println!("\n==> ci step {n}/{total}: {title}");
    let started = Instant::now();
    let result = step();
    let secs = started.elapsed().as_secs_f64();
    match &result {
        Ok(()) => println!("==> ci step {n}/{total} passed in {secs:.1} s: {title}"),
        Err(_) => println!("==> ci step {n}/{total} FAILED after {secs:.1} s: {title}"),
    }
    result.with_context(|| format!("ci failed at step {n}/{total}: {title}"))
}
