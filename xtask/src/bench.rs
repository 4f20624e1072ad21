//! `cargo xtask bench [--strict] [NAME...] [-- CRITERION_ARGS...]`: benchmarks that measure
//! torrentkit against other implementations in the same run and report the speed ratio against a
//! target per row, as a markdown table printed and written to `target/bench/<NAME>.md`.
//!
//! Every benchmark is reported; only `--strict` turns a missed target into a failing exit status.
//! Arguments after `--` go to the benchmark binaries (a criterion filter, `--quick`...); rows a
//! filter leaves out entirely are left out of the table, while a row missing torrentkit's
//! measurement otherwise counts as a failure.

mod aquatic;
mod bencode;
mod criterion;
mod dht;
mod make;
mod stream;
mod table;
mod tracker;
mod transfer;
mod udp_load;
mod utp;
mod web_seed;
mod wire;

use std::path::Path;

use anyhow::{bail, Context as _};

use crate::interop::workspace;

/// What a benchmark hands back: its report and the rows that missed their targets.
pub(crate) struct Outcome {
    /// The markdown report (heading, table, notes).
    markdown: String,
    /// One line per row that missed its target or was not measured.
    failures: Vec<String>,
}

/// A benchmark: its name on the command line and how to run it from the workspace root, with the
/// arguments to pass through to the benchmark binary.
struct Bench {
    name: &'static str,
    run: fn(&Path, &[String]) -> anyhow::Result<Outcome>,
}

const BENCHES: &[Bench] = &[
    Bench {
        name: "bencode",
        run: bencode::run,
    },
    Bench {
        name: "make",
        run: make::run,
    },
    Bench {
        name: "tracker",
        run: tracker::run,
    },
    Bench {
        name: "wire",
        run: wire::run,
    },
    Bench {
        name: "transfer",
        run: transfer::run,
    },
    Bench {
        name: "stream",
        run: stream::run,
    },
    Bench {
        name: "web-seed",
        run: web_seed::run,
    },
    Bench {
        name: "dht",
        run: dht::run,
    },
    Bench {
        name: "utp",
        run: utp::run,
    },
];

pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    let (ours, passthrough) = match args.iter().position(|a| a == "--") {
        Some(i) => (&args[..i], &args[i + 1..]),
        None => (args, &[][..]),
    };
    let mut strict = false;
    let mut selected = Vec::new();
    for arg in ours {
        match arg.as_str() {
            "--strict" => strict = true,
            flag if flag.starts_with('-') => bail!(
                "unknown option `{flag}` for `cargo xtask bench`; \
                 usage: cargo xtask bench [--strict] [NAME...] [-- CRITERION_ARGS...]"
            ),
            name => match BENCHES.iter().find(|b| b.name == name) {
                Some(bench) => selected.push(bench),
                None => bail!("unknown benchmark `{name}`; known: {}", known_names()),
            },
        }
    }
    if selected.is_empty() {
        selected.extend(BENCHES);
    }

    let root = workspace::root()?;
    let report_dir = root.join("target").join("bench");
    std::fs::create_dir_all(&report_dir)
        .with_context(|| format!("creating {}", report_dir.display()))?;
    let mut failures = Vec::new();
    for bench in selected {
        let outcome = (bench.run)(root, passthrough)
            .with_context(|| format!("benchmark `{}`", bench.name))?;
        let path = report_dir.join(format!("{}.md", bench.name));
        std::fs::write(&path, &outcome.markdown)
            .with_context(|| format!("writing {}", path.display()))?;
        println!("\n{}", outcome.markdown);
        println!("(written to {})", path.display());
        failures.extend(
            outcome
                .failures
                .iter()
                .map(|f| format!("{}: {f}", bench.name)),
        );
    }

    if !failures.is_empty() {
        println!("\n{} row(s) below target:", failures.len());
        for failure in &failures {
            println!("  {failure}");
        }
        if strict {
            bail!("{} benchmark row(s) below target", failures.len());
        }
    }
    Ok(())
}

/// `PASS` or `FAIL`, the verdict column of every report.
fn verdict(ok: bool) -> &'static str {
    if ok {
        "PASS"
    } else {
        "FAIL"
    }
}

/// The one-minute load average, printed under a report so a reader can tell a busy machine.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned())
}

fn known_names() -> String {
    BENCHES
        .iter()
        .map(|b| b.name)
        .collect::<Vec<_>>()
        .join(", ")
}
