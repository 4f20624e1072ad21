//! Hosted `.torrent` files: reading one ([`TorrentInfo::parse`]), the set the tracker serves
//! and, with an allowed directory, tracks; and the scan of that directory.
//!
//! The few fields needed (info-hash, name, total size) are read with `torrentkit-bencode`
//! directly; `torrentkit-metainfo` was not available when this was written.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use serde::Deserialize;
use sha1::{Digest, Sha1};
use torrentkit_bencode::{DecodeOptions, Raw, Value};

use crate::error::{Error, TorrentError};
use torrentkit_tracker_proto::InfoHash;

/// What the tracker knows of a hosted torrent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TorrentInfo {
    /// The SHA-1 of the exact `info` bytes.
    pub info_hash: InfoHash,
    /// `info.name` (`name.utf-8` preferred), lossily decoded.
    pub name: String,
    /// `info.length`, or the sum of `info.files[].length`.
    pub total_size: u64,
}

#[derive(Deserialize)]
struct TorrentFile<'a> {
    #[serde(borrow)]
    info: Option<Raw<'a>>,
}

fn as_size(v: &Value<'_>, field: &'static str) -> Result<u64, TorrentError> {
    v.as_int()
        .and_then(|n| u64::try_from(n).ok())
        .ok_or(TorrentError::BadField(field))
}

impl TorrentInfo {
    /// Reads a `.torrent` file's info-hash, name and total size. Dictionaries with unsorted keys
    /// are accepted, as real-world torrents have them; the info-hash is over the bytes as they are.
    pub fn parse(bytes: &[u8]) -> Result<TorrentInfo, TorrentError> {
        let file: TorrentFile<'_> =
            torrentkit_bencode::from_bytes_with(bytes, &DecodeOptions::lenient())
                .map_err(TorrentError::Bencode)?;
        let raw = file.info.ok_or(TorrentError::NoInfo)?;
        let value = raw.to_value().map_err(TorrentError::Bencode)?;
        let info = value.as_dict().ok_or(TorrentError::NoInfo)?;
        let name = info
            .get(b"name.utf-8")
            .or_else(|| info.get(b"name"))
            .map(|v| v.as_bytes().ok_or(TorrentError::BadField("name")))
            .transpose()?
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        let total_size = match (info.get(b"length"), info.get(b"files")) {
            (Some(len), _) => as_size(len, "length")?,
            (None, Some(files)) => {
                let files = files.as_list().ok_or(TorrentError::BadField("files"))?;
                let mut total: u64 = 0;
                for f in files {
                    let len = f
                        .as_dict()
                        .and_then(|d| d.get(b"length"))
                        .ok_or(TorrentError::BadField("files"))?;
                    total = total.saturating_add(as_size(len, "files")?);
                }
                total
            }
            (None, None) => 0,
        };
        let digest = Sha1::digest(raw.as_bytes());
        let mut hash = [0u8; 20];
        hash.copy_from_slice(&digest);
        Ok(TorrentInfo {
            info_hash: InfoHash(hash),
            name,
            total_size,
        })
    }
}

/// A hosted torrent: its facts and its file's bytes.
#[derive(Clone, Debug)]
pub struct HostedTorrent {
    /// Info-hash, name and size.
    pub info: TorrentInfo,
    /// The `.torrent` file, served as is.
    pub bytes: Bytes,
    /// The file in the allowed directory, when it came from there.
    pub path: Option<PathBuf>,
}

/// What a directory scan changed.
#[derive(Debug, Default)]
pub struct ScanReport {
    /// Torrents newly hosted.
    pub added: usize,
    /// Torrents no longer hosted (file removed).
    pub removed: usize,
    /// Files that could not be read or parsed, with why.
    pub errors: Vec<(PathBuf, String)>,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Hosted {
    pub(crate) by_hash: HashMap<InfoHash, Arc<HostedTorrent>>,
    /// Files seen in the allowed directory: modification time, length, info-hash.
    files: HashMap<PathBuf, (Option<SystemTime>, u64, Option<InfoHash>)>,
}

impl Hosted {
    pub(crate) fn insert(&mut self, t: HostedTorrent) {
        if let Some(path) = &t.path {
            self.files.insert(
                path.clone(),
                (None, t.bytes.len() as u64, Some(t.info.info_hash)),
            );
        }
        self.by_hash.insert(t.info.info_hash, Arc::new(t));
    }

    /// Rescans `dir`: reads new or changed `.torrent` files, forgets removed ones. Files kept
    /// unchanged are not read again.
    pub(crate) fn scan(&mut self, dir: &Path, max_size: usize) -> Result<ScanReport, Error> {
        let mut report = ScanReport::default();
        let entries =
            std::fs::read_dir(dir).map_err(|e| Error::file(dir, "reading directory", e))?;
        let mut seen = HashMap::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::file(dir, "reading directory", e))?;
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("torrent") {
                continue;
            }
            let Ok(meta) = entry.metadata() else { continue };
            if !meta.is_file() {
                continue;
            }
            let stamp = (meta.modified().ok(), meta.len());
            if let Some((mtime, len, hash)) = self.files.get(&path) {
                if (*mtime, *len) == stamp && mtime.is_some() {
                    seen.insert(path, (stamp.0, stamp.1, *hash));
                    continue;
                }
            }
            let hash = match read_torrent(&path, max_size) {
                Ok(t) => {
                    let hash = t.info.info_hash;
                    if !self.by_hash.contains_key(&hash) {
                        report.added += 1;
                    }
                    self.by_hash.insert(hash, Arc::new(t));
                    Some(hash)
                }
                Err(e) => {
                    report.errors.push((path.clone(), e));
                    None
                }
            };
            seen.insert(path, (stamp.0, stamp.1, hash));
        }
        let live: std::collections::HashSet<InfoHash> =
            seen.values().filter_map(|(_, _, h)| *h).collect();
        let before = self.by_hash.len();
        self.by_hash
            .retain(|hash, t| t.path.is_none() || live.contains(hash));
        report.removed = before - self.by_hash.len();
        self.files = seen;
        Ok(report)
    }
}

fn read_torrent(path: &Path, max_size: usize) -> Result<HostedTorrent, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    if bytes.len() > max_size {
        return Err(TorrentError::TooLarge {
            len: bytes.len(),
            max: max_size,
        }
        .to_string());
    }
    let info = TorrentInfo::parse(&bytes).map_err(|e| e.to_string())?;
    Ok(HostedTorrent {
        info,
        bytes: Bytes::from(bytes),
        path: Some(path.to_path_buf()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn torrent(name: &str, length: u64) -> Vec<u8> {
        format!(
            "d8:announce9:http://x/4:infod6:lengthi{length}e4:name{}:{name}12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee",
            name.len()
        )
        .into_bytes()
    }

    #[test]
    fn reads_name_size_and_hash_of_exact_info_bytes() {
        let bytes = torrent("a.txt", 5);
        let t = TorrentInfo::parse(&bytes).unwrap();
        assert_eq!((t.name.as_str(), t.total_size), ("a.txt", 5));
        let start = bytes.windows(6).position(|w| w == b"4:info").unwrap() + 6;
        let info = &bytes[start..bytes.len() - 1];
        assert_eq!(t.info_hash.0.as_slice(), Sha1::digest(info).as_slice());
    }

    #[test]
    fn multi_file_sizes_add_up_and_bad_files_are_named() {
        let multi = b"d4:infod5:filesld6:lengthi3e4:pathl1:aeed6:lengthi4e4:pathl1:beee4:name1:d12:piece lengthi1e6:pieces0:ee";
        assert_eq!(TorrentInfo::parse(multi).unwrap().total_size, 7);
        assert_eq!(TorrentInfo::parse(b"d3:fooi1ee"), Err(TorrentError::NoInfo));
        assert_eq!(
            TorrentInfo::parse(b"d4:infod6:length1:xee")
                .unwrap_err()
                .to_string(),
            "bad `length` in info dictionary"
        );
        assert!(TorrentInfo::parse(b"garbage")
            .unwrap_err()
            .to_string()
            .starts_with("not a torrent file: bencode:"));
    }

    #[test]
    fn scan_adds_changes_and_removes() {
        let dir = std::env::temp_dir().join(format!("tk-hosting-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a.torrent"), torrent("a", 1)).unwrap();
        std::fs::write(dir.join("b.torrent"), torrent("b", 2)).unwrap();
        std::fs::write(dir.join("bad.torrent"), b"nope").unwrap();
        std::fs::write(dir.join("notes.txt"), b"ignored").unwrap();
        let mut hosted = Hosted::default();
        let r = hosted.scan(&dir, 1 << 20).unwrap();
        assert_eq!((r.added, r.removed, r.errors.len()), (2, 0, 1));
        assert!(r.errors[0].0.ends_with("bad.torrent"));
        std::fs::remove_file(dir.join("b.torrent")).unwrap();
        let r = hosted.scan(&dir, 1 << 20).unwrap();
        assert_eq!((r.added, r.removed), (0, 1));
        assert_eq!(hosted.by_hash.len(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
