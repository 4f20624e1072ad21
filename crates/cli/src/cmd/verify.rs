//! `bt verify`: check data on disk against a torrent, per file and per piece.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use torrentkit_metainfo::FileStatus;

use super::torrent_common::{human_size, load, progress_bar};

/// Arguments of `bt verify`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The torrent file.
    torrent: PathBuf,
    /// The data: the file itself for a single-file torrent, the top directory for a multi-file
    /// one (default: the torrent's name, beside the torrent file).
    #[arg(short, long, value_name = "PATH")]
    data: Option<PathBuf>,
    /// Hashing threads (default: one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let torrent = load(&args.torrent)?;
    let info = torrent.info();
    let data = match args.data {
        Some(d) => d,
        None => args
            .torrent
            .parent()
            .map_or_else(|| PathBuf::from("."), |p| p.to_path_buf())
            .join(info.name()),
    };
    let bar = progress_bar(info.total_size(), "verifying");
    let report = torrentkit_metainfo::verify(&torrent, &data, args.threads, &|done, _| {
        bar.set_position(done)
    })
    .with_context(|| format!("verifying {}", data.display()))?;
    bar.finish_and_clear();
    let mut bad_files = 0;
    for ((path, status), file) in report.files.iter().zip(info.files()) {
        if file.pad {
            continue;
        }
        let line = match status {
            FileStatus::Complete => format!("ok          {}", path.display()),
            FileStatus::Missing => format!("MISSING     {}", path.display()),
            FileStatus::WrongSize { found } => format!(
                "WRONG SIZE  {} ({} on disk, {} expected)",
                path.display(),
                found,
                file.length
            ),
            FileStatus::Incomplete { bad_pieces } => format!(
                "INCOMPLETE  {} ({bad_pieces} bad piece{})",
                path.display(),
                if *bad_pieces == 1 { "" } else { "s" }
            ),
            _ => format!("UNKNOWN     {}", path.display()),
        };
        if *status != FileStatus::Complete {
            bad_files += 1;
        }
        println!("{line}");
    }
    let good = report.good_pieces();
    let all = report.pieces.len();
    let good_bytes: u64 = (0..all)
        .filter(|&i| report.pieces[i])
        .map(|i| info.piece_size(i))
        .sum();
    println!(
        "{good}/{all} pieces ok ({} of {}); {bad_files} file{} incomplete",
        human_size(good_bytes),
        human_size(info.total_size()),
        if bad_files == 1 { "" } else { "s" }
    );
    if report.is_complete() && bad_files == 0 {
        Ok(ExitCode::SUCCESS)
    } else {
        let bad: Vec<String> = report
            .pieces
            .iter()
            .enumerate()
            .filter(|(_, ok)| !**ok)
            .map(|(i, _)| i.to_string())
            .take(20)
            .collect();
        let what = if bad.is_empty() {
            format!(
                "{bad_files} file{} with the wrong size or missing",
                if bad_files == 1 { "" } else { "s" }
            )
        } else {
            format!(
                "bad pieces: {}{}",
                bad.join(", "),
                if all - good > 20 { ", ..." } else { "" }
            )
        };
        eprintln!("bt: {}: data is incomplete ({what})", data.display());
        Ok(ExitCode::FAILURE)
    }
}
