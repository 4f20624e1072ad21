//! [`Info`]: the validated `info` dictionary of a v1, v2 (BEP 52) or hybrid torrent, with its
//! files.

use torrentkit_bencode::{Dict, Value};

use crate::error::{Error, Result};
use crate::filetree::TreeFile;
use crate::infohash::InfoHash;
use crate::merkle::{Hash256, BLOCK_SIZE};
use crate::path::{resolve_duplicates, sanitize_component, sanitize_path};
use crate::warning::Warning;

/// The largest piece length accepted (libtorrent's limit: it must fit an `int`).
pub const MAX_PIECE_LENGTH: u64 = i32::MAX as u64;
/// The most pieces accepted: a `pieces` string longer than `i32::MAX` bytes is refused, as
/// libtorrent refuses it.
pub const MAX_PIECES: u64 = (i32::MAX / 20) as u64;
/// The largest length of one file or of the whole torrent: 2^62 bytes.
pub const MAX_LENGTH: u64 = 1 << 62;

/// Which BitTorrent versions a torrent's metadata serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetaVersion {
    /// BitTorrent v1 only: SHA-1 `pieces`.
    V1,
    /// BitTorrent v2 only (BEP 52): a `file tree` of per-file Merkle roots, no `pieces`.
    V2,
    /// Both: v1 `pieces` and `files` (with pad files aligning each file to a piece) and a v2
    /// `file tree` describing the same files.
    Hybrid,
}

impl MetaVersion {
    /// True when the torrent has v2 metadata (v2-only or hybrid).
    pub fn has_v2(self) -> bool {
        self != MetaVersion::V1
    }

    /// True when the torrent has v1 metadata (v1-only or hybrid).
    pub fn has_v1(self) -> bool {
        self != MetaVersion::V2
    }

    /// `v1`, `v2` or `hybrid`.
    pub fn as_str(self) -> &'static str {
        match self {
            MetaVersion::V1 => "v1",
            MetaVersion::V2 => "v2",
            MetaVersion::Hybrid => "hybrid",
        }
    }
}

/// The `info` dictionary: name, piece length, piece hashes and files.
///
/// Names and paths here are already sanitised (see the crate documentation); the exact bytes the
/// info-hash was taken over are in [`Info::raw`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    raw: Vec<u8>,
    version: MetaVersion,
    name: String,
    piece_length: u64,
    pieces: Vec<[u8; 20]>,
    files: Vec<FileEntry>,
    multi_file: bool,
    private: bool,
    source: Option<String>,
    total_size: u64,
}

/// One file of a torrent, as it lies in the concatenated data.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FileEntry {
    /// The sanitised path relative to the download directory: `[name]` for a single-file
    /// torrent, `[name, dir..., file]` for a multi-file one.
    pub path: Vec<String>,
    /// Length in bytes (0 for symlinks).
    pub length: u64,
    /// Offset of the file's first byte in the torrent's concatenated data.
    pub offset: u64,
    /// A pad file: zeros that are never written to disk. BEP 47 marks them with `attr` `p`;
    /// BitComet's older torrents name them `_____padding_file_...`, which counts too.
    pub pad: bool,
    /// BEP 47 executable flag (`attr` contains `x`).
    pub executable: bool,
    /// BEP 47 hidden flag (`attr` contains `h`).
    pub hidden: bool,
    /// For a BEP 47 symlink (`attr` contains `l`), its sanitised target relative to the torrent's
    /// top directory.
    pub symlink: Option<Vec<String>>,
    /// For v2 and hybrid torrents, the file's BEP 52 `pieces root` (the Merkle root of its
    /// 16 KiB blocks); `None` for empty files, symlinks, pad files and v1 torrents.
    pub pieces_root: Option<Hash256>,
}

impl FileEntry {
    /// The path joined with `/`.
    pub fn display_path(&self) -> String {
        self.path.join("/")
    }
}

impl Info {
    /// The exact bytes of the `info` dictionary as read (the info-hash is their SHA-1).
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// Whether the metadata is v1, v2 or hybrid.
    pub fn version(&self) -> MetaVersion {
        self.version
    }

    /// The sanitised name: the file name of a single-file torrent, the top directory of a
    /// multi-file one.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Bytes per piece (the last piece may be shorter).
    pub fn piece_length(&self) -> u64 {
        self.piece_length
    }

    /// The SHA-1 of every piece (empty for a v2-only torrent, whose piece hashes are in its
    /// `piece layers`).
    pub fn pieces(&self) -> &[[u8; 20]] {
        &self.pieces
    }

    /// The number of pieces.
    pub fn piece_count(&self) -> usize {
        self.total_size.div_ceil(self.piece_length) as usize
    }

    /// The length of piece `index` (the last one may be shorter).
    pub fn piece_size(&self, index: usize) -> u64 {
        let start = index as u64 * self.piece_length;
        self.piece_length.min(self.total_size.saturating_sub(start))
    }

    /// The files in data order (pad files included, as libtorrent lists them).
    pub fn files(&self) -> &[FileEntry] {
        &self.files
    }

    /// True for a torrent with a `files` list, false for a single-file torrent.
    pub fn is_multi_file(&self) -> bool {
        self.multi_file
    }

    /// The BEP 27 private flag.
    pub fn is_private(&self) -> bool {
        self.private
    }

    /// The `source` tag that private trackers use to make info-hashes unique.
    pub fn source(&self) -> Option<&str> {
        self.source.as_deref()
    }

    /// The sum of all file lengths (pad files included).
    pub fn total_size(&self) -> u64 {
        self.total_size
    }

    /// Reads and validates an `info` dictionary. `raw` is its exact bytes, `dict` their decoding.
    pub(crate) fn parse(raw: &[u8], dict: &Dict<'_>, warnings: &mut Vec<Warning>) -> Result<Info> {
        let has_pieces = dict.get(b"pieces").is_some();
        // libtorrent reads the v2 half only when `meta version` is 2.
        let v2 = dict.get(b"meta version").and_then(Value::as_int) == Some(2);
        let version = match (v2, has_pieces) {
            (false, _) => MetaVersion::V1,
            (true, false) => MetaVersion::V2,
            (true, true) => MetaVersion::Hybrid,
        };

        let raw_name = utf8_variant(dict, "name").ok_or_else(|| Error::missing("info.name"))?;

        let piece_length = match dict.get(b"piece length").and_then(Value::as_int) {
            Some(p) if p > 0 && p as u64 <= MAX_PIECE_LENGTH => p as u64,
            Some(p) => {
                return Err(Error::invalid(
                    "info.piece length",
                    format!("{p} is not between 1 and {MAX_PIECE_LENGTH}"),
                ))
            }
            None => return Err(Error::missing("info.piece length")),
        };

        let tree = if v2 {
            if !piece_length.is_power_of_two() || piece_length < BLOCK_SIZE {
                return Err(Error::invalid(
                    "info.piece length",
                    format!("{piece_length} is not a power of two of at least 16 KiB (BEP 52)"),
                ));
            }
            crate::filetree::parse(dict)?
        } else {
            Vec::new()
        };

        let mut multi_file = dict.get(b"files").is_some();
        let mut files = Vec::new();
        if version == MetaVersion::V2 {
            multi_file = !(tree.len() == 1 && tree[0].path.len() == 1);
            files = v2_files(&tree, piece_length, multi_file);
        } else if let Some(list) = dict.get(b"files") {
            let list = list
                .as_list()
                .ok_or_else(|| Error::invalid("info.files", "not a list"))?;
            if list.is_empty() {
                return Err(Error::NoFiles);
            }
            for (i, entry) in list.iter().enumerate() {
                files.push(parse_file(i, entry, warnings)?);
            }
        } else {
            let length = parse_length("info.length", dict.get(b"length"))?;
            files.push(FileEntry {
                path: Vec::new(),
                length,
                offset: 0,
                pad: false,
                executable: false,
                hidden: false,
                symlink: None,
                pieces_root: None,
            });
        }

        let mut total: u64 = 0;
        for file in &mut files {
            file.offset = total;
            total = total
                .checked_add(file.length)
                .filter(|&t| t <= MAX_LENGTH)
                .ok_or_else(|| {
                    Error::invalid(
                        "info.files",
                        "invalid length of torrent: the lengths add up to more than 2^62 bytes",
                    )
                })?;
        }
        if total == 0 {
            return Err(Error::InvalidLength {
                field: if multi_file {
                    "info.files"
                } else {
                    "info.length"
                }
                .to_owned(),
                length: 0,
            });
        }
        let piece_count = total.div_ceil(piece_length);
        if piece_count > MAX_PIECES {
            return Err(Error::TooManyPieces {
                pieces: piece_count,
            });
        }
        let pieces_bytes = match version {
            MetaVersion::V2 => &[][..],
            _ => dict
                .get(b"pieces")
                .and_then(Value::as_bytes)
                .ok_or_else(|| Error::missing("info.pieces"))?,
        };
        if version.has_v1() && pieces_bytes.len() as u64 != piece_count * 20 {
            return Err(Error::PieceCount {
                expected: piece_count,
                found_bytes: pieces_bytes.len() as u64,
            });
        }
        let pieces = pieces_bytes
            .chunks_exact(20)
            .map(|c| {
                let mut h = [0u8; 20];
                h.copy_from_slice(c);
                h
            })
            .collect();

        if version == MetaVersion::Hybrid {
            crate::hybrid::check(&tree, raw_name, &mut files, multi_file, piece_length)?;
        }

        // The name, by rule 7 of the path module.
        let name = match sanitize_component(raw_name) {
            Some(name) if !raw_name.is_empty() || multi_file => name,
            None if multi_file => InfoHash::of_info_bytes(raw).to_hex(),
            _ => return Err(Error::missing("info.name")),
        };
        if name.as_bytes() != raw_name {
            warnings.push(Warning::PathSanitised {
                field: "info.name".to_owned(),
                original: show_raw(raw_name),
                sanitised: name.clone(),
            });
        }
        for file in &mut files {
            file.path.insert(0, name.clone());
        }
        if multi_file {
            let before: Vec<String> = files.iter().map(FileEntry::display_path).collect();
            let mut refs: Vec<Option<&mut Vec<String>>> = files
                .iter_mut()
                .map(|f| (!f.pad).then_some(&mut f.path))
                .collect();
            for i in resolve_duplicates(&mut refs) {
                warnings.push(Warning::DuplicatePath {
                    original: before[i].clone(),
                    renamed: files[i].display_path(),
                });
            }
        }

        Ok(Info {
            raw: raw.to_vec(),
            version,
            name,
            piece_length,
            pieces,
            files,
            multi_file,
            private: dict.get(b"private").and_then(Value::as_int) == Some(1),
            source: dict
                .get(b"source")
                .and_then(Value::as_bytes)
                .map(|b| String::from_utf8_lossy(b).into_owned()),
            total_size: total,
        })
    }
}

/// `key.utf-8` when it is a byte string, else `key` when it is one.
fn utf8_variant<'a>(dict: &Dict<'a>, key: &str) -> Option<&'a [u8]> {
    let utf8_key = format!("{key}.utf-8");
    dict.get(utf8_key.as_bytes())
        .and_then(Value::as_bytes)
        .or_else(|| dict.get(key.as_bytes()).and_then(Value::as_bytes))
}

fn parse_length(field: &str, value: Option<&Value<'_>>) -> Result<u64> {
    match value {
        Some(Value::Int(n)) if *n >= 0 && (*n as u64) <= MAX_LENGTH => Ok(*n as u64),
        Some(Value::Int(n)) => Err(Error::InvalidLength {
            field: field.to_owned(),
            length: *n,
        }),
        Some(other) => Err(Error::invalid(
            field,
            format!(
                "invalid length of torrent: {} is not an integer",
                a(other.type_name())
            ),
        )),
        None => Err(Error::missing(field)),
    }
}

fn parse_file(i: usize, entry: &Value<'_>, warnings: &mut Vec<Warning>) -> Result<FileEntry> {
    let field = format!("info.files[{i}]");
    let dict = entry
        .as_dict()
        .ok_or_else(|| Error::invalid(&field, "not a dictionary"))?;
    let attr = dict.get(b"attr").and_then(Value::as_bytes).unwrap_or(b"");
    // BEP 47 `attr` `p`, or BitComet's older convention of a name starting with
    // `_____padding_file_` (libtorrent honours both).
    let legacy_pad = dict
        .get(b"path")
        .and_then(Value::as_list)
        .and_then(|p| p.last())
        .and_then(Value::as_bytes)
        .is_some_and(|name| name.starts_with(b"_____padding_file_"));
    let pad = attr.contains(&b'p') || legacy_pad;
    let symlink_attr = attr.contains(&b'l');
    let mut length = match dict.get(b"length") {
        // libtorrent lets a symlink leave out its length.
        None if symlink_attr => 0,
        value => parse_length(&format!("{field}.length"), value)?,
    };

    let path_key = if dict.get(b"path.utf-8").and_then(Value::as_list).is_some() {
        &b"path.utf-8"[..]
    } else {
        &b"path"[..]
    };
    let path_field = format!("{field}.{}", String::from_utf8_lossy(path_key));
    let components = match dict.get(path_key) {
        Some(Value::List(items)) if !items.is_empty() => Some(string_list(&path_field, items)?),
        Some(Value::List(_)) | None => None,
        Some(other) => {
            return Err(Error::invalid(
                &path_field,
                format!("{} is not a list", crate::info::a(other.type_name())),
            ))
        }
    };
    let path = match components {
        Some(components) => {
            let path = sanitize_path(components.iter().copied());
            if !pad && !same_path(&components, &path) {
                warnings.push(Warning::PathSanitised {
                    field: path_field,
                    original: components
                        .iter()
                        .map(|c| show_raw(c))
                        .collect::<Vec<_>>()
                        .join("/"),
                    sanitised: path.join("/"),
                });
            }
            path
        }
        None if pad => vec![".pad".to_owned(), length.to_string()],
        None => return Err(Error::missing(path_field)),
    };

    let mut symlink = None;
    if symlink_attr {
        if let Some(target) = dict.get(b"symlink path") {
            let items = target
                .as_list()
                .ok_or_else(|| Error::invalid(format!("{field}.symlink path"), "not a list"))?;
            let target = string_list(&format!("{field}.symlink path"), items)?;
            symlink = Some(sanitize_path(target.iter().copied()));
            // A symlink holds no data (libtorrent counts it as empty).
            length = 0;
        }
    }
    Ok(FileEntry {
        path,
        length,
        offset: 0,
        pad,
        executable: attr.contains(&b'x'),
        hidden: attr.contains(&b'h'),
        symlink,
        pieces_root: None,
    })
}

/// A v2-only torrent's files in data order, as libtorrent lays them out: each file starts on a
/// piece boundary, so a pad file (`.pad/N`, never written) follows every file whose length is
/// not a multiple of the piece length, the last one included. Paths are relative to the top
/// directory (a single-file torrent's one file has an empty path, like v1's).
fn v2_files(tree: &[TreeFile], piece_length: u64, multi_file: bool) -> Vec<FileEntry> {
    let mut files = Vec::with_capacity(tree.len() * 2);
    for t in tree {
        files.push(FileEntry {
            path: if multi_file {
                t.path.clone()
            } else {
                Vec::new()
            },
            length: t.length,
            offset: 0,
            pad: false,
            executable: t.executable,
            hidden: t.hidden,
            symlink: t.symlink.clone(),
            pieces_root: t.pieces_root,
        });
        let tail = t.length % piece_length;
        // Even a single file gets its tail pad, as libtorrent lists it: peers count it in the
        // last piece's size.
        if tail != 0 {
            files.push(pad_entry(piece_length - tail));
        }
    }
    files
}

/// A BEP 47 pad file of `length` zeros, named as libtorrent names them.
pub(crate) fn pad_entry(length: u64) -> FileEntry {
    FileEntry {
        path: vec![".pad".to_owned(), length.to_string()],
        length,
        offset: 0,
        pad: true,
        executable: false,
        hidden: false,
        symlink: None,
        pieces_root: None,
    }
}

/// A list whose every item must be a byte string.
fn string_list<'a>(field: &str, items: &[Value<'a>]) -> Result<Vec<&'a [u8]>> {
    items
        .iter()
        .enumerate()
        .map(|(j, item)| {
            item.as_bytes().ok_or_else(|| {
                Error::invalid(
                    format!("{field}[{j}]"),
                    format!(
                        "{} is not a path component",
                        crate::info::a(item.type_name())
                    ),
                )
            })
        })
        .collect()
}

fn same_path(raw: &[&[u8]], clean: &[String]) -> bool {
    raw.len() == clean.len() && raw.iter().zip(clean).all(|(r, c)| *r == c.as_bytes())
}

/// A type name with its article: `a list`, `an integer`.
pub(crate) fn a(type_name: &str) -> String {
    let article = if type_name.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {type_name}")
}

/// Bytes shown as text, with anything that is not printable UTF-8 escaped.
pub(crate) fn show_raw(raw: &[u8]) -> String {
    match std::str::from_utf8(raw) {
        Ok(s) => s.escape_debug().to_string(),
        Err(_) => raw.escape_ascii().to_string(),
    }
}
