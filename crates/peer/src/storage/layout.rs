//! Where each piece lives on disk: a torrent's files laid end to end, cut into pieces.

use std::collections::HashSet;
use std::fmt;

use super::path::{check_component, PathProblem};

/// The standard block size requested from peers (16 KiB).
pub const BLOCK_SIZE: u32 = 16 * 1024;

/// One file of a torrent, at its place in the concatenated data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Path components relative to the download directory, each checked safe.
    pub path: Vec<String>,
    /// Length in bytes.
    pub length: u64,
    /// Offset of the file's first byte in the torrent's concatenated data.
    pub offset: u64,
    /// A BEP 47 pad file: zeros that are never written to disk (reads return zeros).
    pub pad: bool,
}

impl FileEntry {
    /// The path joined with `/`, for messages.
    pub fn display_path(&self) -> String {
        self.path.join("/")
    }
}

/// A piece of a piece range that falls inside one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileSpan {
    /// Index of the file in [`Layout::files`].
    pub file: usize,
    /// Offset inside that file.
    pub file_offset: u64,
    /// Offset inside the caller's buffer.
    pub buf_offset: usize,
    /// Length of the span in bytes.
    pub len: usize,
}

/// A torrent's files laid out end to end and cut into pieces of `piece_length` bytes (the last
/// piece may be shorter). Pieces span file boundaries; zero-length files occupy no bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    files: Vec<FileEntry>,
    piece_length: u32,
    total_length: u64,
    piece_count: u32,
}

/// A file list that cannot be laid out safely.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LayoutError {
    /// The piece length is zero.
    ZeroPieceLength,
    /// The file list is empty.
    NoFiles,
    /// A file has no path components.
    EmptyPath {
        /// Index of the file.
        file: usize,
    },
    /// A path component is unsafe (`..`, absolute, empty, NUL or a separator).
    UnsafeComponent {
        /// Index of the file.
        file: usize,
        /// The offending component, lossily printable.
        component: String,
        /// What is wrong with it.
        problem: PathProblem,
    },
    /// Two files have the same path, or one file's path is a directory of another.
    PathConflict {
        /// The path that appears twice, or as both file and directory.
        path: String,
    },
    /// The total length does not fit in `u64`, or the piece count in `u32`.
    TooLarge,
}

impl fmt::Display for LayoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LayoutError::ZeroPieceLength => f.write_str("layout: piece length is zero"),
            LayoutError::NoFiles => f.write_str("layout: the torrent has no files"),
            LayoutError::EmptyPath { file } => write!(f, "layout: file {file} has an empty path"),
            LayoutError::UnsafeComponent {
                file,
                component,
                problem,
            } => {
                write!(
                    f,
                    "layout: file {file}: unsafe path component `{component}`: {problem}"
                )
            }
            LayoutError::PathConflict { path } => {
                write!(
                    f,
                    "layout: path `{path}` is used twice (as two files, or a file and a directory)"
                )
            }
            LayoutError::TooLarge => {
                f.write_str("layout: torrent too large (length or piece count overflows)")
            }
        }
    }
}

impl std::error::Error for LayoutError {}

impl Layout {
    /// Lays out `files` (relative path components and length, in torrent order) into pieces of
    /// `piece_length` bytes, checking every path component for safety.
    ///
    /// For a single-file torrent pass `[([name], length)]`; for a multi-file one prefix every
    /// path with the torrent's name, as it is saved on disk.
    pub fn new<I, P, S>(files: I, piece_length: u32) -> Result<Self, LayoutError>
    where
        I: IntoIterator<Item = (P, u64)>,
        P: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Layout::with_pad_files(files.into_iter().map(|(p, l)| (p, l, false)), piece_length)
    }

    /// Like [`new`](Self::new), with a third element per file saying whether it is a BEP 47
    /// pad file. Pad files take their place in the piece layout but are never created: writes
    /// to them are dropped and reads give zeros. Their paths are still checked, but may repeat.
    pub fn with_pad_files<I, P, S>(files: I, piece_length: u32) -> Result<Self, LayoutError>
    where
        I: IntoIterator<Item = (P, u64, bool)>,
        P: IntoIterator<Item = S>,
        S: Into<String>,
    {
        if piece_length == 0 {
            return Err(LayoutError::ZeroPieceLength);
        }
        let mut entries = Vec::new();
        let mut offset = 0u64;
        let mut file_paths: HashSet<Vec<String>> = HashSet::new();
        let mut dir_paths: HashSet<Vec<String>> = HashSet::new();
        for (index, (path, length, pad)) in files.into_iter().enumerate() {
            let path: Vec<String> = path.into_iter().map(Into::into).collect();
            if path.is_empty() {
                return Err(LayoutError::EmptyPath { file: index });
            }
            for component in &path {
                if let Err(problem) = check_component(component) {
                    return Err(LayoutError::UnsafeComponent {
                        file: index,
                        component: component.escape_debug().to_string(),
                        problem,
                    });
                }
            }
            // A file path may not repeat, nor be a directory of another file. Pad files are
            // never created, so they cannot conflict.
            if !pad {
                if dir_paths.contains(&path) || !file_paths.insert(path.clone()) {
                    return Err(LayoutError::PathConflict {
                        path: path.join("/"),
                    });
                }
                for end in 1..path.len() {
                    let dir = path[..end].to_vec();
                    if file_paths.contains(&dir) {
                        return Err(LayoutError::PathConflict {
                            path: dir.join("/"),
                        });
                    }
                    dir_paths.insert(dir);
                }
            }
            entries.push(FileEntry {
                path,
                length,
                offset,
                pad,
            });
            offset = offset.checked_add(length).ok_or(LayoutError::TooLarge)?;
        }
        if entries.is_empty() {
            return Err(LayoutError::NoFiles);
        }
        let piece_count = u32::try_from(offset.div_ceil(u64::from(piece_length)))
            .map_err(|_| LayoutError::TooLarge)?;
        Ok(Layout {
            files: entries,
            piece_length,
            total_length: offset,
            piece_count,
        })
    }

    /// The layout of a parsed torrent: its (already sanitised) paths, with BEP 47 pad files
    /// marked as such. BEP 47 symlink entries are treated like pad files: never created (a
    /// symlink could point anywhere).
    pub fn from_info(info: &torrentkit_metainfo::Info) -> Result<Self, LayoutError> {
        let piece_length = u32::try_from(info.piece_length()).map_err(|_| LayoutError::TooLarge)?;
        let files = info
            .files()
            .iter()
            .map(|f| (f.path.clone(), f.length, f.pad || f.symlink.is_some()));
        Layout::with_pad_files(files, piece_length)
    }

    /// The files, in torrent order.
    pub fn files(&self) -> &[FileEntry] {
        &self.files
    }

    /// The nominal piece length.
    pub fn piece_length(&self) -> u32 {
        self.piece_length
    }

    /// The total length of all files.
    pub fn total_length(&self) -> u64 {
        self.total_length
    }

    /// The number of pieces.
    pub fn piece_count(&self) -> u32 {
        self.piece_count
    }

    /// The length of `piece` (the last one may be short); `0` when out of range.
    pub fn piece_size(&self, piece: u32) -> u32 {
        piece_size(self.total_length, self.piece_length, piece)
    }

    /// The offset of `piece` in the concatenated data.
    pub fn piece_offset(&self, piece: u32) -> u64 {
        u64::from(piece) * u64::from(self.piece_length)
    }

    /// The file spans covering `len` bytes at `offset` inside `piece`, in order; `None` if the
    /// range reaches outside the piece.
    pub fn spans(&self, piece: u32, offset: u32, len: usize) -> Option<Vec<FileSpan>> {
        let end = u64::from(offset).checked_add(len as u64)?;
        if piece >= self.piece_count || end > u64::from(self.piece_size(piece)) {
            return None;
        }
        let mut pos = self.piece_offset(piece) + u64::from(offset);
        let stop = pos + len as u64;
        // The first file whose end lies beyond `pos`; zero-length files are skipped naturally.
        let mut index = self.files.partition_point(|f| f.offset + f.length <= pos);
        let mut spans = Vec::new();
        let mut buf_offset = 0usize;
        while pos < stop {
            let file = &self.files[index];
            let file_end = file.offset + file.length;
            if file.length > 0 && pos < file_end {
                let n = (file_end.min(stop) - pos) as usize;
                spans.push(FileSpan {
                    file: index,
                    file_offset: pos - file.offset,
                    buf_offset,
                    len: n,
                });
                pos += n as u64;
                buf_offset += n;
            }
            index += 1;
        }
        Some(spans)
    }

    /// The pieces that hold at least one byte of file `file` (empty for zero-length files).
    pub fn file_pieces(&self, file: usize) -> std::ops::Range<u32> {
        let Some(f) = self.files.get(file) else {
            return 0..0;
        };
        if f.length == 0 {
            return 0..0;
        }
        let pl = u64::from(self.piece_length);
        let first = (f.offset / pl) as u32;
        let last = ((f.offset + f.length - 1) / pl) as u32;
        first..last + 1
    }
}

/// The length of `piece` in a torrent of `total` bytes cut into `piece_length`-byte pieces.
pub(crate) fn piece_size(total: u64, piece_length: u32, piece: u32) -> u32 {
    let start = u64::from(piece) * u64::from(piece_length);
    if start >= total {
        return 0;
    }
    (total - start).min(u64::from(piece_length)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(files: &[(&[&str], u64)], pl: u32) -> Result<Layout, LayoutError> {
        Layout::new(files.iter().map(|(p, l)| (p.iter().copied(), *l)), pl)
    }

    #[test]
    fn pieces_span_file_boundaries() {
        let l = layout(
            &[
                (&["t", "a"], 5),
                (&["t", "empty"], 0),
                (&["t", "b"], 7),
                (&["t", "c"], 4),
            ],
            4,
        )
        .unwrap();
        assert_eq!(l.total_length(), 16);
        assert_eq!(l.piece_count(), 4);
        assert_eq!(l.piece_size(3), 4);
        // Piece 1 = bytes 4..8: one byte of a, three of b (the empty file is skipped).
        assert_eq!(
            l.spans(1, 0, 4).unwrap(),
            vec![
                FileSpan {
                    file: 0,
                    file_offset: 4,
                    buf_offset: 0,
                    len: 1
                },
                FileSpan {
                    file: 2,
                    file_offset: 0,
                    buf_offset: 1,
                    len: 3
                },
            ]
        );
        // Piece 2, bytes 2..4 = absolute 10..12, the end of b.
        assert_eq!(
            l.spans(2, 2, 2).unwrap(),
            vec![FileSpan {
                file: 2,
                file_offset: 5,
                buf_offset: 0,
                len: 2
            }]
        );
        assert_eq!(
            l.spans(3, 0, 4).unwrap(),
            vec![FileSpan {
                file: 3,
                file_offset: 0,
                buf_offset: 0,
                len: 4
            }]
        );
        assert_eq!(l.spans(3, 1, 4), None, "past the piece");
        assert_eq!(l.spans(4, 0, 1), None, "no such piece");
        assert_eq!(l.file_pieces(0), 0..2);
        assert_eq!(l.file_pieces(1), 0..0);
        assert_eq!(l.file_pieces(2), 1..3);
        assert_eq!(l.file_pieces(3), 3..4);
    }

    #[test]
    fn from_a_parsed_torrent() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("album/disc")).unwrap();
        std::fs::write(dir.path().join("album/disc/01.flac"), vec![1u8; 40_000]).unwrap();
        std::fs::write(dir.path().join("album/cover.jpg"), vec![2u8; 100]).unwrap();
        let t = torrentkit_metainfo::TorrentBuilder::new(dir.path().join("album"))
            .piece_length(16384)
            .build()
            .unwrap();
        let l = Layout::from_info(t.info()).unwrap();
        assert_eq!(l.total_length(), 40_100);
        assert_eq!(l.piece_count() as usize, t.info().piece_count());
        let paths: Vec<String> = l
            .files()
            .iter()
            .filter(|f| !f.pad)
            .map(FileEntry::display_path)
            .collect();
        assert_eq!(paths, vec!["album/cover.jpg", "album/disc/01.flac"]);
    }

    #[test]
    fn short_last_piece() {
        let l = layout(&[(&["x"], 10)], 4).unwrap();
        assert_eq!(
            (
                l.piece_count(),
                l.piece_size(0),
                l.piece_size(2),
                l.piece_size(3)
            ),
            (3, 4, 2, 0)
        );
        assert_eq!(l.spans(2, 0, 2).unwrap().len(), 1);
        assert_eq!(l.spans(2, 0, 3), None);
    }

    #[test]
    fn every_byte_maps_to_exactly_one_file_position() {
        let sizes = [3u64, 0, 17, 1, 0, 40, 9];
        let files: Vec<(Vec<String>, u64)> = sizes
            .iter()
            .enumerate()
            .map(|(i, &s)| (vec![format!("f{i}")], s))
            .collect();
        let l = Layout::new(files, 8).unwrap();
        let mut seen = Vec::new();
        for p in 0..l.piece_count() {
            for s in l.spans(p, 0, l.piece_size(p) as usize).unwrap() {
                for k in 0..s.len as u64 {
                    seen.push(l.files()[s.file].offset + s.file_offset + k);
                }
            }
        }
        assert_eq!(seen, (0..l.total_length()).collect::<Vec<_>>());
    }

    #[test]
    fn hostile_paths_are_refused() {
        let cases: &[(&[&str], &str)] = &[
            (&["..", "etc"], "`..`"),
            (&["a", "/etc"], "separator"),
            (&["a", ""], "empty"),
            (&["a\0b"], "NUL"),
            (&["a\\..\\b"], "separator"),
            (&["."], "`.`"),
        ];
        for (path, needle) in cases {
            let err = layout(&[(path, 1)], 4).unwrap_err();
            assert!(
                matches!(err, LayoutError::UnsafeComponent { file: 0, .. }),
                "{err}"
            );
            assert!(
                err.to_string().contains(needle),
                "{err} should mention {needle}"
            );
        }
        assert_eq!(
            layout(&[(&[], 1)], 4).unwrap_err(),
            LayoutError::EmptyPath { file: 0 }
        );
        assert_eq!(
            layout(&[(&["a"], 1)], 0).unwrap_err(),
            LayoutError::ZeroPieceLength
        );
        assert_eq!(layout(&[], 4).unwrap_err(), LayoutError::NoFiles);
    }

    #[test]
    fn duplicate_and_file_directory_conflicts_are_refused() {
        let err = layout(&[(&["t", "a"], 1), (&["t", "a"], 1)], 4).unwrap_err();
        assert_eq!(err, LayoutError::PathConflict { path: "t/a".into() });
        let err = layout(&[(&["t", "a"], 1), (&["t", "a", "b"], 1)], 4).unwrap_err();
        assert_eq!(err, LayoutError::PathConflict { path: "t/a".into() });
        let err = layout(&[(&["t", "a", "b"], 1), (&["t", "a"], 1)], 4).unwrap_err();
        assert_eq!(err, LayoutError::PathConflict { path: "t/a".into() });
    }

    #[test]
    fn too_many_pieces_is_an_error_not_an_overflow() {
        let err = layout(&[(&["a"], u64::MAX), (&["b"], 1)], 1).unwrap_err();
        assert_eq!(err, LayoutError::TooLarge);
        let err = layout(&[(&["a"], u64::from(u32::MAX) + 1)], 1).unwrap_err();
        assert_eq!(err, LayoutError::TooLarge);
    }
}
