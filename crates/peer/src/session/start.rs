//! Which pieces a torrent starts with: the resume file's, when every file's size and mtime still
//! match it; nothing, when no data is on disk yet; otherwise the pieces that pass a re-check of
//! the data ([`Placement::find_start`]).

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use crate::storage::{Layout, Storage};
use crate::{Bitfield, FileStamp, Placement, ResumeData, ResumeError, ResumeMismatch};

/// Why the data is hashed again instead of trusting the resume file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecheckReason {
    /// The caller asked for a check although the resume file matches.
    Asked,
    /// There is no usable resume file (none, unreadable, or for another torrent).
    NoResumeFile,
    /// The resume file no longer matches the files.
    Mismatch(ResumeMismatch),
}

impl fmt::Display for RecheckReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecheckReason::Asked => f.write_str("asked to verify"),
            RecheckReason::NoResumeFile => f.write_str("no resume file"),
            RecheckReason::Mismatch(m) => m.fmt(f),
        }
    }
}

/// How the pieces a torrent starts with were found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartKind {
    /// No data on disk yet.
    Fresh,
    /// The resume file matched the files.
    Resumed,
    /// The data was hashed, for this reason.
    Rechecked(RecheckReason),
}

impl StartKind {
    /// `fresh`, `resumed` or `rechecked`.
    pub fn as_str(&self) -> &'static str {
        match self {
            StartKind::Fresh => "fresh",
            StartKind::Resumed => "resumed",
            StartKind::Rechecked(_) => "rechecked",
        }
    }
}

/// The pieces to start a session with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Start {
    /// The verified pieces.
    pub have: Bitfield,
    /// How they were found.
    pub kind: StartKind,
    /// The pieces the resume file claimed, trusted or not (to count pieces fetched again).
    pub previous: Option<Bitfield>,
}

/// What [`Placement::find_start`] has to tell while it works.
#[derive(Debug)]
#[non_exhaustive]
pub enum StartNote<'a> {
    /// The resume file could not be read; it is ignored.
    UnreadableResume(&'a ResumeError),
    /// The data is being hashed (this takes a while).
    Checking {
        /// Pieces to hash.
        pieces: u32,
        /// The data checked.
        data: &'a Path,
        /// Why.
        reason: &'a RecheckReason,
    },
}

impl fmt::Display for StartNote<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartNote::UnreadableResume(e) => {
                write!(f, "warning: {e}; checking the data instead")
            }
            StartNote::Checking {
                pieces,
                data,
                reason,
            } => write!(
                f,
                "checking {pieces} pieces of {} ({reason})",
                data.display()
            ),
        }
    }
}

/// Why the pieces to start with could not be found.
#[derive(Debug)]
#[non_exhaustive]
pub enum StartError {
    /// The files' sizes and times could not be read.
    Stamps {
        /// The data's directory.
        root: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A check was asked for, but none of the data exists.
    NothingToVerify {
        /// The data that is missing.
        data: PathBuf,
    },
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Stamps { root, source } => {
                write!(f, "reading the files under {}: {source}", root.display())
            }
            StartError::NothingToVerify { data } => {
                write!(f, "{}: not found (nothing to verify)", data.display())
            }
        }
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StartError::Stamps { source, .. } => Some(source),
            StartError::NothingToVerify { .. } => None,
        }
    }
}

/// What to do, decided from the resume file and the files' stamps alone.
#[derive(Debug, PartialEq, Eq)]
enum Decision {
    /// Start with these pieces, no hashing.
    Ready(Start),
    /// Hash the data first.
    Recheck {
        reason: RecheckReason,
        previous: Option<Bitfield>,
    },
    /// A check was asked for and nothing is on disk.
    NothingToVerify,
}

/// The resume-or-recheck rule: a resume file is trusted only if it is for this torrent, has its
/// piece count, and every file's size and mtime still match (`always_check` distrusts it
/// anyway); with no data on disk there is nothing to check.
fn decide(
    resume: Option<ResumeData>,
    info_hash: &[u8; 20],
    layout: &Layout,
    stamps: &[Option<FileStamp>],
    always_check: bool,
) -> Decision {
    let pieces = layout.piece_count();
    let resume = resume.filter(|r| &r.info_hash == info_hash && r.pieces.len() == pieces);
    let previous = resume.as_ref().map(|r| r.pieces.clone());
    let reason = match resume {
        Some(r) => match r.verify(info_hash, layout, stamps) {
            Ok(()) if !always_check => {
                return Decision::Ready(Start {
                    have: r.pieces,
                    kind: StartKind::Resumed,
                    previous,
                })
            }
            Ok(()) => RecheckReason::Asked,
            Err(mismatch) => RecheckReason::Mismatch(mismatch),
        },
        None => RecheckReason::NoResumeFile,
    };
    let nothing_on_disk = stamps
        .iter()
        .zip(layout.files())
        .all(|(s, f)| f.pad || s.is_none());
    match (nothing_on_disk, always_check) {
        (true, false) => Decision::Ready(Start {
            have: Bitfield::new(pieces),
            kind: StartKind::Fresh,
            previous,
        }),
        (true, true) => Decision::NothingToVerify,
        (false, _) => Decision::Recheck { reason, previous },
    }
}

impl Placement {
    /// Finds the pieces on disk: trusts the resume file if the files still match it,
    /// otherwise hashes the data of `storage` against `hashes` on every core (`always_check`
    /// forces that). It blocks for as long as the hashing takes (run it on a blocking thread
    /// in async code); `note` hears what is worth telling a user meanwhile.
    pub fn find_start<H: super::PieceHashes + Sync + ?Sized>(
        &self,
        storage: &dyn Storage,
        hashes: &H,
        always_check: bool,
        note: &mut dyn FnMut(StartNote<'_>),
    ) -> Result<Start, StartError> {
        let stamps =
            FileStamp::collect(&self.root, &self.layout).map_err(|source| StartError::Stamps {
                root: self.root.clone(),
                source,
            })?;
        let resume = ResumeData::load(&self.resume).unwrap_or_else(|e| {
            note(StartNote::UnreadableResume(&e));
            None
        });
        match decide(resume, &self.info_hash, &self.layout, &stamps, always_check) {
            Decision::Ready(start) => Ok(start),
            Decision::NothingToVerify => Err(StartError::NothingToVerify {
                data: self.data.clone(),
            }),
            Decision::Recheck { reason, previous } => {
                note(StartNote::Checking {
                    pieces: self.layout.piece_count(),
                    data: &self.data,
                    reason: &reason,
                });
                let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
                Ok(Start {
                    have: super::recheck(storage, hashes, threads),
                    kind: StartKind::Rechecked(reason),
                    previous,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: [u8; 20] = [7; 20];

    fn layout() -> Layout {
        Layout::new([(["t", "a"], 6u64), (["t", "b"], 6)], 4).unwrap()
    }

    fn stamp(size: u64, mtime_secs: i64) -> Option<FileStamp> {
        Some(FileStamp {
            size,
            mtime_secs,
            mtime_nanos: 0,
        })
    }

    fn resume(pieces: &[u32], files: Vec<Option<FileStamp>>) -> ResumeData {
        let mut have = Bitfield::new(3);
        for &p in pieces {
            have.insert(p).unwrap();
        }
        ResumeData {
            info_hash: HASH,
            pieces: have,
            files,
        }
    }

    #[test]
    fn a_matching_resume_file_is_trusted_unless_a_check_is_asked() {
        let now = [stamp(6, 100), stamp(6, 100)];
        let r = resume(&[0, 2], now.to_vec());
        let Decision::Ready(start) = decide(Some(r.clone()), &HASH, &layout(), &now, false) else {
            panic!("not trusted")
        };
        assert_eq!(start.kind, StartKind::Resumed);
        assert_eq!(start.have, r.pieces);
        assert_eq!(start.previous.as_ref(), Some(&r.pieces));
        assert_eq!(
            decide(Some(r.clone()), &HASH, &layout(), &now, true),
            Decision::Recheck {
                reason: RecheckReason::Asked,
                previous: Some(r.pieces)
            }
        );
    }

    #[test]
    fn a_changed_file_means_a_recheck_naming_it() {
        let r = resume(&[0], vec![stamp(6, 100), stamp(6, 100)]);
        let now = [stamp(6, 100), stamp(6, 101)];
        let Decision::Recheck { reason, previous } =
            decide(Some(r.clone()), &HASH, &layout(), &now, false)
        else {
            panic!("trusted a changed file")
        };
        assert_eq!(
            reason.to_string(),
            "`t/b` was modified after the resume file was written"
        );
        assert_eq!(previous, Some(r.pieces));
    }

    #[test]
    fn a_resume_file_of_another_torrent_counts_as_none() {
        let now = [stamp(6, 100), stamp(6, 100)];
        let mut other = resume(&[0, 1, 2], now.to_vec());
        other.info_hash = [8; 20];
        assert_eq!(
            decide(Some(other), &HASH, &layout(), &now, false),
            Decision::Recheck {
                reason: RecheckReason::NoResumeFile,
                previous: None
            }
        );
        let mut fewer = resume(&[], now.to_vec());
        fewer.pieces = Bitfield::new(2);
        assert_eq!(
            decide(Some(fewer), &HASH, &layout(), &now, false),
            Decision::Recheck {
                reason: RecheckReason::NoResumeFile,
                previous: None
            }
        );
    }

    #[test]
    fn no_data_on_disk_is_a_fresh_start_or_nothing_to_verify() {
        let none = [None, None];
        let Decision::Ready(start) = decide(None, &HASH, &layout(), &none, false) else {
            panic!("not fresh")
        };
        assert_eq!(start.kind, StartKind::Fresh);
        assert_eq!(start.have, Bitfield::new(3));
        assert_eq!(
            decide(None, &HASH, &layout(), &none, true),
            Decision::NothingToVerify
        );
        // One file there: it is checked.
        assert_eq!(
            decide(None, &HASH, &layout(), &[None, stamp(6, 1)], false),
            Decision::Recheck {
                reason: RecheckReason::NoResumeFile,
                previous: None
            }
        );
    }
}
