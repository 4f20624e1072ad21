//! `bt web-seeds`: show, set or clear BEP 19 web seeds (`url-list`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use super::torrent_common::{load, save};

/// Arguments of `bt web-seeds`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The torrent to edit in place (atomically; the info-hash does not change).
    torrent: PathBuf,
    /// The new web seed URLs, replacing any present. With none (and no --clear), print them.
    urls: Vec<String>,
    /// Remove all web seeds.
    #[arg(long, conflicts_with = "urls")]
    clear: bool,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut torrent = load(&args.torrent)?;
    if args.urls.is_empty() && !args.clear {
        for url in torrent.web_seeds() {
            println!("{url}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    torrent
        .set_web_seeds(&args.urls)
        .with_context(|| args.torrent.display().to_string())?;
    save(&torrent, &args.torrent)?;
    println!(
        "{}: {} web seed{} set",
        args.torrent.display(),
        args.urls.len(),
        if args.urls.len() == 1 { "" } else { "s" }
    );
    Ok(ExitCode::SUCCESS)
}
