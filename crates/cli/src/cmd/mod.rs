//! One module per `bt` subcommand; `run` dispatches to them.

mod decode;

use std::process::ExitCode;

use clap::CommandFactory;

use crate::args::{Args, Command};

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::Decode {
            file,
            lenient,
            compact,
        } => decode::run(&file, lenient, compact),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Args::command(), "bt", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
    }
}
