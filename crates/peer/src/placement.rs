//! [`Placement`]: where one torrent's data lives on disk (a directory under the torrent's name,
//! or a path of the caller's choosing) and where its resume file sits, beside the data.

use std::fmt;
use std::path::{Path, PathBuf};

use torrentkit_metainfo::Torrent as Metainfo;

use crate::storage::{FileCache, FileStorage, FileStorageConfig, Layout, LayoutError};
use crate::{Bitfield, FileStamp, ResumeData, ResumeError};

/// The data of one torrent on disk, and its resume file.
#[derive(Debug, Clone)]
pub struct Placement {
    /// The torrent's info-hash (recorded in the resume file).
    pub info_hash: [u8; 20],
    /// The directory that holds the data (the torrent's file, or its top directory).
    pub root: PathBuf,
    /// The files under `root`; their first component is the data's name.
    pub layout: Layout,
    /// The file (single-file torrent) or top directory (multi-file).
    pub data: PathBuf,
    /// The resume file, `.NAME.bt-resume` beside the data.
    pub resume: PathBuf,
}

/// A torrent's data that cannot be placed where asked.
#[derive(Debug)]
#[non_exhaustive]
pub enum PlacementError {
    /// The path ends in no name (`/`, `..`).
    NoName {
        /// The path given.
        path: PathBuf,
    },
    /// The path's last component is not UTF-8 (the layout's names are strings).
    NameNotUtf8 {
        /// The path given.
        path: PathBuf,
    },
    /// The torrent's files cannot be laid out under the name.
    Layout {
        /// The torrent's name.
        torrent: String,
        /// What is wrong with its files.
        source: LayoutError,
    },
}

impl fmt::Display for PlacementError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlacementError::NoName { path } => {
                write!(f, "{}: names no file or directory", path.display())
            }
            PlacementError::NameNotUtf8 { path } => {
                write!(f, "{}: the name is not valid UTF-8", path.display())
            }
            PlacementError::Layout { torrent, source } => {
                write!(f, "laying out the files of {torrent}: {source}")
            }
        }
    }
}

impl std::error::Error for PlacementError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PlacementError::Layout { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl Placement {
    /// The data goes in `dir` under the torrent's own name.
    pub fn in_dir(torrent: &Metainfo, dir: &Path) -> Result<Self, PlacementError> {
        let name = torrent.info().name().to_owned();
        Placement::build(torrent, dir.to_path_buf(), name)
    }

    /// The data is `path` itself: the file of a single-file torrent, the top directory of a
    /// multi-file one (saved under another name than the torrent's, say).
    pub fn at(torrent: &Metainfo, path: &Path) -> Result<Self, PlacementError> {
        let name = path
            .file_name()
            .ok_or_else(|| PlacementError::NoName {
                path: path.to_path_buf(),
            })?
            .to_str()
            .ok_or_else(|| PlacementError::NameNotUtf8 {
                path: path.to_path_buf(),
            })?
            .to_owned();
        let root = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        Placement::build(torrent, root, name)
    }

    fn build(torrent: &Metainfo, root: PathBuf, name: String) -> Result<Self, PlacementError> {
        let info = torrent.info();
        // A parsed torrent's piece length is at most `MAX_PIECE_LENGTH` (i32::MAX): it fits.
        let piece_length = u32::try_from(info.piece_length()).unwrap_or(u32::MAX);
        // The torrent's paths start with its name; the data may be saved under another one.
        let files = info.files().iter().map(|f| {
            let mut path = f.path.clone();
            if let Some(first) = path.first_mut() {
                first.clone_from(&name);
            }
            (path, f.length, f.pad || f.symlink.is_some())
        });
        let layout = Layout::with_pad_files(files, piece_length).map_err(|source| {
            PlacementError::Layout {
                torrent: info.name().to_owned(),
                source,
            }
        })?;
        Ok(Placement {
            info_hash: torrent.info_hash().0,
            data: root.join(&name),
            resume: root.join(format!(".{name}.bt-resume")),
            root,
            layout,
        })
    }

    /// File storage for the data, with its own cache of open files.
    pub fn storage(&self) -> FileStorage {
        FileStorage::new(
            &self.root,
            self.layout.clone(),
            FileStorageConfig::default(),
        )
    }

    /// File storage for the data whose open files count against `cache` (shared by many).
    pub fn storage_with_cache(&self, cache: FileCache) -> FileStorage {
        FileStorage::with_cache(&self.root, self.layout.clone(), cache)
    }

    /// Saves the resume file for the verified pieces `have`, with the files' current stamps.
    pub fn save_resume(&self, have: &Bitfield) -> Result<(), ResumeError> {
        let files =
            FileStamp::collect(&self.root, &self.layout).map_err(|source| ResumeError::Io {
                path: self.root.clone(),
                source,
            })?;
        let data = ResumeData {
            info_hash: self.info_hash,
            pieces: have.clone(),
            files,
        };
        data.save(&self.resume)
    }

    /// Saves the resume file for `have` if it differs from `saved`, the pieces of the last
    /// save (a session's progress before its first report, of another piece count, is never
    /// saved); `saved` becomes `have` once written. Returns whether it wrote.
    pub fn save_resume_if_changed(
        &self,
        saved: &mut Bitfield,
        have: &Bitfield,
    ) -> Result<bool, ResumeError> {
        if have == saved || have.len() != self.layout.piece_count() {
            return Ok(false);
        }
        self.save_resume(have)?;
        saved.clone_from(have);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use torrentkit_metainfo::TorrentBuilder;

    use super::*;

    fn album(dir: &Path) -> Metainfo {
        let top = dir.join("album");
        std::fs::create_dir_all(&top).unwrap();
        std::fs::write(top.join("a.flac"), vec![1u8; 40_000]).unwrap();
        std::fs::write(top.join("b.txt"), vec![2u8; 10_000]).unwrap();
        TorrentBuilder::new(&top)
            .piece_length(16_384)
            .build()
            .unwrap()
    }

    #[test]
    fn in_a_directory_under_the_torrents_name() {
        let dir = tempfile::tempdir().unwrap();
        let t = album(dir.path());
        let p = Placement::in_dir(&t, Path::new("/srv/dl")).unwrap();
        assert_eq!(p.root, Path::new("/srv/dl"));
        assert_eq!(p.data, Path::new("/srv/dl/album"));
        assert_eq!(p.resume, Path::new("/srv/dl/.album.bt-resume"));
        assert_eq!(p.info_hash, t.info_hash().0);
        assert_eq!(p.layout.files()[0].path, ["album", "a.flac"]);
        assert_eq!(p.layout.piece_count(), 4);
    }

    #[test]
    fn at_a_path_under_another_name() {
        let dir = tempfile::tempdir().unwrap();
        let t = album(dir.path());
        let p = Placement::at(&t, Path::new("/srv/music/best of")).unwrap();
        assert_eq!(p.root, Path::new("/srv/music"));
        assert_eq!(p.data, Path::new("/srv/music/best of"));
        assert_eq!(p.resume, Path::new("/srv/music/.best of.bt-resume"));
        assert_eq!(p.layout.files()[1].path, ["best of", "b.txt"]);
        let bare = Placement::at(&t, Path::new("here")).unwrap();
        assert_eq!(bare.root, Path::new("."));
        let err = Placement::at(&t, Path::new("/")).unwrap_err();
        assert_eq!(err.to_string(), "/: names no file or directory");
    }

    #[test]
    fn the_saved_resume_file_matches_the_data() {
        let dir = tempfile::tempdir().unwrap();
        let t = album(dir.path());
        let p = Placement::in_dir(&t, dir.path()).unwrap();
        let mut have = Bitfield::new(4);
        have.insert(1).unwrap();
        p.save_resume(&have).unwrap();
        let back = ResumeData::load(&p.resume).unwrap().unwrap();
        assert_eq!(back.pieces, have);
        let now = FileStamp::collect(&p.root, &p.layout).unwrap();
        assert_eq!(back.verify(&p.info_hash, &p.layout, &now), Ok(()));
    }

    #[test]
    fn the_resume_file_is_written_again_only_when_the_pieces_changed() {
        let dir = tempfile::tempdir().unwrap();
        let t = album(dir.path());
        let p = Placement::in_dir(&t, dir.path()).unwrap();
        let mut saved = Bitfield::new(4);
        assert!(!p
            .save_resume_if_changed(&mut saved, &Bitfield::new(4))
            .unwrap());
        assert!(!p.resume.exists());
        // Before a session's first report its pieces are an empty set of another count.
        assert!(!p
            .save_resume_if_changed(&mut saved, &Bitfield::new(0))
            .unwrap());
        let mut have = Bitfield::new(4);
        have.insert(2).unwrap();
        assert!(p.save_resume_if_changed(&mut saved, &have).unwrap());
        assert_eq!(saved, have);
        let back = ResumeData::load(&p.resume).unwrap().unwrap();
        assert_eq!(back.pieces, have);
        assert!(!p.save_resume_if_changed(&mut saved, &have).unwrap());
    }
}
