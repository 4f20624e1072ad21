//! Where a torrent's data lives on disk (`--output DIR` or `--save-as PATH`), its resume file,
//! and which pieces we can start with: a resume file that still matches, else a re-check.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use torrentkit_metainfo::Torrent;
use torrentkit_peer::session::recheck;
use torrentkit_peer::storage::{FileStorage, FileStorageConfig, Layout};
use torrentkit_peer::{Bitfield, FileStamp, ResumeData};

/// The data of one torrent on disk.
pub(crate) struct Placement {
    /// The directory that holds the data (the torrent's file, or its top directory).
    pub(crate) root: PathBuf,
    /// The files under `root`.
    pub(crate) layout: Layout,
    /// The file (single-file torrent) or top directory (multi-file).
    pub(crate) data: PathBuf,
    /// The resume file, beside the data.
    pub(crate) resume: PathBuf,
}

impl Placement {
    /// The data goes in `dir` under the torrent's own name.
    pub(crate) fn in_dir(torrent: &Torrent, dir: &Path) -> anyhow::Result<Self> {
        let name = torrent.info().name().to_owned();
        Placement::build(torrent, dir.to_path_buf(), name)
    }

    /// The data is `path` itself: the file of a single-file torrent, the top directory of a
    /// multi-file one (as `--save-as` and `bt seed DATA` name it).
    pub(crate) fn at(torrent: &Torrent, path: &Path) -> anyhow::Result<Self> {
        let name = path
            .file_name()
            .with_context(|| format!("{}: names no file or directory", path.display()))?
            .to_str()
            .with_context(|| format!("{}: the name is not valid UTF-8", path.display()))?
            .to_owned();
        let root = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        Placement::build(torrent, root, name)
    }

    fn build(torrent: &Torrent, root: PathBuf, name: String) -> anyhow::Result<Self> {
        let info = torrent.info();
        let piece_length = u32::try_from(info.piece_length())
            .with_context(|| format!("piece length {} is too large", info.piece_length()))?;
        // The torrent's paths start with its name; the data may be saved under another one.
        let files = info.files().iter().map(|f| {
            let mut path = f.path.clone();
            if let Some(first) = path.first_mut() {
                first.clone_from(&name);
            }
            (path, f.length, f.pad || f.symlink.is_some())
        });
        let layout = Layout::with_pad_files(files, piece_length)
            .with_context(|| format!("laying out the files of {}", info.name()))?;
        Ok(Placement {
            data: root.join(&name),
            resume: root.join(format!(".{name}.bt-resume")),
            root,
            layout,
        })
    }

    /// File storage for the data.
    pub(crate) fn storage(&self) -> FileStorage {
        FileStorage::new(
            &self.root,
            self.layout.clone(),
            FileStorageConfig::default(),
        )
    }

    /// Saves the resume file for `have` with the files' current stamps.
    pub(crate) fn save_resume(&self, torrent: &Torrent, have: &Bitfield) -> anyhow::Result<()> {
        let files = FileStamp::collect(&self.root, &self.layout)
            .with_context(|| format!("reading the file times under {}", self.root.display()))?;
        let data = ResumeData {
            info_hash: torrent.info_hash().0,
            pieces: have.clone(),
            files,
        };
        data.save(&self.resume)
            .with_context(|| format!("saving {}", self.resume.display()))
    }
}

/// How the pieces we start with were found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StartKind {
    /// No data on disk yet.
    Fresh,
    /// The resume file matched the files.
    Resumed,
    /// The data was hashed; the reason is why the resume file was not used.
    Rechecked(String),
}

/// The pieces to start with.
pub(crate) struct Start {
    /// Verified pieces.
    pub(crate) have: Bitfield,
    /// How they were found.
    pub(crate) kind: StartKind,
    /// The pieces the resume file claimed, trusted or not (to count pieces fetched again).
    pub(crate) previous: Option<Bitfield>,
}

/// Finds the pieces on disk: trusts the resume file if the files still match it, otherwise
/// hashes the data (`always_check` forces that), on every core. What it has to say (a
/// warning, that it is checking) goes to stderr.
pub(crate) fn start_state(
    torrent: &Torrent,
    placement: &Placement,
    storage: &FileStorage,
    always_check: bool,
) -> anyhow::Result<Start> {
    start_state_with(torrent, placement, storage, always_check, &|line| {
        eprintln!("bt: {line}");
    })
}

/// [`start_state`], with its lines given to `say` (a live view shows them in its own area).
pub(crate) fn start_state_with(
    torrent: &Torrent,
    placement: &Placement,
    storage: &FileStorage,
    always_check: bool,
    say: &(dyn Fn(String) + Sync),
) -> anyhow::Result<Start> {
    let pieces = placement.layout.piece_count();
    let info_hash = torrent.info_hash().0;
    let stamps = FileStamp::collect(&placement.root, &placement.layout)
        .with_context(|| format!("reading the files under {}", placement.root.display()))?;
    let resume = match ResumeData::load(&placement.resume) {
        Ok(r) => r.filter(|r| r.info_hash == info_hash && r.pieces.len() == pieces),
        Err(e) => {
            say(format!("warning: {e}; checking the data instead"));
            None
        }
    };
    let previous = resume.as_ref().map(|r| r.pieces.clone());
    let why = match &resume {
        Some(r) => match r.verify(&info_hash, &placement.layout, &stamps) {
            Ok(()) if !always_check => {
                return Ok(Start {
                    have: r.pieces.clone(),
                    kind: StartKind::Resumed,
                    previous,
                })
            }
            Ok(()) => "asked to verify".to_owned(),
            Err(mismatch) => mismatch.to_string(),
        },
        None => "no resume file".to_owned(),
    };
    let nothing_on_disk = stamps
        .iter()
        .zip(placement.layout.files())
        .all(|(s, f)| f.pad || s.is_none());
    if nothing_on_disk && !always_check {
        return Ok(Start {
            have: Bitfield::new(pieces),
            kind: StartKind::Fresh,
            previous,
        });
    }
    if nothing_on_disk {
        bail!(
            "{}: not found (nothing to verify)",
            placement.data.display()
        );
    }
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    say(format!(
        "checking {} pieces of {} ({why})",
        pieces,
        placement.data.display()
    ));
    let have = recheck(storage, torrent.info().pieces(), threads);
    Ok(Start {
        have,
        kind: StartKind::Rechecked(why),
        previous,
    })
}
