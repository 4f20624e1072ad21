//! `bt http-seeds`: show, set or clear BEP 17 HTTP seeds (btsethttpseeds).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use super::torrent_common::{load, save};

/// Arguments of `bt http-seeds`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The torrent to edit in place (atomically; the info-hash does not change).
    torrent: PathBuf,
    /// The new HTTP seed URLs, replacing any present. With none (and no --clear), print them.
    urls: Vec<String>,
    /// Remove all HTTP seeds.
    #[arg(long, conflicts_with = "urls")]
    clear: bool,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut torrent = load(&args.torrent)?;
    if args.urls.is_empty() && !args.clear {
        for url in torrent.http_seeds() {
            println!("{url}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    torrent
        .set_http_seeds(&args.urls)
        .with_context(|| args.torrent.display().to_string())?;
    save(&torrent, &args.torrent)?;
    println!(
        "{}: {} HTTP seed{} set",
        args.torrent.display(),
        args.urls.len(),
        if args.urls.len() == 1 { "" } else { "s" }
    );
    Ok(ExitCode::SUCCESS)
}
