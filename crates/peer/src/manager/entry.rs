//! One torrent of a [`Manager`](super::Manager): its data checked on a blocking thread (one
//! check at a time over the whole manager), then its session; and how it stops.

use std::sync::Arc;

use tokio::sync::{mpsc, watch, Semaphore};
use torrentkit_metainfo::{InfoHash, Torrent as Metainfo};

use super::event::{CheckError, StopEnd, Stopped};
use crate::session::{Progress, Session, Start};
use crate::storage::{FileCache, FileStorage};
use crate::{Bitfield, Placement, ResumeError};

/// Where a torrent is in its life.
pub(super) enum State {
    /// Waiting for its turn to check the data, or being checked.
    Checking,
    /// Downloading or seeding.
    Running {
        session: Session,
        progress: watch::Receiver<Progress>,
    },
    /// It cannot run.
    Failed(Arc<CheckError>),
}

/// What the background tasks tell the manager.
pub(super) enum Report {
    /// The check of `generation` of `info_hash` is done.
    Checked {
        info_hash: InfoHash,
        generation: u64,
        result: Result<(FileStorage, Start), CheckError>,
    },
    /// A line from that check.
    Note {
        info_hash: InfoHash,
        generation: u64,
        line: String,
    },
    /// A removed torrent has stopped.
    Stopped(Stopped),
}

/// One torrent the manager holds.
pub(super) struct Entry {
    /// Tells this addition of the torrent from an earlier one (removed while being checked).
    pub(super) generation: u64,
    pub(super) torrent: Arc<Metainfo>,
    pub(super) placement: Arc<Placement>,
    pub(super) state: State,
    /// The pieces in the resume file now (as far as this run knows).
    pub(super) saved: Bitfield,
    /// [`Event::Completed`](super::Event::Completed) has been reported.
    pub(super) completion_reported: bool,
}

impl Entry {
    /// The latest progress, while running.
    pub(super) fn progress(&self) -> Option<Progress> {
        match &self.state {
            State::Running { progress, .. } => Some(progress.borrow().clone()),
            _ => None,
        }
    }

    /// Whether every piece is verified (without copying the progress).
    pub(super) fn is_complete(&self) -> bool {
        matches!(&self.state, State::Running { progress, .. } if progress.borrow().complete)
    }

    /// Saves the resume file if the verified pieces changed since the last save.
    pub(super) fn save_if_changed(&mut self) -> Result<(), ResumeError> {
        let Some(p) = self.progress() else {
            return Ok(());
        };
        self.placement
            .save_resume_if_changed(&mut self.saved, &p.verified)
            .map(drop)
    }

    /// Stops the torrent: announces `stopped`, flushes the data, saves the resume file.
    pub(super) async fn stop(self) -> Stopped {
        let Entry {
            torrent,
            placement,
            state,
            ..
        } = self;
        let end = match state {
            State::Running { session, .. } => {
                let summary = session.stop().await;
                // A summary of another piece count (a failed start) must not overwrite the file.
                let resume_error = (summary.have.len() == placement.layout.piece_count())
                    .then(|| placement.save_resume(&summary.have).err())
                    .flatten();
                StopEnd::Ran {
                    summary,
                    resume_error,
                }
            }
            State::Checking => StopEnd::WhileChecking,
            State::Failed(e) => StopEnd::Failed(e),
        };
        Stopped {
            torrent,
            placement,
            end,
        }
    }
}

/// Checks the data of `generation` of a torrent in the background, after every check queued
/// before it (`turns` has one permit), and reports the result.
pub(super) fn spawn_check(
    torrent: Arc<Metainfo>,
    placement: Arc<Placement>,
    generation: u64,
    turns: Arc<Semaphore>,
    files: FileCache,
    reports: mpsc::UnboundedSender<Report>,
) {
    let info_hash = torrent.info_hash();
    tokio::spawn(async move {
        // One check at a time: twenty torrents hashing at once would only thrash the disk.
        let Ok(_turn) = turns.acquire_owned().await else {
            return;
        };
        let notes = reports.clone();
        let result = tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&placement.root).map_err(|source| CheckError::CreateDir {
                dir: placement.root.clone(),
                source,
            })?;
            let storage = placement.storage_with_cache(files);
            let mut note = |n: crate::session::StartNote<'_>| {
                let _ = notes.send(Report::Note {
                    info_hash,
                    generation,
                    line: n.to_string(),
                });
            };
            let start = placement
                .find_start(
                    &storage,
                    &*crate::session::piece_hashes(&torrent),
                    false,
                    &mut note,
                )
                .map_err(CheckError::Start)?;
            Ok((storage, start))
        })
        .await
        .unwrap_or_else(|e| Err(CheckError::Aborted(e.to_string())));
        let _ = reports.send(Report::Checked {
            info_hash,
            generation,
            result,
        });
    });
}
