//! `bt http-seeds` and `bt web-seeds`: show, set or clear a torrent's BEP 17 HTTP seeds
//! (btsethttpseeds) or BEP 19 web seeds (`url-list`). The two differ only in which list they edit.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use super::torrent_common::{load, save};

/// Which list of seeds a command edits.
#[derive(Debug, Clone, Copy)]
pub(crate) enum SeedKind {
    /// BEP 17 `httpseeds`.
    Http,
    /// BEP 19 `url-list`.
    Web,
}

impl SeedKind {
    fn noun(self) -> &'static str {
        match self {
            SeedKind::Http => "HTTP seed",
            SeedKind::Web => "web seed",
        }
    }
}

/// Arguments of `bt http-seeds` and `bt web-seeds`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The torrent to edit in place (atomically; the info-hash does not change).
    torrent: PathBuf,
    /// The new seed URLs, replacing any present. With none (and no --clear), print them.
    urls: Vec<String>,
    /// Remove all seeds of this kind.
    #[arg(long, conflicts_with = "urls")]
    clear: bool,
}

pub(crate) fn run(kind: SeedKind, args: Args) -> anyhow::Result<ExitCode> {
    let mut torrent = load(&args.torrent)?;
    if args.urls.is_empty() && !args.clear {
        let urls = match kind {
            SeedKind::Http => torrent.http_seeds(),
            SeedKind::Web => torrent.web_seeds(),
        };
        for url in urls {
            println!("{url}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    match kind {
        SeedKind::Http => torrent.set_http_seeds(&args.urls),
        SeedKind::Web => torrent.set_web_seeds(&args.urls),
    }
    .with_context(|| args.torrent.display().to_string())?;
    save(&torrent, &args.torrent)?;
    println!(
        "{}: {} {}{} set",
        args.torrent.display(),
        args.urls.len(),
        kind.noun(),
        if args.urls.len() == 1 { "" } else { "s" }
    );
    Ok(ExitCode::SUCCESS)
}
