//! `bt copy-announce`: copy the trackers of one torrent to others (btcopyannounce).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use super::torrent_common::{load, save};

/// Arguments of `bt copy-announce`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The torrent whose `announce` and `announce-list` are copied, byte for byte.
    source: PathBuf,
    /// The torrents to edit in place (atomically; their info-hashes do not change).
    #[arg(required = true)]
    dest: Vec<PathBuf>,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let source = load(&args.source)?;
    for path in &args.dest {
        let mut torrent = load(path)?;
        torrent
            .copy_announce_from(&source)
            .with_context(|| path.display().to_string())?;
        save(&torrent, path)?;
        let tiers = torrent.trackers();
        println!(
            "{}: {} tracker{} in {} tier{} copied from {}",
            path.display(),
            tiers.iter().map(Vec::len).sum::<usize>(),
            if tiers.iter().map(Vec::len).sum::<usize>() == 1 {
                ""
            } else {
                "s"
            },
            tiers.len(),
            if tiers.len() == 1 { "" } else { "s" },
            args.source.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
