//! `bt magnet`: the magnet link of a torrent (or the parts of a magnet link).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use serde_json::json;
use torrentkit_metainfo::Magnet;

use super::torrent_common::load;

/// Arguments of `bt magnet`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// A torrent file; or, with --parse, a magnet link.
    input: String,
    /// Parse INPUT as a magnet link and print its parts as JSON (exit 1 if it is invalid).
    #[arg(long)]
    parse: bool,
    /// Leave the trackers out of the link.
    #[arg(long)]
    no_trackers: bool,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.parse {
        let m = Magnet::parse(&args.input)?;
        let value = json!({
            "info_hash": m.info_hash.to_hex(),
            "name": m.name,
            "length": m.length,
            "trackers": m.trackers,
            "web_seeds": m.web_seeds,
            "peers": m.peers,
            "select_only": m.select_only.iter().map(|&(a, b)| json!([a, b])).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(ExitCode::SUCCESS);
    }
    let path = PathBuf::from(&args.input);
    let torrent = load(&path).with_context(|| "making a magnet link".to_owned())?;
    let mut magnet = Magnet::from_torrent(&torrent);
    if args.no_trackers {
        magnet.trackers.clear();
    }
    println!("{magnet}");
    Ok(ExitCode::SUCCESS)
}
