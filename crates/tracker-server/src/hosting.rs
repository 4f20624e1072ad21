//! Hosted `.torrent` files: what the tracker knows of one ([`TorrentInfo`], read through
//! `torrentkit-metainfo`) and the set it serves and, with an allowed directory, tracks. Plain
//! data: reading the directory and writing published files is `allowed_dir.rs`'s work.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use torrentkit_metainfo::Torrent;

use crate::error::TorrentError;
use torrentkit_tracker_proto::InfoHash;

/// What the tracker knows of a hosted torrent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TorrentInfo {
    /// The SHA-1 of the exact `info` bytes.
    pub info_hash: InfoHash,
    /// `info.name` (`name.utf-8` preferred) as torrentkit-metainfo sanitises it: the name a
    /// client saves the download under.
    pub name: String,
    /// `info.length`, or the sum of `info.files[].length`.
    pub total_size: u64,
}

impl TorrentInfo {
    /// Reads a `.torrent` file's info-hash, name and total size with torrentkit-metainfo, so the
    /// tracker hosts exactly the torrents a client can use. Dictionaries with unsorted keys are
    /// accepted, as real-world torrents have them; the info-hash is over the bytes as they are.
    pub fn parse(bytes: &[u8]) -> Result<TorrentInfo, TorrentError> {
        Torrent::from_bytes(bytes)
            .map(|t| TorrentInfo::of(&t))
            .map_err(TorrentError::from)
    }

    /// The facts of a torrent torrentkit-metainfo has read.
    pub fn of(torrent: &Torrent) -> TorrentInfo {
        TorrentInfo {
            info_hash: torrent.info_hash(),
            name: torrent.info().name().to_owned(),
            total_size: torrent.info().total_size(),
        }
    }
}

impl From<torrentkit_metainfo::Error> for TorrentError {
    fn from(e: torrentkit_metainfo::Error) -> TorrentError {
        use torrentkit_metainfo::Error as E;
        match e {
            E::Bencode(e) => TorrentError::Bencode(e),
            E::NotADictionary | E::MissingInfo => TorrentError::NoInfo,
            other => TorrentError::Invalid(other.to_string()),
        }
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

/// What a scan remembers of a file in the allowed directory, to skip it while it is unchanged.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FileStamp {
    /// Its modification time, when the file system has one.
    pub(crate) modified: Option<SystemTime>,
    /// Its length.
    pub(crate) len: u64,
    /// Its info-hash, when it could be read as a torrent.
    pub(crate) info_hash: Option<InfoHash>,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Hosted {
    pub(crate) by_hash: HashMap<InfoHash, Arc<HostedTorrent>>,
    /// Files seen in the allowed directory.
    pub(crate) files: HashMap<PathBuf, FileStamp>,
}

impl Hosted {
    pub(crate) fn insert(&mut self, t: HostedTorrent) {
        if let Some(path) = &t.path {
            // No modification time: the next scan reads the file once and notes it.
            let stamp = FileStamp {
                modified: None,
                len: t.bytes.len() as u64,
                info_hash: Some(t.info.info_hash),
            };
            self.files.insert(path.clone(), stamp);
        }
        self.by_hash.insert(t.info.info_hash, Arc::new(t));
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use sha1::{Digest, Sha1};

    /// A single-file torrent of `length` bytes, with as many (fake) piece hashes as it needs.
    pub(crate) fn torrent(name: &str, length: u64) -> Vec<u8> {
        let pieces = length.div_ceil(16384).max(1) as usize * 20;
        let mut t = format!(
            "d8:announce9:http://x/4:infod6:lengthi{length}e4:name{}:{name}12:piece lengthi16384e6:pieces{pieces}:",
            name.len()
        )
        .into_bytes();
        t.resize(t.len() + pieces, b'a');
        t.extend_from_slice(b"ee");
        t
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
        let mut multi = b"d4:infod5:filesld6:lengthi3e4:pathl1:aeed6:lengthi4e4:pathl1:beee4:name1:d12:piece lengthi1e6:pieces140:".to_vec();
        multi.resize(multi.len() + 140, b'p');
        multi.extend_from_slice(b"ee");
        assert_eq!(TorrentInfo::parse(&multi).unwrap().total_size, 7);
        assert_eq!(TorrentInfo::parse(b"d3:fooi1ee"), Err(TorrentError::NoInfo));
        assert_eq!(
            TorrentInfo::parse(b"d4:infod6:length1:x4:name1:a12:piece lengthi1e6:pieces0:ee")
                .unwrap_err()
                .to_string(),
            "not a usable torrent: invalid `info.length`: invalid length of torrent: \
             a byte string is not an integer"
        );
        assert!(TorrentInfo::parse(b"garbage")
            .unwrap_err()
            .to_string()
            .starts_with("not a torrent file: bencode:"));
    }

    /// What the old reader let through and no client can use: torrentkit-metainfo refuses it, so
    /// the tracker does not host it.
    #[test]
    fn torrents_clients_cannot_use_are_refused() {
        let few_pieces = b"d4:infod6:lengthi40000e4:name1:a12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee";
        let err = TorrentInfo::parse(few_pieces).unwrap_err().to_string();
        assert!(
            err.starts_with("not a usable torrent: incorrect number of piece hashes"),
            "{err}"
        );
        let no_name = b"d4:infod6:lengthi1e12:piece lengthi1e6:pieces20:aaaaaaaaaaaaaaaaaaaaee";
        assert_eq!(
            TorrentInfo::parse(no_name).unwrap_err().to_string(),
            "not a usable torrent: missing or invalid `info.name`"
        );
    }

    #[test]
    fn the_name_is_the_sanitised_one_a_client_saves_under() {
        // The old reader showed `a/b`; a client saves the file as `ab`.
        let bytes = torrent("a/b", 1);
        assert_eq!(TorrentInfo::parse(&bytes).unwrap().name, "ab");
    }
}
