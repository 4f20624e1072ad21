//! The command-line grammar of `bt`, declared with clap's derive API.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// torrentkit: a BitTorrent toolkit.
#[derive(Debug, Parser)]
#[command(name = "bt", version, about, long_about = None, propagate_version = true)]
pub(crate) struct Args {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Print any bencoded file (torrent, resume file, tracker reply) as JSON.
    ///
    /// Byte strings that are UTF-8 become JSON strings; others become {"$hex": "..."} (and
    /// non-UTF-8 dictionary keys become "$hex:..."). Integers stay integers.
    Decode {
        /// The file to read, or `-` for standard input.
        file: PathBuf,
        /// Accept dictionaries with unsorted keys, as some real-world torrents have them.
        #[arg(long)]
        lenient: bool,
        /// Print the JSON on one line instead of indented.
        #[arg(long)]
        compact: bool,
    },
    /// Print a shell completion script for `bt`.
    Completions {
        /// The shell to generate completions for.
        shell: clap_complete::Shell,
    },
}
