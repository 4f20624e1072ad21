//! The allowed directory, part of the serving shell: [`Tracker::rescan`] reads new and changed
//! `.torrent` files and forgets removed ones, and [`Tracker::publish`] saves a published torrent
//! there. Checking and reading a torrent is `hosting.rs` and `tracker.rs`'s plain code.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;

use crate::error::{Error, TorrentError};
use crate::files::write_atomic;
use crate::hosting::{FileStamp, Hosted, HostedTorrent, ScanReport, TorrentInfo};
use crate::tracker::{PublishError, Tracker};
use torrentkit_tracker_proto::InfoHash;

impl Tracker {
    /// Rescans the allowed directory (nothing without one).
    pub fn rescan(&self) -> Result<ScanReport, Error> {
        let Some(dir) = &self.config().allowed_dir else {
            return Ok(ScanReport::default());
        };
        // Read the files without holding the lock for long: scan a copy, then swap it in.
        let mut copy = self.read_hosted().clone();
        let report = scan(&mut copy, dir, self.config().max_publish_size)?;
        let mut hosted = self.write_hosted();
        // Keep what was published while the directory was being read.
        for (hash, t) in &hosted.by_hash {
            if !copy.by_hash.contains_key(hash) && t.path.as_ref().is_some_and(|p| p.exists()) {
                copy.by_hash.insert(*hash, t.clone());
            }
        }
        *hosted = copy;
        Ok(report)
    }

    /// Adds a `.torrent` to the hosted set, after checking `token`. With an allowed directory the
    /// file is also written there (atomically, as `INFOHASH.torrent`) so it survives restarts.
    pub fn publish(&self, token: Option<&str>, bytes: Bytes) -> Result<TorrentInfo, PublishError> {
        let info = self.check_publish(token, &bytes)?;
        let path = match &self.config().allowed_dir {
            Some(dir) => {
                let path = dir.join(format!("{}.torrent", info.info_hash.to_hex()));
                write_atomic(&path, &bytes).map_err(PublishError::Io)?;
                Some(path)
            }
            None => None,
        };
        self.add_published(HostedTorrent {
            info: info.clone(),
            bytes,
            path,
        });
        Ok(info)
    }
}

/// Rescans `dir` into `hosted`: reads new or changed `.torrent` files, forgets removed ones.
/// Files kept unchanged are not read again.
fn scan(hosted: &mut Hosted, dir: &Path, max_size: usize) -> Result<ScanReport, Error> {
    let mut report = ScanReport::default();
    let entries = std::fs::read_dir(dir).map_err(|e| Error::file(dir, "reading directory", e))?;
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
        let (modified, len) = (meta.modified().ok(), meta.len());
        if let Some(known) = hosted.files.get(&path) {
            if (known.modified, known.len) == (modified, len) && modified.is_some() {
                seen.insert(path, *known);
                continue;
            }
        }
        let info_hash = match read_torrent(&path, max_size) {
            Ok(t) => {
                let hash = t.info.info_hash;
                if !hosted.by_hash.contains_key(&hash) {
                    report.added += 1;
                }
                hosted.by_hash.insert(hash, Arc::new(t));
                Some(hash)
            }
            Err(e) => {
                report.errors.push((path.clone(), e));
                None
            }
        };
        let stamp = FileStamp {
            modified,
            len,
            info_hash,
        };
        seen.insert(path, stamp);
    }
    let live: HashSet<InfoHash> = seen.values().filter_map(|s| s.info_hash).collect();
    let before = hosted.by_hash.len();
    hosted
        .by_hash
        .retain(|hash, t| t.path.is_none() || live.contains(hash));
    report.removed = before - hosted.by_hash.len();
    hosted.files = seen;
    Ok(report)
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
    use crate::files::tests::scratch;
    use crate::hosting::tests::torrent;

    #[test]
    fn scan_adds_changes_and_removes() {
        let dir = scratch("scan");
        std::fs::write(dir.join("a.torrent"), torrent("a", 1)).unwrap();
        std::fs::write(dir.join("b.torrent"), torrent("b", 2)).unwrap();
        std::fs::write(dir.join("bad.torrent"), b"nope").unwrap();
        std::fs::write(dir.join("notes.txt"), b"ignored").unwrap();
        let mut hosted = Hosted::default();
        let r = scan(&mut hosted, &dir, 1 << 20).unwrap();
        assert_eq!((r.added, r.removed, r.errors.len()), (2, 0, 1));
        assert!(r.errors[0].0.ends_with("bad.torrent"));
        std::fs::remove_file(dir.join("b.torrent")).unwrap();
        let r = scan(&mut hosted, &dir, 1 << 20).unwrap();
        assert_eq!((r.added, r.removed), (0, 1));
        assert_eq!(hosted.by_hash.len(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
