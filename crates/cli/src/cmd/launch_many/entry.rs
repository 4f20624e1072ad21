//! One `.torrent` file of the directory `bt launch-many` serves: reading it, and how its
//! torrent's state and end read in the status table, the live view and `--json`.

use std::path::Path;

use anyhow::Context;
use torrentkit_metainfo::{InfoHash, Torrent};
use torrentkit_peer::manager::{StopEnd, Stopped, TorrentStatus};

use super::super::torrent_common::human_size;
use super::super::tui::state_of;
use super::watch::Stamp;

/// A `.torrent` file of the directory whose torrent the manager holds.
pub(crate) struct Watched {
    /// The file as last read.
    pub(crate) stamp: Stamp,
    pub(crate) info_hash: InfoHash,
    /// The torrent's name.
    pub(crate) name: String,
}

/// Reads the torrent of `file`.
pub(crate) fn load(file: &Path) -> anyhow::Result<Torrent> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    Torrent::from_bytes(&bytes).with_context(|| file.display().to_string())
}

/// The state word of the table and the live view (`-` for a torrent the manager lost).
pub(crate) fn state_word(status: Option<&TorrentStatus>) -> String {
    match status {
        Some(TorrentStatus::Checking) => "checking".to_owned(),
        Some(TorrentStatus::Failed(why)) => format!("error: {why}"),
        Some(TorrentStatus::Running(p)) => state_of(p).to_owned(),
        None => "-".to_owned(),
    }
}

/// A stopped torrent's last line and its `--json` summary.
pub(crate) fn stopped_report(stopped: &Stopped) -> (String, serde_json::Value) {
    let name = stopped.torrent.info().name();
    let mut json = serde_json::json!({
        "name": name,
        "info_hash": stopped.torrent.info_hash().to_hex(),
        "data": stopped.placement.data.display().to_string(),
    });
    let line = match &stopped.end {
        StopEnd::Ran {
            summary,
            resume_error,
        } => {
            json["pieces"] = summary.have.len().into();
            json["have"] = summary.have.count().into();
            json["complete"] = summary.have.is_full().into();
            json["downloaded"] = summary.downloaded.into();
            json["uploaded"] = summary.uploaded.into();
            let mut line = format!(
                "stopped {name}: {}/{} pieces, {} down, {} up",
                summary.have.count(),
                summary.have.len(),
                human_size(summary.downloaded),
                human_size(summary.uploaded),
            );
            if let Some(e) = &summary.error {
                line.push_str(&format!("; error: {e}"));
                json["error"] = e.to_string().into();
            }
            if let Some(e) = resume_error {
                line.push_str(&format!("; resume file not saved: {e}"));
            }
            line
        }
        StopEnd::WhileChecking => format!("stopped {name} while checking"),
        StopEnd::Failed(why) => {
            json["error"] = why.to_string().into();
            format!("stopped {name}")
        }
        // A way of ending this version of `bt` does not know yet.
        _ => format!("stopped {name}"),
    };
    (line, json)
}
