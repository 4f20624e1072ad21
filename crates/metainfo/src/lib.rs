//! BitTorrent metainfo (`.torrent`) files and magnet links: read, create, edit, verify.
//!
//! [`Torrent`] reads v1, v2 (BEP 52) and hybrid torrents the way libtorrent does (v2 files
//! carry their Merkle `pieces root`, see [`merkle`] and [`InfoHashV2`]): soft defects such as unsorted keys load with a [`Warning`], hard defects are an
//! [`Error`] naming the field. The [`InfoHash`] is the SHA-1 of the `info` dictionary's exact
//! bytes; every top-level entry is kept byte for byte, so unknown keys survive and edits outside
//! `info` ([`Torrent::set_trackers`], [`Torrent::set_web_seeds`]...) leave the info-hash alone.
//! File names are sanitised so that no torrent can name a file outside its download directory
//! (the rules are listed below). [`TorrentBuilder`] creates torrents, hashing on every core;
//! [`verify`] checks data on disk; [`Magnet`] parses and writes BEP 9 links. [`percent`] is the
//! workspace's one percent-encoding of raw bytes (magnets, tracker queries, `file://` URLs).
//!
//! # Example
//!
//! ```
//! use torrentkit_metainfo::{Magnet, Torrent, TorrentBuilder};
//!
//! let dir = std::env::temp_dir().join(format!("metainfo-doc-{}", std::process::id()));
//! std::fs::create_dir_all(dir.join("album"))?;
//! std::fs::write(dir.join("album/01.flac"), vec![7u8; 100_000])?;
//! std::fs::write(dir.join("album/cover.jpg"), b"jpeg")?;
//!
//! let torrent = TorrentBuilder::new(dir.join("album"))
//!     .tier(vec!["udp://tracker.example:6969/announce".into()])
//!     .private(true)
//!     .build()?;
//! assert_eq!(torrent.info().files().len(), 2);
//! assert_eq!(torrent.info().piece_length(), 16 * 1024);
//!
//! // Read it back: same info-hash, taken over the exact `info` bytes.
//! let mut again = Torrent::from_bytes(&torrent.to_bytes())?;
//! assert_eq!(again.info_hash(), torrent.info_hash());
//!
//! // Edits outside `info` keep the info-hash.
//! again.set_web_seeds(&["http://mirror.example/".into()])?;
//! assert_eq!(again.info_hash(), torrent.info_hash());
//!
//! let magnet = Magnet::from_torrent(&again).to_string();
//! assert!(magnet.starts_with(&format!("magnet:?xt=urn:btih:{}", torrent.info_hash())));
//! assert_eq!(Magnet::parse(&magnet)?.info_hash, torrent.info_hash());
//!
//! let report = torrentkit_metainfo::verify(&torrent, &dir.join("album"), 0, &|_, _| {})?;
//! assert!(report.is_complete());
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Safe paths
//!
//! Names and paths are rewritten by these rules, following libtorrent 2.0 (each change gives a
//! [`Warning::PathSanitised`] naming the original):
//!
//! 1. Each path component is decoded as UTF-8; every invalid sequence becomes `_`.
//! 2. The separators `/` and `\`, NUL, and the Unicode direction overrides (U+202A..U+202E,
//!    U+200E, U+200F) are removed from inside a component; other control characters become `_`.
//! 3. A component that is empty in the torrent becomes `_`. A component left empty by rule 2
//!    (such as `/`), or that is `.` or `..`, is dropped.
//! 4. A component longer than 240 bytes is cut at the first character boundary at or past 240
//!    bytes, keeping its extension (from the last `.`) when that was cut off and is shorter
//!    than 10 bytes.
//! 5. A path left with no components becomes `_`.
//! 6. In a multi-file torrent, a file whose path (ASCII case-insensitively) repeats an earlier
//!    file's or names another file's directory gets `.1`, `.2`... before its extension.
//! 7. The name follows rules 1 to 4. A single-file torrent whose name is empty or sanitises to
//!    nothing is rejected; a multi-file torrent's name that sanitises to nothing (`.`, `..`) is
//!    replaced by the info-hash in hex.
//!
//! # I/O
//!
//! Parsing, editing and magnet links do no I/O. [`Torrent::read`], [`Torrent::write_atomic`], [`write_atomic`],
//! [`TorrentBuilder`] and [`verify`] read and write files, as their job is; none of them reads
//! the clock (pass [`TorrentBuilder::creation_date`] yourself).
//!
//! # Feature flags
//!
//! None. SHA-1 and SHA-256 come from the `sha1` and `sha2` crates, which use the CPU's SHA
//! instructions when present.

mod atomic;
mod create;
mod create_v2;
mod error;
mod filetree;
mod glob;
mod hash;
mod hybrid;
mod info;
mod infohash;
mod layers;
mod magnet;
pub mod merkle;
mod nodes;
mod path;
pub mod percent;
mod torrent;
mod v2pieces;
mod verify;
mod warning;

pub use atomic::write_atomic;
pub use create::{
    auto_piece_length, SourceFile, TorrentBuilder, MAX_AUTO_PIECE_LENGTH, MIN_AUTO_PIECE_LENGTH,
};
pub use error::{Error, Result};
pub use glob::glob_matches_path;
pub use hash::Progress;
pub use info::{FileEntry, Info, MetaVersion, MAX_LENGTH, MAX_PIECES, MAX_PIECE_LENGTH};
pub use infohash::{InfoHash, InfoHashV2};
pub use magnet::Magnet;
pub use torrent::Torrent;
pub use v2pieces::V2Piece;
pub use verify::{file_locations, verify, FileStatus, VerifyReport};
pub use warning::Warning;

/// The README's example, compiled and run as a doctest so it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
