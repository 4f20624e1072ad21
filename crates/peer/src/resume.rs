//! The resume file: which pieces are verified, and the size and mtime of every file at the time,
//! bencoded and written atomically; trusted on load only if everything still matches.

use std::fs;
use std::io;
use std::path::Path;
use std::time::UNIX_EPOCH;

use torrentkit_bencode::{decode, encode, Dict, Value};

use crate::resume_error::{ResumeDecodeError, ResumeError, ResumeField, ResumeMismatch};
use crate::storage::Layout;
use torrentkit_wire::Bitfield;

/// The size and modification time of one file on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    /// Length in bytes.
    pub size: u64,
    /// Modification time, seconds since the Unix epoch.
    pub mtime_secs: i64,
    /// Nanoseconds part of the modification time.
    pub mtime_nanos: u32,
}

impl FileStamp {
    /// The stamp of `path`, `None` if it does not exist. Symlinks are not followed.
    pub fn of(path: &Path) -> io::Result<Option<FileStamp>> {
        let meta = match fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let mtime = meta.modified()?;
        let (mtime_secs, mtime_nanos) = match mtime.duration_since(UNIX_EPOCH) {
            Ok(d) => (d.as_secs() as i64, d.subsec_nanos()),
            Err(e) => {
                let d = e.duration();
                (
                    -(d.as_secs() as i64) - i64::from(d.subsec_nanos() > 0),
                    (1_000_000_000 - d.subsec_nanos()) % 1_000_000_000,
                )
            }
        };
        Ok(Some(FileStamp {
            size: meta.len(),
            mtime_secs,
            mtime_nanos,
        }))
    }

    /// The stamps of every file of `layout` under `root`, in layout order.
    pub fn collect(root: &Path, layout: &Layout) -> io::Result<Vec<Option<FileStamp>>> {
        layout
            .files()
            .iter()
            .map(|f| {
                // Pad files are never on disk (a v2 single file's tail pad is even named below
                // the file itself, as libtorrent names it).
                if f.pad {
                    return Ok(None);
                }
                let mut p = root.to_path_buf();
                p.extend(&f.path);
                FileStamp::of(&p)
            })
            .collect()
    }
}

/// What a resume file records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumeData {
    /// The torrent's info-hash.
    pub info_hash: [u8; 20],
    /// The verified pieces.
    pub pieces: Bitfield,
    /// Each file's stamp when the pieces were recorded (`None`: the file did not exist).
    pub files: Vec<Option<FileStamp>>,
}

impl ResumeData {
    /// The bencoded form.
    pub fn encode(&self) -> Vec<u8> {
        let files: Vec<Value<'_>> = self
            .files
            .iter()
            .map(|f| {
                let mut d = Dict::new();
                if let Some(s) = f {
                    d.insert(b"mtime", Value::Int(s.mtime_secs));
                    d.insert(b"mtime-ns", Value::Int(i64::from(s.mtime_nanos)));
                    d.insert(
                        b"size",
                        Value::Int(i64::try_from(s.size).unwrap_or(i64::MAX)),
                    );
                }
                Value::Dict(d)
            })
            .collect();
        let piece_bytes = self.pieces.to_bytes();
        let mut d = Dict::new();
        d.insert(b"files", Value::List(files));
        d.insert(b"info-hash", Value::Bytes(&self.info_hash));
        d.insert(b"piece-count", Value::Int(i64::from(self.pieces.len())));
        d.insert(b"pieces", Value::Bytes(&piece_bytes));
        d.insert(b"version", Value::Int(1));
        encode(&Value::Dict(d))
    }

    /// Parses the bencoded form; the error names the field that is wrong.
    pub fn decode(bytes: &[u8]) -> Result<Self, ResumeDecodeError> {
        use ResumeDecodeError::{Missing, OutOfRange, WrongType};
        let value = decode(bytes).map_err(ResumeDecodeError::Bencode)?;
        let d = value.as_dict().ok_or(ResumeDecodeError::NotADictionary)?;
        let int = |d: &Dict<'_>, key: &str, field: ResumeField| match d.get(key.as_bytes()) {
            None => Err(Missing { field }),
            Some(v) => v.as_int().ok_or(WrongType {
                field,
                expected: "an integer",
            }),
        };
        let version = int(d, "version", ResumeField::Version)?;
        if version != 1 {
            return Err(ResumeDecodeError::UnsupportedVersion(version));
        }
        let info_hash: [u8; 20] = d
            .get(b"info-hash")
            .ok_or(Missing {
                field: ResumeField::InfoHash,
            })?
            .as_bytes()
            .and_then(|b| b.try_into().ok())
            .ok_or(WrongType {
                field: ResumeField::InfoHash,
                expected: "20 bytes",
            })?;
        let count = int(d, "piece-count", ResumeField::PieceCount)?;
        let count = u32::try_from(count).map_err(|_| OutOfRange {
            field: ResumeField::PieceCount,
            value: count,
        })?;
        let piece_bytes = d
            .get(b"pieces")
            .ok_or(Missing {
                field: ResumeField::Pieces,
            })?
            .as_bytes()
            .ok_or(WrongType {
                field: ResumeField::Pieces,
                expected: "a byte string",
            })?;
        let pieces = Bitfield::from_bytes(piece_bytes, count).map_err(ResumeDecodeError::Pieces)?;
        let list = d
            .get(b"files")
            .ok_or(Missing {
                field: ResumeField::Files,
            })?
            .as_list()
            .ok_or(WrongType {
                field: ResumeField::Files,
                expected: "a list",
            })?;
        let mut files = Vec::with_capacity(list.len());
        for (i, f) in list.iter().enumerate() {
            let fd = f.as_dict().ok_or(WrongType {
                field: ResumeField::File(i),
                expected: "a dictionary",
            })?;
            if fd.is_empty() {
                files.push(None);
                continue;
            }
            let size = int(fd, "size", ResumeField::FileSize(i))?;
            let size = u64::try_from(size).map_err(|_| OutOfRange {
                field: ResumeField::FileSize(i),
                value: size,
            })?;
            let nanos = int(fd, "mtime-ns", ResumeField::FileMtimeNanos(i))?;
            let mtime_nanos = u32::try_from(nanos).map_err(|_| OutOfRange {
                field: ResumeField::FileMtimeNanos(i),
                value: nanos,
            })?;
            files.push(Some(FileStamp {
                size,
                mtime_secs: int(fd, "mtime", ResumeField::FileMtime(i))?,
                mtime_nanos,
            }));
        }
        Ok(ResumeData {
            info_hash,
            pieces,
            files,
        })
    }

    /// Writes the resume file atomically: a temporary file in the same directory, fsync,
    /// rename over `path`, fsync of the directory. A crash leaves the old file or the new one.
    pub fn save(&self, path: &Path) -> Result<(), ResumeError> {
        torrentkit_metainfo::write_atomic(path, &self.encode()).map_err(|e| match e {
            torrentkit_metainfo::Error::Io { path, source } => ResumeError::Io { path, source },
            other => ResumeError::Io {
                path: path.to_path_buf(),
                source: io::Error::other(other.to_string()),
            },
        })
    }

    /// Reads a resume file; `Ok(None)` if there is none.
    pub fn load(path: &Path) -> Result<Option<Self>, ResumeError> {
        let bytes = match fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(ResumeError::Io {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        ResumeData::decode(&bytes)
            .map(Some)
            .map_err(|problem| ResumeError::Malformed {
                path: path.to_path_buf(),
                problem,
            })
    }

    /// Checks that this resume data can be trusted for the torrent `info_hash` laid out as
    /// `layout`, whose files now have the stamps `current`; the error names the first check
    /// that failed.
    pub fn verify(
        &self,
        info_hash: &[u8; 20],
        layout: &Layout,
        current: &[Option<FileStamp>],
    ) -> Result<(), ResumeMismatch> {
        if &self.info_hash != info_hash {
            return Err(ResumeMismatch::InfoHash);
        }
        if self.pieces.len() != layout.piece_count() {
            return Err(ResumeMismatch::PieceCount {
                expected: layout.piece_count(),
                actual: self.pieces.len(),
            });
        }
        let n = layout.files().len();
        if self.files.len() != n {
            return Err(ResumeMismatch::FileCount {
                expected: n,
                actual: self.files.len(),
            });
        }
        if current.len() != n {
            return Err(ResumeMismatch::FileCount {
                expected: n,
                actual: current.len(),
            });
        }
        for ((entry, recorded), now) in layout.files().iter().zip(&self.files).zip(current) {
            let path = entry.display_path();
            match (recorded, now) {
                (None, None) => {}
                (Some(r), Some(c)) if r.size != c.size => {
                    return Err(ResumeMismatch::Size {
                        path,
                        recorded: Some(r.size),
                        actual: Some(c.size),
                    })
                }
                (Some(r), Some(c))
                    if (r.mtime_secs, r.mtime_nanos) != (c.mtime_secs, c.mtime_nanos) =>
                {
                    return Err(ResumeMismatch::Mtime { path })
                }
                (Some(_), Some(_)) => {}
                (r, c) => {
                    return Err(ResumeMismatch::Size {
                        path,
                        recorded: r.map(|s| s.size),
                        actual: c.map(|s| s.size),
                    })
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{FileStorage, FileStorageConfig, Storage};
    use std::time::{Duration, SystemTime};

    fn setup() -> (tempfile::TempDir, FileStorage) {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(
            [(["t", "a"], 6u64), (["t", "b"], 6), (["t", "never"], 4)],
            4,
        )
        .unwrap();
        let s = FileStorage::new(dir.path().join("dl"), layout, FileStorageConfig::default());
        s.write(0, 0, b"abcd").unwrap();
        s.write(1, 0, b"efgh").unwrap();
        s.write(2, 0, b"ijkl").unwrap();
        (dir, s)
    }

    fn record(s: &FileStorage) -> ResumeData {
        let mut pieces = Bitfield::new(s.layout().piece_count());
        pieces.insert(0).unwrap();
        pieces.insert(2).unwrap();
        ResumeData {
            info_hash: [7; 20],
            pieces,
            files: FileStamp::collect(s.root(), s.layout()).unwrap(),
        }
    }

    #[test]
    fn round_trip_through_an_atomic_save() {
        let (dir, s) = setup();
        let data = record(&s);
        assert_eq!(
            data.files[2], None,
            "the file never written is recorded as absent"
        );
        let path = dir.path().join("x.resume");
        data.save(&path).unwrap();
        data.save(&path).unwrap(); // over an existing one
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "no temporary file left behind: {names:?}");
        let back = ResumeData::load(&path).unwrap().unwrap();
        assert_eq!(back, data);
        let now = FileStamp::collect(s.root(), s.layout()).unwrap();
        assert_eq!(back.verify(&[7; 20], s.layout(), &now), Ok(()));
        assert!(ResumeData::load(&dir.path().join("none"))
            .unwrap()
            .is_none());
    }

    #[test]
    fn each_failed_check_is_reported() {
        let (_dir, s) = setup();
        let data = record(&s);
        let now = FileStamp::collect(s.root(), s.layout()).unwrap();
        assert_eq!(
            data.verify(&[8; 20], s.layout(), &now),
            Err(ResumeMismatch::InfoHash)
        );

        let other = Layout::new(
            [(["t", "a"], 6u64), (["t", "b"], 6), (["t", "never"], 40)],
            4,
        )
        .unwrap();
        assert_eq!(
            data.verify(&[7; 20], &other, &now),
            Err(ResumeMismatch::PieceCount {
                expected: 13,
                actual: 4
            })
        );

        let a = s.root().join("t/a");
        let f = fs::OpenOptions::new().write(true).open(&a).unwrap();
        f.set_modified(SystemTime::now() + Duration::from_secs(5))
            .unwrap();
        let now = FileStamp::collect(s.root(), s.layout()).unwrap();
        let err = data.verify(&[7; 20], s.layout(), &now).unwrap_err();
        assert_eq!(err, ResumeMismatch::Mtime { path: "t/a".into() });
        assert_eq!(
            err.to_string(),
            "`t/a` was modified after the resume file was written"
        );

        f.set_len(3).unwrap();
        let now = FileStamp::collect(s.root(), s.layout()).unwrap();
        assert_eq!(
            data.verify(&[7; 20], s.layout(), &now),
            Err(ResumeMismatch::Size {
                path: "t/a".into(),
                recorded: Some(6),
                actual: Some(3)
            })
        );

        fs::remove_file(&a).unwrap();
        fs::write(s.root().join("t/never"), b"new!").unwrap();
        let now = FileStamp::collect(s.root(), s.layout()).unwrap();
        let err = data.verify(&[7; 20], s.layout(), &now).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`t/a` is absent now, 6 bytes when the resume file was written"
        );
    }

    #[test]
    fn malformed_files_name_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r");
        let wrong = |field, expected| ResumeDecodeError::WrongType { field, expected };
        let cases: &[(&[u8], &str, Option<ResumeDecodeError>)] = &[
            (b"garbage", "bencode", None),
            (b"i1e", "not a dictionary", Some(ResumeDecodeError::NotADictionary)),
            (b"d7:versioni2ee", "unsupported `version`", Some(ResumeDecodeError::UnsupportedVersion(2))),
            (b"d9:info-hash3:abc7:versioni1ee", "`info-hash` is not 20 bytes", Some(wrong(ResumeField::InfoHash, "20 bytes"))),
            (b"d5:filesle9:info-hash20:aaaaaaaaaaaaaaaaaaaa11:piece-counti9e6:pieces1:\xff7:versioni1ee", "`pieces`", None),
            (b"d5:filesli1ee9:info-hash20:aaaaaaaaaaaaaaaaaaaa11:piece-counti1e6:pieces1:\x807:versioni1ee", "`files[0]`", Some(wrong(ResumeField::File(0), "a dictionary"))),
            (b"d5:filesld4:sizei-1eee9:info-hash20:aaaaaaaaaaaaaaaaaaaa11:piece-counti1e6:pieces1:\x807:versioni1ee", "`files[0].size`", Some(ResumeDecodeError::OutOfRange { field: ResumeField::FileSize(0), value: -1 })),
            (b"d9:info-hash20:aaaaaaaaaaaaaaaaaaaa11:piece-counti1e6:pieces1:\x807:versioni1ee", "missing `files`", Some(ResumeDecodeError::Missing { field: ResumeField::Files })),
        ];
        for (bytes, needle, typed) in cases {
            fs::write(&path, bytes).unwrap();
            let err = ResumeData::load(&path).unwrap_err();
            let ResumeError::Malformed { problem, .. } = &err else {
                panic!("{err:?}");
            };
            assert_eq!(&ResumeData::decode(bytes).unwrap_err(), problem);
            match typed {
                Some(t) => assert_eq!(problem, t, "{needle}"),
                None if *needle == "bencode" => {
                    assert!(
                        matches!(problem, ResumeDecodeError::Bencode(_)),
                        "{problem:?}"
                    )
                }
                None => assert!(
                    matches!(problem, ResumeDecodeError::Pieces(_)),
                    "{problem:?}"
                ),
            }
            let msg = err.to_string();
            assert!(
                msg.contains(needle) && msg.contains("`") && msg.starts_with("resume: "),
                "{msg}"
            );
        }
    }
}
