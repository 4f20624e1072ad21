//! What a [`Manager`](super::Manager) reports: [`Event`]s as torrents are checked, start,
//! complete and stop, each torrent's [`TorrentStatus`], and the errors that go with them.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use torrentkit_metainfo::{InfoHash, Torrent as Metainfo};

use crate::session::{Progress, Start, StartError, Summary};
use crate::{Placement, ResumeError};

/// Something that happened to one of the manager's torrents.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event {
    /// Its data is checked and its session runs.
    Started {
        /// The torrent.
        info_hash: InfoHash,
        /// The pieces it started with and how they were found.
        start: Start,
    },
    /// Its data could not be checked; it does not run (its status says why until removed).
    Failed {
        /// The torrent.
        info_hash: InfoHash,
        /// Why.
        error: Arc<CheckError>,
    },
    /// Something its check has to say (a resume file ignored, a re-check begun).
    Note {
        /// The torrent.
        info_hash: InfoHash,
        /// What to tell the user.
        line: String,
    },
    /// Every piece is verified (said once per torrent, also for data complete at start).
    Completed {
        /// The torrent.
        info_hash: InfoHash,
    },
    /// A torrent [removed](super::Manager::remove) has stopped: `stopped` announced, data
    /// flushed, resume file saved.
    Stopped(Stopped),
}

/// Where a torrent is in its life, as [`Manager::status`](super::Manager::status) shows it.
#[derive(Debug, Clone)]
pub enum TorrentStatus {
    /// Waiting for its turn to check the data, or being checked.
    Checking,
    /// Downloading or seeding, with the session's latest progress.
    Running(Progress),
    /// It cannot run.
    Failed(Arc<CheckError>),
}

/// A torrent that has stopped, and how its run ended.
#[derive(Debug)]
pub struct Stopped {
    /// The torrent.
    pub torrent: Arc<Metainfo>,
    /// Where its data and resume file are.
    pub placement: Arc<Placement>,
    /// How it ended.
    pub end: StopEnd,
}

/// How a stopped torrent's run ended.
#[derive(Debug)]
#[non_exhaustive]
pub enum StopEnd {
    /// It was stopped before its check was done.
    WhileChecking,
    /// It never ran: its check failed.
    Failed(Arc<CheckError>),
    /// Its session ran and stopped.
    Ran {
        /// The session's totals and verified pieces (and its error, if it ended on one).
        summary: Summary,
        /// The resume file could not be saved.
        resume_error: Option<ResumeError>,
    },
}

/// Why a torrent's data could not be checked.
#[derive(Debug)]
#[non_exhaustive]
pub enum CheckError {
    /// The directory for the data could not be created.
    CreateDir {
        /// The directory.
        dir: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The pieces to start with could not be found.
    Start(StartError),
    /// The check's thread ended without an answer.
    Aborted(String),
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckError::CreateDir { dir, source } => {
                write!(f, "creating {}: {source}", dir.display())
            }
            CheckError::Start(e) => e.fmt(f),
            CheckError::Aborted(why) => write!(f, "the check failed: {why}"),
        }
    }
}

impl std::error::Error for CheckError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CheckError::CreateDir { source, .. } => Some(source),
            CheckError::Start(e) => Some(e),
            CheckError::Aborted(_) => None,
        }
    }
}

/// A torrent the manager would not add.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AddError {
    /// A torrent of this info-hash is there already.
    AlreadyAdded(InfoHash),
}

impl fmt::Display for AddError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddError::AlreadyAdded(h) => write!(f, "manager: torrent {h} is there already"),
        }
    }
}

impl std::error::Error for AddError {}
