//! `bt make-each`: one torrent per entry of a directory (btcompletedir).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use super::make::{default_output, make_one, MakeOptions};

/// Arguments of `bt make-each`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The directory whose entries (files and directories) each become a torrent, written as
    /// ENTRY.torrent beside them. Existing `.torrent` files and hidden entries are skipped.
    dir: PathBuf,
    /// Replace torrents that exist.
    #[arg(short, long)]
    force: bool,
    #[command(flatten)]
    options: MakeOptions,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&args.dir)
        .with_context(|| format!("reading {}", args.dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .with_context(|| format!("reading {}", args.dir.display()))?;
    entries.retain(|p| {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        !name.starts_with('.') && !name.ends_with(".torrent")
    });
    entries.sort();
    if entries.is_empty() {
        anyhow::bail!("{}: nothing to make torrents of", args.dir.display());
    }
    let mut failed = 0;
    for entry in &entries {
        let result =
            default_output(entry).and_then(|out| make_one(entry, &out, args.force, &args.options));
        if let Err(e) = result {
            eprintln!("bt: {e:#}");
            failed += 1;
        }
    }
    if failed > 0 {
        anyhow::bail!("{failed} of {} torrents could not be made", entries.len());
    }
    Ok(ExitCode::SUCCESS)
}
