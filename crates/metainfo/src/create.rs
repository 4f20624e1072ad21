//! [`TorrentBuilder`]: making a v1, v2 or hybrid torrent from a file or a directory, hashing on
//! every core (the v2 half is in `create_v2.rs`).

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use torrentkit_bencode::{decode, encode, Dict, Value};

use crate::error::{Error, Result};
use crate::glob;
use crate::hash::{hash_pieces, Progress, Span};
use crate::info::MetaVersion;
use crate::torrent::Torrent;

/// The smallest piece length [`auto_piece_length`] chooses: 16 KiB.
pub const MIN_AUTO_PIECE_LENGTH: u64 = 16 * 1024;
/// The largest piece length [`auto_piece_length`] chooses: 16 MiB.
pub const MAX_AUTO_PIECE_LENGTH: u64 = 16 * 1024 * 1024;

/// The piece length chosen for `total_size` bytes when none is given.
///
/// The rule: the smallest power of two that keeps the piece count at or below 2048, within
/// 16 KiB..=16 MiB. Torrents between 16 MiB and 32 GiB therefore get 1025 to 2048 pieces (like
/// libtorrent and mktorrent, which aim at a `pieces` string of about 40 KB); smaller ones get
/// 16 KiB pieces and larger ones 16 MiB pieces.
///
/// ```
/// use torrentkit_metainfo::auto_piece_length;
/// assert_eq!(auto_piece_length(1000), 16 * 1024);
/// assert_eq!(auto_piece_length(2 << 30), 1 << 20); // 2 GiB: 2048 pieces of 1 MiB
/// assert_eq!(auto_piece_length(1 << 50), 16 << 20);
/// ```
pub fn auto_piece_length(total_size: u64) -> u64 {
    total_size
        .div_ceil(2048)
        .next_power_of_two()
        .clamp(MIN_AUTO_PIECE_LENGTH, MAX_AUTO_PIECE_LENGTH)
}

/// One file found by the builder.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SourceFile {
    /// Where it is on disk.
    pub disk_path: PathBuf,
    /// Its path inside the torrent, below the top directory (empty for a single-file torrent).
    pub torrent_path: Vec<String>,
    /// Its length when it was scanned.
    pub length: u64,
}

/// Creates a v1, v2 or hybrid torrent from a file or a directory.
///
/// A directory contributes every regular file below it, sorted by relative path as bytes (as
/// mktorrent sorts them), so the result is deterministic. Symbolic links are skipped unless
/// [`follow_symlinks`](Self::follow_symlinks) is set. Creation date and `created by` are only
/// written when given: the library never reads the clock.
#[derive(Debug, Clone)]
pub struct TorrentBuilder {
    path: PathBuf,
    name: Option<String>,
    piece_length: Option<u64>,
    private: bool,
    trackers: Vec<Vec<String>>,
    web_seeds: Vec<String>,
    http_seeds: Vec<String>,
    /// DHT contacts (BEP 5 `nodes`): host and port.
    dht_nodes: Vec<(String, u16)>,
    comment: Option<String>,
    source: Option<String>,
    created_by: Option<String>,
    creation_date: Option<i64>,
    follow_symlinks: bool,
    exclude: Vec<String>,
    skip_classic: bool,
    threads: usize,
    version: MetaVersion,
}

impl TorrentBuilder {
    /// A builder for the file or directory at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        TorrentBuilder {
            path: path.into(),
            name: None,
            piece_length: None,
            private: false,
            trackers: Vec::new(),
            web_seeds: Vec::new(),
            http_seeds: Vec::new(),
            dht_nodes: Vec::new(),
            comment: None,
            source: None,
            created_by: None,
            creation_date: None,
            follow_symlinks: false,
            exclude: Vec::new(),
            skip_classic: false,
            threads: 0,
            version: MetaVersion::V1,
        }
    }

    /// The torrent's name (default: the file or directory name).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Bytes per piece: a power of two of at least 16 KiB (default: [`auto_piece_length`]).
    pub fn piece_length(mut self, piece_length: u64) -> Self {
        self.piece_length = Some(piece_length);
        self
    }

    /// Sets the BEP 27 private flag.
    pub fn private(mut self, private: bool) -> Self {
        self.private = private;
        self
    }

    /// Adds a DHT node (BEP 5 `nodes`: `[host, port]`), a contact for a trackerless torrent.
    pub fn dht_node(mut self, host: impl Into<String>, port: u16) -> Self {
        self.dht_nodes.push((host.into(), port));
        self
    }

    /// Adds a tier of tracker URLs (BEP 12); the first URL of the first tier is `announce`.
    pub fn tier(mut self, urls: Vec<String>) -> Self {
        if !urls.is_empty() {
            self.trackers.push(urls);
        }
        self
    }

    /// Adds a BEP 19 web seed (`url-list`).
    pub fn web_seed(mut self, url: impl Into<String>) -> Self {
        self.web_seeds.push(url.into());
        self
    }

    /// Adds a BEP 17 HTTP seed (`httpseeds`).
    pub fn http_seed(mut self, url: impl Into<String>) -> Self {
        self.http_seeds.push(url.into());
        self
    }

    /// Sets the `comment`.
    pub fn comment(mut self, comment: impl Into<String>) -> Self {
        self.comment = Some(comment.into());
        self
    }

    /// Sets `info.source`, which private trackers use to make the info-hash unique.
    pub fn source(mut self, source: impl Into<String>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// Sets `created by`.
    pub fn created_by(mut self, created_by: impl Into<String>) -> Self {
        self.created_by = Some(created_by.into());
        self
    }

    /// Sets `creation date` (seconds since the Unix epoch); none is written by default.
    pub fn creation_date(mut self, seconds: i64) -> Self {
        self.creation_date = Some(seconds);
        self
    }

    /// Follows symbolic links to files and directories (default: they are skipped).
    pub fn follow_symlinks(mut self, follow: bool) -> Self {
        self.follow_symlinks = follow;
        self
    }

    /// Leaves out entries whose name, or path relative to the top directory, matches the glob
    /// (`*`, `?`, `[...]`; `*` does not cross `/`). A matching directory is left out whole.
    pub fn exclude(mut self, glob: impl Into<String>) -> Self {
        self.exclude.push(glob.into());
        self
    }

    /// Leaves out entries named `CVS` or `core`, as BitTorrent's original `btmakemetafile` did.
    pub fn skip_cvs_and_core(mut self, skip: bool) -> Self {
        self.skip_classic = skip;
        self
    }

    /// Which metadata to write (default [`MetaVersion::V1`]). [`MetaVersion::V2`] writes a BEP 52
    /// `file tree` with per-file Merkle roots and `piece layers`; [`MetaVersion::Hybrid`] writes
    /// both halves, with pad files aligning every file to a piece as libtorrent does. v2 and
    /// hybrid torrents list files in path order, component by component.
    pub fn meta_version(mut self, version: MetaVersion) -> Self {
        self.version = version;
        self
    }

    /// The number of hashing threads (default 0: one per core).
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }

    /// The files that would go into the torrent, in torrent order.
    pub fn scan(&self) -> Result<Vec<SourceFile>> {
        let meta = fs::metadata(&self.path).map_err(|e| Error::io(&self.path, e))?;
        if meta.is_file() {
            return Ok(vec![SourceFile {
                disk_path: self.path.clone(),
                torrent_path: Vec::new(),
                length: meta.len(),
            }]);
        }
        if !meta.is_dir() {
            return Err(Error::build(format!(
                "{}: not a regular file or directory",
                self.path.display()
            )));
        }
        let mut files = Vec::new();
        let mut visited = HashSet::new();
        self.walk(&self.path, &mut Vec::new(), &mut files, &mut visited)?;
        files.sort_by_cached_key(|f| f.torrent_path.join("/"));
        Ok(files)
    }

    fn walk(
        &self,
        dir: &Path,
        prefix: &mut Vec<String>,
        out: &mut Vec<SourceFile>,
        visited: &mut HashSet<PathBuf>,
    ) -> Result<()> {
        if let Ok(real) = fs::canonicalize(dir) {
            if !visited.insert(real) {
                return Ok(()); // a symlink loop
            }
        }
        let entries = fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(dir, e))?;
            let path = entry.path();
            let name = entry.file_name().into_string().map_err(|raw| {
                Error::build(format!(
                    "{}: file name is not UTF-8 ({raw:?}); torrents name files in UTF-8",
                    path.display()
                ))
            })?;
            let skip = {
                prefix.push(name);
                self.excluded(prefix)
            };
            let name = prefix.last().map(String::as_str).unwrap_or("");
            if !skip && crate::path::sanitize_component(name.as_bytes()).as_deref() != Some(name) {
                let e = Error::build(format!(
                    "{}: clients would rename this file (its name has a backslash, a control \
                     character or a direction override, or is too long); rename or exclude it",
                    path.display()
                ));
                prefix.pop();
                return Err(e);
            }
            let kind = entry.file_type().map_err(|e| Error::io(&path, e))?;
            let result = if skip || (kind.is_symlink() && !self.follow_symlinks) {
                Ok(())
            } else {
                let meta = fs::metadata(&path).map_err(|e| Error::io(&path, e))?;
                if meta.is_dir() {
                    self.walk(&path, prefix, out, visited)
                } else {
                    if meta.is_file() {
                        out.push(SourceFile {
                            disk_path: path,
                            torrent_path: prefix.clone(),
                            length: meta.len(),
                        });
                    }
                    Ok(())
                }
            };
            prefix.pop();
            result?;
        }
        Ok(())
    }

    fn excluded(&self, path: &[String]) -> bool {
        let name = path.last().map(String::as_str).unwrap_or("");
        if self.skip_classic && (name == "CVS" || name == "core") {
            return true;
        }
        self.exclude
            .iter()
            .any(|g| glob::glob_matches_path(g, path))
    }

    /// Scans, hashes and returns the torrent.
    pub fn build(&self) -> Result<Torrent> {
        self.build_with_progress(&|_, _| {})
    }

    /// Like [`build`](Self::build), calling `progress(bytes_hashed, total_bytes)` from the
    /// hashing threads as data is read.
    pub fn build_with_progress(&self, progress: Progress<'_>) -> Result<Torrent> {
        let files = self.scan()?;
        self.build_from(&files, progress)
    }

    /// Hashes the given files (as returned by [`scan`](Self::scan)) and returns the torrent.
    pub fn build_from(&self, files: &[SourceFile], progress: Progress<'_>) -> Result<Torrent> {
        let single = files.len() == 1 && files[0].torrent_path.is_empty();
        if files.is_empty() {
            return Err(Error::build(format!(
                "{}: no files to put in the torrent",
                self.path.display()
            )));
        }
        let total: u64 = files.iter().map(|f| f.length).sum();
        if total == 0 {
            return Err(Error::build(format!(
                "{}: all files are empty; a torrent needs at least one byte",
                self.path.display()
            )));
        }
        let piece_length = match self.piece_length {
            None => auto_piece_length(total),
            Some(p)
                if p.is_power_of_two()
                    && (16 * 1024..=crate::info::MAX_PIECE_LENGTH).contains(&p) =>
            {
                p
            }
            Some(p) => {
                return Err(Error::build(format!(
                    "piece length {p} must be a power of two between 16 KiB and 1 GiB"
                )))
            }
        };
        let name = match &self.name {
            Some(n) => n.clone(),
            None => default_name(&self.path)?,
        };
        if crate::path::sanitize_component(name.as_bytes()).as_deref() != Some(name.as_str()) {
            return Err(Error::build(format!("{name:?} is not a safe torrent name")));
        }

        let threads = match self.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let (info_bytes, layers_bytes) = if self.version.has_v2() {
            let mut sorted = files.to_vec();
            crate::create_v2::sort(&mut sorted);
            let params = crate::create_v2::Params {
                version: self.version,
                name: &name,
                piece_length,
                threads,
                private: self.private,
                source: self.source.as_deref(),
            };
            let e = crate::create_v2::build(&sorted, &params, progress)?;
            (e.info, Some(e.piece_layers))
        } else {
            (
                self.v1_info(files, single, &name, piece_length, threads, progress)?,
                None,
            )
        };
        let info = decode(&info_bytes)?;
        let layers = layers_bytes.as_deref().map(decode).transpose()?;

        let mut top = Dict::new();
        let tiers: Vec<&Vec<String>> = self.trackers.iter().collect();
        if let Some(first) = tiers.first() {
            top.insert(b"announce", Value::from(first[0].as_str()));
        }
        if tiers.iter().map(|t| t.len()).sum::<usize>() > 1 {
            top.insert(
                b"announce-list",
                Value::List(
                    tiers
                        .iter()
                        .map(|t| Value::List(t.iter().map(|u| Value::from(u.as_str())).collect()))
                        .collect(),
                ),
            );
        }
        if let Some(c) = &self.comment {
            top.insert(b"comment", Value::from(c.as_str()));
        }
        if let Some(c) = &self.created_by {
            top.insert(b"created by", Value::from(c.as_str()));
        }
        if let Some(d) = self.creation_date {
            top.insert(b"creation date", Value::Int(d));
        }
        if !self.http_seeds.is_empty() {
            top.insert(
                b"httpseeds",
                Value::List(
                    self.http_seeds
                        .iter()
                        .map(|u| Value::from(u.as_str()))
                        .collect(),
                ),
            );
        }
        top.insert(b"info", info);
        if let Some(layers) = layers {
            top.insert(b"piece layers", layers);
        }
        if !self.dht_nodes.is_empty() {
            top.insert(b"nodes", crate::nodes::nodes_value(&self.dht_nodes));
        }
        if !self.web_seeds.is_empty() {
            top.insert(
                b"url-list",
                Value::List(
                    self.web_seeds
                        .iter()
                        .map(|u| Value::from(u.as_str()))
                        .collect(),
                ),
            );
        }
        Torrent::from_parts(top)
    }
}

impl TorrentBuilder {
    /// Hashes `files` into a v1 `info` dictionary and encodes it.
    fn v1_info(
        &self,
        files: &[SourceFile],
        single: bool,
        name: &str,
        piece_length: u64,
        threads: usize,
        progress: Progress<'_>,
    ) -> Result<Vec<u8>> {
        let total: u64 = files.iter().map(|f| f.length).sum();
        let spans: Vec<Span> = files
            .iter()
            .map(|f| Span {
                path: Some(f.disk_path.clone()),
                length: f.length,
            })
            .collect();
        let hashes = hash_pieces(&spans, piece_length, threads, true, progress)?;
        let mut pieces = Vec::with_capacity(hashes.len() * 20);
        for h in hashes.into_iter().flatten() {
            pieces.extend_from_slice(&h);
        }

        let mut info = Dict::new();
        if single {
            info.insert(b"length", Value::Int(total as i64));
        } else {
            let list = files
                .iter()
                .map(|f| v1_file_entry(f.length, &f.torrent_path))
                .collect();
            info.insert(b"files", Value::List(list));
        }
        info.insert(b"name", Value::from(name));
        info.insert(b"piece length", Value::Int(piece_length as i64));
        info.insert(b"pieces", Value::Bytes(&pieces));
        if self.private {
            info.insert(b"private", Value::Int(1));
        }
        if let Some(s) = &self.source {
            info.insert(b"source", Value::from(s.as_str()));
        }
        Ok(encode(&Value::Dict(info)))
    }
}

fn default_name(path: &Path) -> Result<String> {
    let real;
    let name = match path.file_name() {
        Some(n) => n,
        None => {
            real = fs::canonicalize(path).map_err(|e| Error::io(path, e))?;
            real.file_name()
                .ok_or_else(|| Error::build(format!("{}: has no name; give one", path.display())))?
        }
    };
    name.to_str()
        .map(str::to_owned)
        .ok_or_else(|| Error::build(format!("{}: name is not UTF-8; give one", path.display())))
}

/// One entry of a v1 `files` list: `length` and `path` (v1 and hybrid creation share it).
pub(crate) fn v1_file_entry(length: u64, path: &[String]) -> Value<'_> {
    let mut d = Dict::new();
    d.insert(b"length", Value::Int(length as i64));
    d.insert(
        b"path",
        Value::List(path.iter().map(|c| Value::from(c.as_str())).collect()),
    );
    Value::Dict(d)
}
