//! [`Torrent`]: a whole metainfo file, read leniently, edited key by key and written back with
//! every untouched byte intact.

use std::path::Path;

use torrentkit_bencode::{
    decode_prefix, decode_with, encode, DecodeOptions, Dict, ErrorKind, Status, Value,
};

use crate::error::{Error, Result};
use crate::info::Info;
use crate::infohash::{InfoHash, InfoHashV2};
use crate::layers::Layers;
use crate::merkle::Hash256;
use crate::warning::Warning;

/// A v1, v2 (BEP 52) or hybrid torrent file.
///
/// Reading keeps every top-level entry's bytes exactly as they were, so writing an unedited
/// torrent reproduces the file byte for byte, unknown keys included, and an edit outside `info`
/// leaves the info-hash unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Torrent {
    /// Top-level entries in file order: key, and the value's exact bytes.
    entries: Vec<(Vec<u8>, Vec<u8>)>,
    info: Info,
    info_hash: InfoHash,
    info_hash_v2: Option<InfoHashV2>,
    piece_layers: Layers,
    announce: Option<String>,
    announce_list: Vec<Vec<String>>,
    comment: Option<String>,
    created_by: Option<String>,
    creation_date: Option<i64>,
    encoding: Option<String>,
    web_seeds: Vec<String>,
    http_seeds: Vec<String>,
    warnings: Vec<Warning>,
}

impl Torrent {
    /// Reads a torrent from its bytes.
    ///
    /// Strict bencode is tried first; a file that fails only for unsorted keys is read leniently
    /// with a [`Warning::UnsortedKeys`]. Hard defects are errors.
    pub fn from_bytes(bytes: &[u8]) -> Result<Torrent> {
        let mut warnings = Vec::new();
        let (root, bytes) = decode_leniently(bytes, &mut warnings)?;
        let dict = root.as_dict().ok_or(Error::NotADictionary)?;
        let entries = raw_entries(bytes)?;
        let info_raw = entries
            .iter()
            .find(|(k, _)| *k == b"info")
            .map(|(_, v)| *v)
            .ok_or(Error::MissingInfo)?;
        let info_dict = dict
            .get(b"info")
            .and_then(Value::as_dict)
            .ok_or(Error::MissingInfo)?;
        let info = Info::parse(info_raw, info_dict, &mut warnings)?;
        let info_hash_v2 = info
            .version()
            .has_v2()
            .then(|| InfoHashV2::of_info_bytes(info_raw));
        let info_hash = match info_hash_v2 {
            Some(v2) if !info.version().has_v1() => v2.truncated(),
            _ => InfoHash::of_info_bytes(info_raw),
        };
        let piece_layers = if info.version().has_v2() {
            crate::layers::parse(dict, &info, &mut warnings)?
        } else {
            Layers::new()
        };

        let mut torrent = Torrent {
            info,
            info_hash,
            info_hash_v2,
            piece_layers,
            announce: url(dict, "announce", &mut warnings),
            announce_list: tiers(dict, &mut warnings),
            comment: text(dict, "comment"),
            created_by: text(dict, "created by"),
            creation_date: dict.get(b"creation date").and_then(Value::as_int),
            encoding: text(dict, "encoding"),
            web_seeds: url_list(dict, "url-list", &mut warnings),
            http_seeds: url_list(dict, "httpseeds", &mut warnings),
            warnings,
            entries: Vec::new(),
        };
        torrent.entries = entries
            .into_iter()
            .map(|(k, v)| (k.to_vec(), v.to_vec()))
            .collect();
        Ok(torrent)
    }

    /// Reads a torrent file.
    pub fn read(path: impl AsRef<Path>) -> Result<Torrent> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Torrent::from_bytes(&bytes)
    }

    /// The file's bytes: every entry as read, with edits applied.
    pub fn to_bytes(&self) -> Vec<u8> {
        let len = 2 + self
            .entries
            .iter()
            .map(|(k, v)| k.len() + 21 + v.len())
            .sum::<usize>();
        let mut out = Vec::with_capacity(len);
        out.push(b'd');
        for (k, v) in &self.entries {
            out.extend_from_slice(k.len().to_string().as_bytes());
            out.push(b':');
            out.extend_from_slice(k);
            out.extend_from_slice(v);
        }
        out.push(b'e');
        out
    }

    /// Writes the torrent to `path` atomically: a temporary file in the same directory, flushed
    /// to disk, then renamed over the target.
    pub fn write_atomic(&self, path: impl AsRef<Path>) -> Result<()> {
        crate::atomic::write_atomic(path.as_ref(), &self.to_bytes())
    }

    /// The 20-byte info-hash peers and trackers use: SHA-1 over the `info` bytes exactly as
    /// read, or for a v2-only torrent the first 20 bytes of their SHA-256 (BEP 52).
    pub fn info_hash(&self) -> InfoHash {
        self.info_hash
    }

    /// The v1 info-hash (SHA-1), `None` for a v2-only torrent.
    pub fn info_hash_v1(&self) -> Option<InfoHash> {
        self.info.version().has_v1().then_some(self.info_hash)
    }

    /// The v2 info-hash (SHA-256 of the `info` bytes), for v2 and hybrid torrents.
    pub fn info_hash_v2(&self) -> Option<InfoHashV2> {
        self.info_hash_v2
    }

    /// The BEP 52 piece layer of the file whose `pieces root` is `root`: one SHA-256 per piece.
    /// `None` when the torrent carries none for it (files of at most one piece never have one,
    /// and a magnet link gives none: peers send them).
    pub fn piece_layer(&self, root: &Hash256) -> Option<&[Hash256]> {
        self.piece_layers.get(root).map(Vec::as_slice)
    }

    /// The `info` dictionary.
    pub fn info(&self) -> &Info {
        &self.info
    }

    /// The `announce` URL.
    pub fn announce(&self) -> Option<&str> {
        self.announce.as_deref()
    }

    /// The BEP 12 `announce-list` tiers, as stored (empty when absent).
    pub fn announce_list(&self) -> &[Vec<String>] {
        &self.announce_list
    }

    /// The trackers a client uses: the `announce-list` tiers when present, else `announce` alone
    /// as one tier.
    pub fn trackers(&self) -> Vec<Vec<String>> {
        if !self.announce_list.is_empty() {
            self.announce_list.clone()
        } else {
            self.announce.iter().map(|a| vec![a.clone()]).collect()
        }
    }

    /// The `comment` (its `comment.utf-8` variant when present).
    pub fn comment(&self) -> Option<&str> {
        self.comment.as_deref()
    }

    /// The `created by` string.
    pub fn created_by(&self) -> Option<&str> {
        self.created_by.as_deref()
    }

    /// The `creation date`, seconds since the Unix epoch.
    pub fn creation_date(&self) -> Option<i64> {
        self.creation_date
    }

    /// The `encoding` string.
    pub fn encoding(&self) -> Option<&str> {
        self.encoding.as_deref()
    }

    /// BEP 19 web seeds (`url-list`), duplicates removed.
    pub fn web_seeds(&self) -> &[String] {
        &self.web_seeds
    }

    /// BEP 17 HTTP seeds (`httpseeds`).
    pub fn http_seeds(&self) -> &[String] {
        &self.http_seeds
    }

    /// Soft defects found while reading.
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    /// Top-level keys this crate does not interpret, in file order (kept and written back).
    pub fn unknown_keys(&self) -> impl Iterator<Item = &[u8]> + '_ {
        const KNOWN: [&[u8]; 12] = [
            b"piece layers",
            b"announce",
            b"announce-list",
            b"comment",
            b"comment.utf-8",
            b"created by",
            b"creation date",
            b"encoding",
            b"httpseeds",
            b"info",
            b"url-list",
            b"created by.utf-8",
        ];
        self.entries
            .iter()
            .map(|(k, _)| k.as_slice())
            .filter(|k| !KNOWN.contains(k))
    }

    /// Sets `announce` to `url` and removes `announce-list` (what `btreannounce` does).
    pub fn reannounce(&mut self, url: &str) -> Result<()> {
        self.set_raw(b"announce", Some(&Value::from(url)));
        self.set_raw(b"announce-list", None);
        self.reparse()
    }

    /// Sets the trackers: `announce` becomes the first URL, and `announce-list` holds the tiers
    /// when there is more than one URL. Empty tiers are dropped; no tiers removes both keys.
    pub fn set_trackers(&mut self, tiers: &[Vec<String>]) -> Result<()> {
        let tiers: Vec<&Vec<String>> = tiers.iter().filter(|t| !t.is_empty()).collect();
        let first = tiers.first().map(|t| Value::from(t[0].as_str()));
        self.set_raw(b"announce", first.as_ref());
        let count: usize = tiers.iter().map(|t| t.len()).sum();
        let list = (count > 1).then(|| tiers_value(&tiers));
        self.set_raw(b"announce-list", list.as_ref());
        self.reparse()
    }

    /// Copies `announce` and `announce-list` from `other`, byte for byte (removing them here when
    /// `other` lacks them), as `btcopyannounce` does.
    pub fn copy_announce_from(&mut self, other: &Torrent) -> Result<()> {
        for key in [&b"announce"[..], b"announce-list"] {
            let raw = other
                .entries
                .iter()
                .find(|(k, _)| k.as_slice() == key)
                .map(|(_, v)| v.clone());
            self.set_raw_bytes(key, raw);
        }
        self.reparse()
    }

    /// Sets the BEP 19 web seeds (`url-list`); an empty list removes the key.
    pub fn set_web_seeds(&mut self, urls: &[String]) -> Result<()> {
        let value = (!urls.is_empty()).then(|| string_list(urls));
        self.set_raw(b"url-list", value.as_ref());
        self.reparse()
    }

    /// Sets the BEP 17 HTTP seeds (`httpseeds`); an empty list removes the key.
    pub fn set_http_seeds(&mut self, urls: &[String]) -> Result<()> {
        let value = (!urls.is_empty()).then(|| string_list(urls));
        self.set_raw(b"httpseeds", value.as_ref());
        self.reparse()
    }

    /// Sets or removes the `comment` (and drops any `comment.utf-8`, which would shadow it).
    pub fn set_comment(&mut self, comment: Option<&str>) -> Result<()> {
        self.set_raw(b"comment", comment.map(Value::from).as_ref());
        self.set_raw(b"comment.utf-8", None);
        self.reparse()
    }

    /// Renames the torrent: sets `info.name` (and any `name.utf-8`). **This changes the
    /// info-hash**, since `info` is re-encoded; every other `info` key keeps its value.
    pub fn rename(&mut self, name: &str) -> Result<()> {
        if crate::path::sanitize_component(name.as_bytes()).as_deref() != Some(name) {
            return Err(Error::invalid(
                "info.name",
                format!("{name:?} is not a safe file name"),
            ));
        }
        let raw = self.info.raw().to_vec();
        let mut info = decode_with(&raw, &DecodeOptions::lenient())?;
        let dict: &mut Dict<'_> = info.as_dict_mut().ok_or(Error::MissingInfo)?;
        dict.insert(b"name", Value::from(name));
        if dict.get(b"name.utf-8").is_some() {
            dict.insert(b"name.utf-8", Value::from(name));
        }
        let bytes = encode(&info);
        self.set_raw_bytes(b"info", Some(bytes));
        self.reparse()
    }

    /// The exact bytes of the top-level entry `key`, if present.
    pub(crate) fn entry(&self, key: &[u8]) -> Option<&[u8]> {
        self.entries
            .iter()
            .find(|(k, _)| k.as_slice() == key)
            .map(|(_, v)| v.as_slice())
    }

    /// Replaces (or inserts in sorted place, or removes) one top-level entry.
    fn set_raw(&mut self, key: &[u8], value: Option<&Value<'_>>) {
        self.set_raw_bytes(key, value.map(encode));
    }

    fn set_raw_bytes(&mut self, key: &[u8], value: Option<Vec<u8>>) {
        let at = self.entries.iter().position(|(k, _)| k.as_slice() == key);
        match (at, value) {
            (Some(i), Some(v)) => self.entries[i].1 = v,
            (Some(i), None) => {
                self.entries.remove(i);
            }
            (None, Some(v)) => {
                let i = self
                    .entries
                    .iter()
                    .position(|(k, _)| k.as_slice() > key)
                    .unwrap_or(self.entries.len());
                self.entries.insert(i, (key.to_vec(), v));
            }
            (None, None) => {}
        }
    }

    /// Re-reads the edited bytes so that every field agrees with them.
    fn reparse(&mut self) -> Result<()> {
        *self = Torrent::from_bytes(&self.to_bytes())?;
        Ok(())
    }

    /// Builds a torrent around an encoded `info` dictionary and top-level entries (for the
    /// builder).
    pub(crate) fn from_parts(top: Dict<'_>) -> Result<Torrent> {
        Torrent::from_bytes(&encode(&Value::Dict(top)))
    }
}

/// Decodes the top-level value as libtorrent does: strict bencode, else unsorted keys accepted
/// with a warning; bytes after the top-level value are ignored with a warning. Returns the value
/// and the bytes it occupies.
fn decode_leniently<'a>(
    bytes: &'a [u8],
    warnings: &mut Vec<Warning>,
) -> Result<(Value<'a>, &'a [u8])> {
    let mut options = DecodeOptions::strict();
    let (value, consumed) = loop {
        match decode_prefix(bytes, &options) {
            Ok(Status::Complete { value, consumed }) => break (value, consumed),
            // The whole-buffer decoder names the offset where the input ran out.
            Ok(Status::Incomplete { .. }) => {
                return Err(decode_with(bytes, &options)
                    .err()
                    .map_or(Error::NotADictionary, Error::from))
            }
            Err(e) if !options.lenient && matches!(e.kind(), ErrorKind::UnsortedKey { .. }) => {
                warnings.push(Warning::UnsortedKeys {
                    detail: e.to_string(),
                });
                options = DecodeOptions::lenient();
            }
            Err(e) => return Err(e.into()),
        }
    };
    if consumed < bytes.len() {
        warnings.push(Warning::Ignored {
            field: format!("bytes {consumed}..{}", bytes.len()),
            reason: "trailing bytes after the torrent's dictionary".to_owned(),
        });
    }
    Ok((value, &bytes[..consumed]))
}

/// The top-level entries with each value's exact bytes.
fn raw_entries(bytes: &[u8]) -> Result<Vec<(&[u8], &[u8])>> {
    let options = DecodeOptions::lenient();
    let mut out = Vec::new();
    let mut pos = 1;
    while bytes.get(pos) != Some(&b'e') {
        let (key, after_key) = match decode_prefix(&bytes[pos..], &options)? {
            Status::Complete {
                value: Value::Bytes(k),
                consumed,
            } => (k, pos + consumed),
            _ => return Err(Error::NotADictionary),
        };
        let end = match decode_prefix(&bytes[after_key..], &options)? {
            Status::Complete { consumed, .. } => after_key + consumed,
            Status::Incomplete { .. } => return Err(Error::NotADictionary),
        };
        out.push((key, &bytes[after_key..end]));
        pos = end;
    }
    Ok(out)
}

fn text(dict: &Dict<'_>, key: &str) -> Option<String> {
    let utf8_key = format!("{key}.utf-8");
    dict.get(utf8_key.as_bytes())
        .or_else(|| dict.get(key.as_bytes()))
        .and_then(Value::as_bytes)
        .map(|b| String::from_utf8_lossy(b).into_owned())
}

fn url(dict: &Dict<'_>, key: &str, warnings: &mut Vec<Warning>) -> Option<String> {
    match dict.get(key.as_bytes())? {
        Value::Bytes(b) => {
            let s = String::from_utf8_lossy(b).trim().to_owned();
            (!s.is_empty()).then_some(s)
        }
        other => {
            warnings.push(Warning::Ignored {
                field: key.to_owned(),
                reason: format!("{} is not a URL", crate::info::a(other.type_name())),
            });
            None
        }
    }
}

/// `announce-list`: tiers of URLs. Items of the wrong type are ignored with a warning; URLs are
/// trimmed; empty tiers and repeated URLs are dropped.
fn tiers(dict: &Dict<'_>, warnings: &mut Vec<Warning>) -> Vec<Vec<String>> {
    let Some(list) = dict.get(b"announce-list") else {
        return Vec::new();
    };
    let Some(list) = list.as_list() else {
        warnings.push(Warning::Ignored {
            field: "announce-list".to_owned(),
            reason: format!(
                "{} is not a list of tiers",
                crate::info::a(list.type_name())
            ),
        });
        return Vec::new();
    };
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for (i, tier) in list.iter().enumerate() {
        let urls: Vec<&Value<'_>> = match tier {
            Value::List(items) => items.iter().collect(),
            Value::Bytes(_) => vec![tier],
            other => {
                warnings.push(Warning::Ignored {
                    field: format!("announce-list[{i}]"),
                    reason: format!("{} is not a tier", crate::info::a(other.type_name())),
                });
                continue;
            }
        };
        let mut urls_out = Vec::new();
        for (j, u) in urls.into_iter().enumerate() {
            match u.as_bytes() {
                Some(b) => {
                    let s = String::from_utf8_lossy(b).trim().to_owned();
                    if !s.is_empty() && seen.insert(s.clone()) {
                        urls_out.push(s);
                    }
                }
                None => warnings.push(Warning::Ignored {
                    field: format!("announce-list[{i}][{j}]"),
                    reason: format!("{} is not a URL", crate::info::a(u.type_name())),
                }),
            }
        }
        if !urls_out.is_empty() {
            out.push(urls_out);
        }
    }
    out
}

/// `url-list` / `httpseeds`: a string or a list of strings; blanks and duplicates dropped.
fn url_list(dict: &Dict<'_>, key: &str, warnings: &mut Vec<Warning>) -> Vec<String> {
    let items: Vec<&Value<'_>> = match dict.get(key.as_bytes()) {
        None => return Vec::new(),
        Some(v @ Value::Bytes(_)) => vec![v],
        Some(Value::List(items)) => items.iter().collect(),
        Some(other) => {
            warnings.push(Warning::Ignored {
                field: key.to_owned(),
                reason: format!("{} is not a URL list", crate::info::a(other.type_name())),
            });
            return Vec::new();
        }
    };
    let mut out: Vec<String> = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        match item.as_bytes() {
            Some(b) => {
                let s = String::from_utf8_lossy(b).trim().to_owned();
                if !s.is_empty() && !out.contains(&s) {
                    out.push(s);
                }
            }
            None => warnings.push(Warning::Ignored {
                field: format!("{key}[{i}]"),
                reason: format!("{} is not a URL", crate::info::a(item.type_name())),
            }),
        }
    }
    out
}

fn string_list(urls: &[String]) -> Value<'_> {
    Value::List(urls.iter().map(|u| Value::from(u.as_str())).collect())
}

fn tiers_value<'a>(tiers: &[&'a Vec<String>]) -> Value<'a> {
    Value::List(tiers.iter().map(|t| string_list(t)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &str =
        "4:infod6:lengthi5e4:name1:a12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaae";

    fn load(top: &str) -> Torrent {
        Torrent::from_bytes(format!("d{top}e").as_bytes()).unwrap()
    }

    #[test]
    fn tracker_lists_are_read_leniently() {
        let t = load(&format!(
            "8:announce6: http:13:announce-listl\
             l10:http://a/1i5e0:10:http://a/1el10:http://b/1e10:http://c/1i7ee{INFO}"
        ));
        assert_eq!(t.announce(), Some("http:"));
        assert_eq!(
            t.trackers(),
            [vec!["http://a/1"], vec!["http://b/1"], vec!["http://c/1"]]
        );
        let ignored: Vec<String> = t.warnings().iter().map(ToString::to_string).collect();
        assert_eq!(
            ignored,
            [
                "ignored `announce-list[0][1]`: an integer is not a URL",
                "ignored `announce-list[3]`: an integer is not a tier",
            ]
        );
        // Without announce-list, announce is the only tier.
        let t = load(&format!("8:announce8:http://x{INFO}"));
        assert_eq!(t.trackers(), [vec!["http://x"]]);
    }

    #[test]
    fn seeds_accept_a_string_or_a_list() {
        let t = load(&format!(
            "9:httpseedsl8:http://h8:http://he{INFO}8:url-list9:http://w "
        ));
        assert_eq!(t.web_seeds(), ["http://w"]);
        assert_eq!(t.http_seeds(), ["http://h"]);
        let t = load(&format!("{INFO}8:url-listl8:http://w0:i3e8:http://we"));
        assert_eq!(t.web_seeds(), ["http://w"]);
        assert_eq!(t.warnings().len(), 1);
    }

    #[test]
    fn utf8_variants_win() {
        let t = load(&format!("7:comment1:x13:comment.utf-82:\u{e9}{INFO}"));
        assert_eq!(t.comment(), Some("\u{e9}"));
    }
}
