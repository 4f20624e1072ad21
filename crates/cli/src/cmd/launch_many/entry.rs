//! One torrent of `bt launch-many`: read from its `.torrent`, its data checked on a blocking
//! thread (one check at a time), then run as a session on the shared port until its file is
//! removed or the program stops.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use tokio::sync::{mpsc, watch, Semaphore};
use torrentkit_metainfo::Torrent;
use torrentkit_peer::session::{Progress, Session, SessionConfig, Shared};
use torrentkit_peer::storage::{FileCache, FileStorage};
use torrentkit_peer::{Bitfield, TorrentConfig};

use super::super::placement::{start_state_with, Placement, Start};
use super::super::tui::state_of;
use super::watch::Stamp;

/// What the main loop hears about torrents from the tasks it started.
pub(crate) enum Event {
    /// The data of entry `id` is checked (or could not be).
    Checked {
        id: u64,
        result: anyhow::Result<(FileStorage, Start)>,
    },
    /// A stopped torrent's last line (its resume file saved) and its summary for `--json`.
    Stopped {
        line: String,
        summary: serde_json::Value,
    },
    /// Something to tell the user (from a check).
    Note { line: String },
}

/// Where a torrent is in its life.
pub(crate) enum State {
    /// Waiting for its turn to check the data.
    Checking,
    /// Downloading or seeding.
    Running {
        session: Session,
        progress: watch::Receiver<Progress>,
    },
    /// It cannot run; the reason is shown in the table.
    Failed(String),
}

/// A torrent the directory holds.
pub(crate) struct Entry {
    /// Distinguishes this entry from an earlier one of the same file.
    pub(crate) id: u64,
    pub(crate) stamp: Stamp,
    pub(crate) torrent: Arc<Torrent>,
    pub(crate) placement: Arc<Placement>,
    pub(crate) name: String,
    pub(crate) state: State,
    /// The pieces in the resume file now.
    pub(crate) saved: Option<Bitfield>,
    /// `complete NAME` has been said.
    pub(crate) complete_said: bool,
}

/// What every session of the run shares.
#[derive(Clone)]
pub(crate) struct Common {
    pub(crate) shared: Shared,
    pub(crate) files: FileCache,
    pub(crate) checks: Arc<Semaphore>,
    pub(crate) events: mpsc::UnboundedSender<Event>,
    pub(crate) peer_id: [u8; 20],
    pub(crate) seed: u64,
    pub(crate) port: u16,
    pub(crate) announce_ip: Option<std::net::IpAddr>,
    pub(crate) output: PathBuf,
}

impl Entry {
    /// Reads `file` and queues its data check.
    pub(crate) fn load(
        id: u64,
        file: &std::path::Path,
        stamp: Stamp,
        common: &Common,
    ) -> anyhow::Result<Entry> {
        let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
        let torrent = Torrent::from_bytes(&bytes).with_context(|| file.display().to_string())?;
        let placement = Placement::in_dir(&torrent, &common.output)?;
        let name = torrent.info().name().to_owned();
        let entry = Entry {
            id,
            stamp,
            torrent: Arc::new(torrent),
            placement: Arc::new(placement),
            name,
            state: State::Checking,
            saved: None,
            complete_said: false,
        };
        entry.check(common);
        Ok(entry)
    }

    fn check(&self, common: &Common) {
        let (torrent, placement) = (self.torrent.clone(), self.placement.clone());
        let (checks, events, files, id) = (
            common.checks.clone(),
            common.events.clone(),
            common.files.clone(),
            self.id,
        );
        tokio::spawn(async move {
            // One check at a time: twenty torrents hashing at once would only thrash the disk.
            let Ok(_turn) = checks.acquire_owned().await else {
                return;
            };
            let notes = events.clone();
            let result = tokio::task::spawn_blocking(move || {
                std::fs::create_dir_all(&placement.root)
                    .with_context(|| format!("creating {}", placement.root.display()))?;
                let storage =
                    FileStorage::with_cache(&placement.root, placement.layout.clone(), files);
                let say = |line: String| {
                    let _ = notes.send(Event::Note { line });
                };
                let start = start_state_with(&torrent, &placement, &storage, false, &say)?;
                Ok((storage, start))
            })
            .await
            .unwrap_or_else(|e| Err(anyhow::anyhow!("the check failed: {e}")));
            let _ = events.send(Event::Checked { id, result });
        });
    }

    /// Starts the session over the checked data.
    pub(crate) fn start(
        &mut self,
        storage: FileStorage,
        start: Start,
        common: &Common,
        peers: &[std::net::SocketAddr],
    ) -> anyhow::Result<()> {
        let info = self.torrent.info();
        let tc = TorrentConfig::new(
            self.torrent.info_hash().0,
            common.peer_id,
            info.total_size(),
            u32::try_from(info.piece_length()).context("piece length")?,
            common.seed ^ self.id,
        );
        let mut sc = SessionConfig::new(tc, info.pieces().to_vec());
        sc.trackers = self.torrent.trackers();
        sc.listen_port = common.port;
        sc.seed = true;
        sc.announce_ip = common.announce_ip;
        sc.shared = Some(common.shared.clone());
        self.saved = Some(start.have.clone());
        let session = Session::start(sc, Arc::new(storage), start.have, None);
        for p in peers {
            session.add_peer(*p);
        }
        let progress = session.progress();
        self.state = State::Running { session, progress };
        Ok(())
    }

    /// The latest progress, while running.
    pub(crate) fn progress(&self) -> Option<Progress> {
        match &self.state {
            State::Running { progress, .. } => Some(progress.borrow().clone()),
            _ => None,
        }
    }

    /// Whether every piece is verified (without copying the progress).
    pub(crate) fn is_complete(&self) -> bool {
        matches!(&self.state, State::Running { progress, .. } if progress.borrow().complete)
    }

    /// The state word of the table and the live view.
    pub(crate) fn state_word(&self) -> String {
        match &self.state {
            State::Checking => "checking".to_owned(),
            State::Failed(why) => format!("error: {why}"),
            State::Running { progress, .. } => state_of(&progress.borrow()).to_owned(),
        }
    }

    /// Saves the resume file if the verified pieces changed since the last save.
    pub(crate) fn save_if_changed(&mut self) -> anyhow::Result<()> {
        let Some(p) = self.progress() else {
            return Ok(());
        };
        if self.saved.as_ref().is_some_and(|s| *s == p.verified) || p.verified.is_empty() {
            return Ok(());
        }
        self.placement.save_resume(&self.torrent, &p.verified)?;
        self.saved = Some(p.verified);
        Ok(())
    }

    /// Stops the torrent in the background (announce `stopped`, flush, save the resume file);
    /// the returned task sends the last line as [`Event::Stopped`] and ends.
    pub(crate) fn stop(self, events: mpsc::UnboundedSender<Event>) -> tokio::task::JoinHandle<()> {
        let Entry {
            name,
            torrent,
            placement,
            state,
            ..
        } = self;
        tokio::spawn(async move {
            let mut json = serde_json::json!({
                "name": name,
                "info_hash": torrent.info_hash().to_hex(),
                "data": placement.data.display().to_string(),
            });
            let line = match state {
                State::Running { session, .. } => {
                    let summary = session.stop().await;
                    json["pieces"] = summary.have.len().into();
                    json["have"] = summary.have.count().into();
                    json["complete"] = summary.have.is_full().into();
                    json["downloaded"] = summary.downloaded.into();
                    json["uploaded"] = summary.uploaded.into();
                    let saved = if summary.have.len() == placement.layout.piece_count() {
                        placement.save_resume(&torrent, &summary.have).err()
                    } else {
                        None
                    };
                    let mut line = format!(
                        "stopped {name}: {}/{} pieces, {} down, {} up",
                        summary.have.count(),
                        summary.have.len(),
                        super::super::torrent_common::human_size(summary.downloaded),
                        super::super::torrent_common::human_size(summary.uploaded),
                    );
                    if let Some(e) = summary.error {
                        line.push_str(&format!("; error: {e}"));
                        json["error"] = e.to_string().into();
                    }
                    if let Some(e) = saved {
                        line.push_str(&format!("; resume file not saved: {e:#}"));
                    }
                    line
                }
                State::Checking => format!("stopped {name} while checking"),
                State::Failed(why) => {
                    json["error"] = why.into();
                    format!("stopped {name}")
                }
            };
            let _ = events.send(Event::Stopped {
                line,
                summary: json,
            });
        })
    }
}
