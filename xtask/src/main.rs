//! The project's build system, run as `cargo xtask <task>` (alias in `.cargo/config.toml`).
//!
//! - `cargo xtask ci`: formatting, clippy, rustdoc and every test with warnings denied, then the
//!   interop suite against real BitTorrent programs.
//! - `cargo xtask interop [CASE...]`: the interop cases (all when none is named).
//! - `cargo xtask bench [NAME...]`: benchmarks measured against reference programs in one run.
//! - `cargo xtask conformance [DIR]`: `bt show` on libtorrent's test torrents, against its verdicts.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line program prints"
)]

mod bench;
mod ci;
mod conformance;
mod interop;

use anyhow::bail;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let task = args.next();
    let rest: Vec<String> = args.collect();
    match task.as_deref() {
        Some("ci") => ci::run(&rest),
        Some("interop") => interop::run(&rest),
        Some("bench") => bench::run(&rest),
        Some("conformance") => conformance::run(&rest),
        Some("help") | Some("--help") | Some("-h") | None => {
            println!(
                "usage: cargo xtask <ci | interop [CASE...] | bench [NAME...] | conformance [DIR]>"
            );
            Ok(())
        }
        Some(other) => bail!("unknown task `{other}`; try `cargo xtask help`"),
    }
}
