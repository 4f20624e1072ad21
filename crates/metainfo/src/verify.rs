//! Checking data on disk against a torrent: which pieces and which files are complete, by SHA-1
//! for v1 torrents and by the BEP 52 Merkle trees for v2 and hybrid ones.

use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::hash::{digest_pieces, hash_pieces, Progress, Span, Want};
use crate::torrent::Torrent;

/// The state of one file after [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileStatus {
    /// Every piece overlapping the file matches.
    Complete,
    /// The file is not on disk.
    Missing,
    /// The file's size on disk differs from the torrent's.
    WrongSize {
        /// Its size on disk.
        found: u64,
    },
    /// Some pieces overlapping the file do not match.
    Incomplete {
        /// How many of its pieces do not match.
        bad_pieces: usize,
    },
}

/// The outcome of [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// One flag per piece: true when it matches.
    pub pieces: Vec<bool>,
    /// One entry per file of [`Info::files`](crate::Info::files): where it was looked for and its
    /// state. Pad files are always complete.
    pub files: Vec<(PathBuf, FileStatus)>,
}

impl VerifyReport {
    /// True when every piece matches.
    pub fn is_complete(&self) -> bool {
        self.pieces.iter().all(|&p| p)
    }

    /// The number of pieces that match.
    pub fn good_pieces(&self) -> usize {
        self.pieces.iter().filter(|&&p| p).count()
    }
}

/// Where each file of `torrent` lies when its content is at `content`: the file itself for a
/// single-file torrent, the top directory for a multi-file one. `None` for pad files.
pub fn file_locations(torrent: &Torrent, content: &Path) -> Vec<Option<PathBuf>> {
    let info = torrent.info();
    info.files()
        .iter()
        .map(|f| {
            if f.pad {
                None
            } else if info.is_multi_file() {
                Some(
                    f.path[1..]
                        .iter()
                        .fold(content.to_path_buf(), |p, c| p.join(c)),
                )
            } else {
                Some(content.to_path_buf())
            }
        })
        .collect()
}

/// Hashes the data at `content` (see [`file_locations`]) on `threads` threads (0: one per core)
/// and compares every piece with the torrent.
pub fn verify(
    torrent: &Torrent,
    content: &Path,
    threads: usize,
    progress: Progress<'_>,
) -> Result<VerifyReport> {
    let info = torrent.info();
    let mut locations = file_locations(torrent, content);
    use_original_names(torrent, content, &mut locations);
    let spans: Vec<Span> = info
        .files()
        .iter()
        .zip(&locations)
        .map(|(f, loc)| Span {
            path: loc.clone(),
            length: f.length,
        })
        .collect();
    let threads = match threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let pieces: Vec<bool> = if info.version().has_v2() {
        let want = Want {
            sha1: false,
            leaves: true,
        };
        let digests = digest_pieces(&spans, info.piece_length(), threads, false, want, progress)?;
        crate::v2pieces::verdicts(torrent, &digests)
    } else {
        let hashes = hash_pieces(&spans, info.piece_length(), threads, false, progress)?;
        hashes
            .iter()
            .zip(info.pieces())
            .map(|(got, want)| got.as_ref() == Some(want))
            .collect()
    };

    let files = info
        .files()
        .iter()
        .zip(locations)
        .map(|(f, loc)| {
            let Some(loc) = loc else {
                return (PathBuf::from(f.display_path()), FileStatus::Complete);
            };
            let status = if f.symlink.is_some() {
                FileStatus::Complete
            } else {
                match std::fs::metadata(&loc) {
                    Err(_) => FileStatus::Missing,
                    Ok(m) if m.len() != f.length => FileStatus::WrongSize { found: m.len() },
                    Ok(_) => {
                        let bad = piece_range(f.offset, f.length, info.piece_length())
                            .filter(|&p| !pieces[p])
                            .count();
                        if bad == 0 {
                            FileStatus::Complete
                        } else {
                            FileStatus::Incomplete { bad_pieces: bad }
                        }
                    }
                }
            };
            (loc, status)
        })
        .collect();
    Ok(VerifyReport { pieces, files })
}

/// A file renamed because its path differs from another's only in case (`a.txt` beside
/// `A.txt` is used as `a.1.txt`, as libtorrent does) is looked for under the name the torrent
/// gave it when the renamed one is not on disk but that one is: data made on a case-sensitive
/// file system keeps both names, and is complete, not missing.
fn use_original_names(torrent: &Torrent, content: &Path, locations: &mut [Option<PathBuf>]) {
    let info = torrent.info();
    for w in torrent.warnings() {
        let crate::Warning::DuplicatePath { original, renamed } = w else {
            continue;
        };
        let Some(i) = info
            .files()
            .iter()
            .position(|f| f.display_path() == *renamed)
        else {
            continue;
        };
        let Some(loc) = locations[i].as_ref() else {
            continue;
        };
        // `original` starts with the torrent's name, which is `content` itself.
        let candidate = original
            .split('/')
            .skip(1)
            .fold(content.to_path_buf(), |p, c| p.join(c));
        let taken = locations.iter().flatten().any(|l| *l == candidate);
        if !taken && !loc.exists() && candidate.is_file() {
            locations[i] = Some(candidate);
        }
    }
}

/// The pieces overlapping bytes `offset..offset + length`.
fn piece_range(offset: u64, length: u64, piece_length: u64) -> std::ops::Range<usize> {
    if length == 0 {
        return 0..0;
    }
    let first = offset / piece_length;
    let last = (offset + length - 1) / piece_length;
    first as usize..last as usize + 1
}
