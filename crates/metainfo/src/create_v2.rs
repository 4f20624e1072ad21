//! The v2 and hybrid half of [`TorrentBuilder`](crate::TorrentBuilder): per-file Merkle roots
//! and piece layers (BEP 52), and for hybrids the v1 `files` list with pad files exactly as
//! libtorrent's `create_torrent` writes them, so both produce the same info-hashes.

use std::collections::BTreeMap;

use torrentkit_bencode::{encode, Dict, Value};

use crate::create::SourceFile;
use crate::error::Result;
use crate::hash::{digest_pieces, Progress, Span, Want};
use crate::info::MetaVersion;
use crate::merkle::{self, Hash256};

/// What the builder hands over besides the files.
pub(crate) struct Params<'a> {
    pub(crate) version: MetaVersion,
    pub(crate) name: &'a str,
    pub(crate) piece_length: u64,
    pub(crate) threads: usize,
    pub(crate) private: bool,
    pub(crate) source: Option<&'a str>,
}

/// The encoded `info` dictionary and `piece layers`.
pub(crate) struct Encoded {
    pub(crate) info: Vec<u8>,
    pub(crate) piece_layers: Vec<u8>,
}

/// Orders files as a BEP 52 file tree does: by path, component by component (so `a/x` comes
/// before `a-b/x`), which is also the order libtorrent gives a hybrid's v1 list.
pub(crate) fn sort(files: &mut [SourceFile]) {
    files.sort_by(|a, b| a.torrent_path.cmp(&b.torrent_path));
}

/// Hashes `files` (already [`sort`]ed) and encodes the v2 or hybrid `info` and `piece layers`.
pub(crate) fn build(
    files: &[SourceFile],
    p: &Params<'_>,
    progress: Progress<'_>,
) -> Result<Encoded> {
    let pl = p.piece_length;
    let single = files.len() == 1 && files[0].torrent_path.is_empty();
    // Each file starts on a piece boundary: a pad span follows every file that does not end on
    // one (a single file needs none).
    let mut spans = Vec::with_capacity(files.len() * 2);
    for f in files {
        spans.push(Span {
            path: Some(f.disk_path.clone()),
            length: f.length,
        });
        if !single && f.length % pl != 0 {
            spans.push(Span {
                path: None,
                length: pl - f.length % pl,
            });
        }
    }
    let want = Want {
        sha1: p.version.has_v1(),
        leaves: true,
    };
    let digests = digest_pieces(&spans, pl, p.threads, true, want, progress)?;

    let mut roots: Vec<Option<Hash256>> = Vec::with_capacity(files.len());
    let mut layers: BTreeMap<Hash256, Vec<u8>> = BTreeMap::new();
    let mut piece = 0usize;
    for f in files {
        let count = f.length.div_ceil(pl) as usize;
        let mine = digests.get(piece..piece + count).unwrap_or(&[]);
        piece += count;
        if f.length == 0 {
            roots.push(None);
            continue;
        }
        // Strict hashing returns every digest (a read failure is an error).
        let per_piece: Vec<&[Hash256]> = mine
            .iter()
            .map(|d| d.as_ref().map_or(&[][..], |d| d.leaves.as_slice()))
            .collect();
        let leaves: Vec<Hash256> = per_piece.concat();
        let root = merkle::file_root(&leaves);
        if count > 1 {
            let layer: Vec<u8> = per_piece
                .iter()
                .flat_map(|l| merkle::piece_hash(l, pl))
                .collect();
            layers.insert(root, layer);
        }
        roots.push(Some(root));
    }

    let mut tree = Tree::default();
    for (f, root) in files.iter().zip(&roots) {
        let path: Vec<&[u8]> = if single {
            vec![p.name.as_bytes()]
        } else {
            f.torrent_path.iter().map(|c| c.as_bytes()).collect()
        };
        tree.insert(&path, f.length, root.as_ref());
    }

    let pieces: Vec<u8> = digests
        .iter()
        .flatten()
        .filter_map(|d| d.sha1)
        .flatten()
        .collect();
    let pad_names: Vec<String> = files
        .iter()
        .map(|f| (pl - f.length % pl).to_string())
        .collect();
    let mut info = Dict::new();
    info.insert(b"file tree", tree.to_value());
    info.insert(b"meta version", Value::Int(2));
    info.insert(b"name", Value::from(p.name));
    info.insert(b"piece length", Value::Int(pl as i64));
    if p.version.has_v1() {
        if single {
            info.insert(b"length", Value::Int(files[0].length as i64));
        } else {
            let mut list = Vec::with_capacity(files.len() * 2);
            for (f, pad_name) in files.iter().zip(&pad_names) {
                list.push(crate::create::v1_file_entry(f.length, &f.torrent_path));
                if f.length % pl != 0 {
                    let mut d = Dict::new();
                    d.insert(b"attr", Value::from("p"));
                    d.insert(b"length", Value::Int((pl - f.length % pl) as i64));
                    d.insert(
                        b"path",
                        Value::List(vec![Value::from(".pad"), Value::from(pad_name.as_str())]),
                    );
                    list.push(Value::Dict(d));
                }
            }
            info.insert(b"files", Value::List(list));
        }
        info.insert(b"pieces", Value::Bytes(&pieces));
    }
    if p.private {
        info.insert(b"private", Value::Int(1));
    }
    if let Some(s) = p.source {
        info.insert(b"source", Value::from(s));
    }
    let layers_value = Value::Dict(
        layers
            .iter()
            .map(|(k, v)| (&k[..], Value::Bytes(v)))
            .collect(),
    );
    Ok(Encoded {
        info: encode(&Value::Dict(info)),
        piece_layers: encode(&layers_value),
    })
}

/// A file tree under construction: directories by name, files as `(length, root)`.
#[derive(Default)]
struct Tree<'a> {
    dirs: BTreeMap<&'a [u8], Tree<'a>>,
    file: Option<(u64, Option<&'a Hash256>)>,
}

impl<'a> Tree<'a> {
    fn insert(&mut self, path: &[&'a [u8]], length: u64, root: Option<&'a Hash256>) {
        match path.split_first() {
            None => self.file = Some((length, root)),
            Some((first, rest)) => self
                .dirs
                .entry(first)
                .or_default()
                .insert(rest, length, root),
        }
    }

    fn to_value(&self) -> Value<'a> {
        let mut d = Dict::new();
        if let Some((length, root)) = self.file {
            let mut leaf = Dict::new();
            leaf.insert(b"length", Value::Int(length as i64));
            if let Some(r) = root {
                leaf.insert(b"pieces root", Value::Bytes(&r[..]));
            }
            d.insert(b"", Value::Dict(leaf));
        }
        for (k, v) in &self.dirs {
            d.insert(k, v.to_value());
        }
        Value::Dict(d)
    }
}
