//! The BEP 52 `piece layers`: for every file longer than one piece, the hashes of its pieces
//! (the layer of its Merkle tree where each node covers one piece), keyed by its `pieces root`.
//!
//! Checked as libtorrent checks them: a malformed entry or a layer of the wrong size is an
//! error; a layer for no file is ignored; a layer that does not hash to its root is dropped with
//! a warning (peers can send the right one: BEP 52 hash requests).

use std::collections::BTreeMap;

use torrentkit_bencode::{Dict, Value};

use crate::error::{Error, Result};
use crate::info::Info;
use crate::merkle::{root_from_layer, Hash256};
use crate::warning::Warning;

/// Piece layers by `pieces root`.
pub(crate) type Layers = BTreeMap<Hash256, Vec<Hash256>>;

/// Reads the top-level `piece layers` of a v2 or hybrid torrent.
pub(crate) fn parse(top: &Dict<'_>, info: &Info, warnings: &mut Vec<Warning>) -> Result<Layers> {
    let mut out = Layers::new();
    let Some(value) = top.get(b"piece layers") else {
        return Ok(out);
    };
    let dict = value.as_dict().ok_or_else(|| {
        Error::invalid("piece layers", "a piece layer is invalid: not a dictionary")
    })?;
    // Only files longer than a piece have a layer (a shorter file's root is its piece hash).
    let needed: BTreeMap<Hash256, u64> = info
        .files()
        .iter()
        .filter(|f| f.length > info.piece_length())
        .filter_map(|f| Some((f.pieces_root?, f.length.div_ceil(info.piece_length()))))
        .collect();
    for (key, value) in dict.iter() {
        let field = format!("piece layers/{}", crate::infohash::hex(key));
        let bytes = match (key.len(), value) {
            (32, Value::Bytes(b)) if b.len() % 32 == 0 => *b,
            _ => {
                return Err(Error::invalid(
                    field,
                    "a piece layer is invalid: keys are 32-byte roots and values strings of \
                     32-byte hashes",
                ))
            }
        };
        let mut root = [0u8; 32];
        root.copy_from_slice(key);
        let Some(&pieces) = needed.get(&root) else {
            warnings.push(Warning::Ignored {
                field,
                reason: "no file longer than a piece has this root".to_owned(),
            });
            continue;
        };
        if bytes.len() as u64 != pieces * 32 {
            return Err(Error::invalid(
                field,
                format!(
                    "a piece layer is invalid: {} hashes for a file of {pieces} pieces",
                    bytes.len() / 32
                ),
            ));
        }
        let layer: Vec<Hash256> = bytes
            .chunks_exact(32)
            .map(|c| c.try_into().unwrap_or([0; 32]))
            .collect();
        if root_from_layer(&layer, info.piece_length()) != root {
            warnings.push(Warning::Ignored {
                field,
                reason: "the piece layer does not hash to its pieces root".to_owned(),
            });
            continue;
        }
        out.insert(root, layer);
    }
    Ok(out)
}
