//! `bt seed TORRENT DATA`: verify existing data against a torrent, then serve it until Ctrl-C.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;

use torrentkit_peer::{Placement, SeedLimits};

use super::placement::start_state;
use super::torrent_common::load;
use super::transfer::{self, NetArgs};

/// Arguments of `bt seed`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The torrent file.
    torrent: PathBuf,
    /// The data: the file of a single-file torrent, the top directory of a multi-file one.
    data: PathBuf,
    /// Trust a matching resume file instead of hashing the data first.
    #[arg(long)]
    trust_resume: bool,
    #[command(flatten)]
    net: NetArgs,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let torrent = load(&args.torrent)?;
    let placement = Placement::at(&torrent, &args.data)?;
    let storage = placement.storage();
    let start = start_state(&torrent, &placement, &storage, !args.trust_resume)?;
    let (have, all) = (start.have.count(), start.have.len());
    if have == 0 && all > 0 {
        bail!(
            "{}: no piece matches {} (is it the right data?)",
            args.data.display(),
            args.torrent.display()
        );
    }
    if have < all {
        eprintln!(
            "bt: warning: {}: only {have}/{all} pieces match; serving those and fetching the rest",
            args.data.display()
        );
    }
    transfer::run(
        &torrent,
        &placement,
        std::sync::Arc::new(storage),
        start,
        &args.net,
        SeedLimits::FOREVER,
    )
}
