//! Helpers shared by the torrent-file subcommands: loading with warnings, sizes, the progress
//! bar, and tracker tiers from the command line.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use torrentkit_metainfo::Torrent;

/// Reads a torrent, printing each soft defect as a warning on stderr.
pub(crate) fn load(path: &Path) -> anyhow::Result<Torrent> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let torrent = Torrent::from_bytes(&bytes).with_context(|| path.display().to_string())?;
    for w in torrent.warnings() {
        eprintln!("bt: warning: {}: {w}", path.display());
    }
    Ok(torrent)
}

/// Writes an edited torrent back atomically.
pub(crate) fn save(torrent: &Torrent, path: &Path) -> anyhow::Result<()> {
    torrent
        .write_atomic(path)
        .with_context(|| format!("writing {}", path.display()))
}

/// A progress bar on stderr with rate and ETA when stderr is a terminal; hidden otherwise.
pub(crate) fn progress_bar(total: u64, what: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_message(what.to_owned());
    bar
}

/// `1.5 GiB`-style sizes.
pub(crate) fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.2} {}", UNITS[unit])
    }
}

/// Tracker tiers from repeated `--tracker` values: each value is a tier, commas separate the
/// URLs of one tier.
pub(crate) fn tiers(values: &[String]) -> Vec<Vec<String>> {
    values
        .iter()
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|u| !u.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .filter(|t| !t.is_empty())
        .collect()
}
