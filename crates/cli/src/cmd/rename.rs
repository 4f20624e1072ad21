//! `bt rename`: change a torrent's name (btrename). This changes the info-hash.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use super::torrent_common::{load, save};

/// Arguments of `bt rename`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The torrent to edit in place (atomically).
    torrent: PathBuf,
    /// The new name (a file name: no `/`, `\`, NUL, not `.` or `..`).
    name: String,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut torrent = load(&args.torrent)?;
    let before = torrent.info_hash();
    let old_name = torrent.info().name().to_owned();
    torrent
        .rename(&args.name)
        .with_context(|| args.torrent.display().to_string())?;
    save(&torrent, &args.torrent)?;
    println!(
        "{}: renamed {old_name:?} to {:?}; the info-hash changed from {before} to {} \
         (the name is inside `info`), so this is a different torrent to peers and trackers",
        args.torrent.display(),
        args.name,
        torrent.info_hash()
    );
    Ok(ExitCode::SUCCESS)
}
