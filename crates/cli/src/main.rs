//! `bt`: the torrentkit command line. Parsing, output and exit codes live here; the work is done
//! by the library crates.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line program prints"
)]

mod args;
mod cmd;
mod log;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = args::Args::parse();
    log::init(args.verbose);
    match cmd::run(args) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("bt: {err:#}");
            ExitCode::FAILURE
        }
    }
}
