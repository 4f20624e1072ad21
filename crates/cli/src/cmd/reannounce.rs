//! `bt reannounce`: set the tracker of torrents (btreannounce).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use super::torrent_common::{load, save};

/// Arguments of `bt reannounce`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The new announce URL. `announce-list` is removed, so this becomes the only tracker.
    url: String,
    /// The torrents to edit in place (atomically; the info-hash does not change).
    #[arg(required = true)]
    torrents: Vec<PathBuf>,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    for path in &args.torrents {
        let mut torrent = load(path)?;
        let before = torrent.info_hash();
        torrent
            .reannounce(&args.url)
            .with_context(|| path.display().to_string())?;
        debug_assert_eq!(before, torrent.info_hash());
        save(&torrent, path)?;
        println!("{}: announce set to {}", path.display(), args.url);
    }
    Ok(ExitCode::SUCCESS)
}
