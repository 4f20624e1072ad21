//! Fuzz target `serde`: `from_bytes` into a torrent-like struct, and serde against the value tree.
//!
//! On arbitrary bytes nothing may panic, and:
//! - every `from_bytes` error carries a byte offset within the input, for the torrent and for an
//!   enum read on its own (which, when accepted, writes back exactly as it was read);
//! - when strict `from_bytes::<Torrent>` succeeds, the input also decodes as a strict value tree,
//!   `info`'s raw span is strict bencode inside the input, `to_vec` of the result succeeds and
//!   decodes strictly, and deserializing and serializing that output again gives it back unchanged;
//! - `from_bytes_prefix` agrees with `from_bytes` on a whole input, says `Incomplete` for a few
//!   truncations of an accepted input, and stops at its end when more bytes follow;
//! - when lenient `from_bytes_with` succeeds, `to_vec` of the result decodes leniently (a `Spanned`
//!   is written verbatim, so it may keep unsorted keys);
//! - `from_bytes::<Value>` and `decode` accept the same inputs with the same trees and errors, and
//!   `to_vec` of a (lenient) tree is its canonical `encode`;
//! - `from_bytes::<OwnedValue>` accepts the same inputs as `decode`, giving the same tree.

#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use serde::{Deserialize, Serialize};
use torrentkit_bencode::{
    decode, decode_with, encode, from_bytes, from_bytes_prefix, from_bytes_with, to_vec,
    DecodeOptions, OwnedValue, Raw, Spanned, Status, Value,
};

/// A metainfo file, close to what the metainfo crate reads.
#[derive(Debug, Deserialize, Serialize)]
struct Torrent<'a> {
    // Declared before `announce` on purpose: the serializer must re-sort out-of-order fields.
    #[serde(borrow)]
    info: Spanned<'a, Info<'a>>,
    // No `skip_serializing_if`: the serializer itself must drop a `None` field's key.
    #[serde(borrow)]
    announce: Option<&'a str>,
    #[serde(rename = "announce-list", borrow)]
    announce_list: Option<Vec<Vec<&'a str>>>,
    comment: Option<String>,
    #[serde(rename = "creation date")]
    creation_date: Option<i64>,
    #[serde(rename = "url-list", borrow)]
    url_list: Option<Raw<'a>>,
    #[serde(borrow)]
    nodes: Option<Vec<(&'a str, u16)>>,
    #[serde(rename = "x-extra", borrow)]
    extra: Option<BTreeMap<&'a str, Value<'a>>>,
}

#[derive(Debug, Deserialize, Serialize)]
struct Info<'a> {
    name: &'a str,
    #[serde(rename = "piece length")]
    piece_length: u64,
    #[serde(with = "serde_bytes")]
    pieces: &'a [u8],
    length: Option<i64>,
    #[serde(borrow)]
    files: Option<Vec<File<'a>>>,
    private: Option<bool>,
    #[serde(rename = "meta version")]
    meta_version: Option<u8>,
    #[serde(rename = "root hash", borrow, with = "serde_bytes", default)]
    root_hash: Option<&'a [u8]>,
    #[serde(borrow)]
    layout: Option<Layout<'a>>,
}

/// Every enum shape serde has: a unit variant is a byte string, the others one-entry dictionaries.
/// Unknown fields are refused so that an accepted value writes back byte for byte.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
enum Layout<'a> {
    #[serde(rename = "flat")]
    Flat,
    #[serde(rename = "dir")]
    Dir(&'a str),
    #[serde(rename = "pair")]
    Pair(i64, i64),
    #[serde(rename = "tree")]
    Tree {
        depth: u8,
        #[serde(borrow)]
        root: Option<&'a str>,
    },
}

#[derive(Debug, Deserialize, Serialize)]
struct File<'a> {
    length: i64,
    #[serde(borrow)]
    path: Vec<&'a str>,
    #[serde(borrow)]
    attr: Option<&'a str>,
    #[serde(with = "serde_bytes", default)]
    md5sum: Option<Vec<u8>>,
}

fuzz_target!(|data: &[u8]| {
    check_torrent(data);
    check_enum(data);
    check_value_agrees(data);
});

fn check_torrent(data: &[u8]) {
    let strict = from_bytes::<Torrent<'_>>(data);
    if let Err(e) = &strict {
        // Every error from reading input says where; type errors point at a value that is there.
        let offset = e
            .offset()
            .unwrap_or_else(|| panic!("from_bytes error without offset: {e:?}"));
        assert!(offset <= data.len(), "error offset past the input: {e:?}");
        assert!(e.to_string().starts_with("bencode: "), "{e}");
    }
    if let Ok(torrent) = &strict {
        decode(data).unwrap_or_else(|e| panic!("from_bytes accepted what decode rejects: {e}"));
        let raw = torrent.info.raw;
        let inside = data.as_ptr_range();
        assert!(
            inside.start <= raw.as_ptr() && raw.as_ptr_range().end <= inside.end,
            "Spanned raw bytes do not borrow from the input"
        );
        decode(raw).unwrap_or_else(|e| panic!("Spanned raw bytes are not strict bencode: {e}"));

        let written = to_vec(torrent).unwrap_or_else(|e| panic!("to_vec failed: {e}"));
        decode(&written).unwrap_or_else(|e| panic!("to_vec output does not decode strictly: {e}"));
        let reread: Torrent<'_> = from_bytes(&written)
            .unwrap_or_else(|e| panic!("to_vec output does not deserialize again: {e}"));
        let rewritten = to_vec(&reread).unwrap_or_else(|e| panic!("second to_vec failed: {e}"));
        assert_eq!(rewritten, written, "serialize is not a fixed point");
        check_truncations(data);
    }

    match from_bytes_prefix::<Torrent<'_>>(data, &DecodeOptions::strict()) {
        Ok(Status::Complete { consumed, .. }) => {
            assert!(consumed <= data.len());
            if strict.is_ok() {
                assert_eq!(
                    consumed,
                    data.len(),
                    "from_bytes_prefix stopped early on a whole input"
                );
            }
        }
        Ok(Status::Incomplete { needed }) => {
            assert!(
                strict.is_err(),
                "from_bytes_prefix says Incomplete on an accepted input"
            );
            assert_ne!(needed, Some(0), "Incomplete needing zero bytes");
        }
        Err(e) => assert!(
            strict.is_err(),
            "from_bytes_prefix failed on an accepted input: {e}"
        ),
    }

    if let Ok(torrent) = from_bytes_with::<Torrent<'_>>(data, &DecodeOptions::lenient()) {
        let written = to_vec(&torrent).unwrap_or_else(|e| panic!("to_vec (lenient) failed: {e}"));
        decode_with(&written, &DecodeOptions::lenient())
            .unwrap_or_else(|e| panic!("to_vec output of a lenient torrent does not decode: {e}"));
    } else {
        assert!(
            strict.is_err(),
            "strict from_bytes accepted what lenient rejected"
        );
    }
}

/// An enum read on its own (as a message type would be): errors still say where.
fn check_enum(data: &[u8]) {
    match from_bytes::<Layout<'_>>(data) {
        Ok(layout) => {
            let written = to_vec(&layout).unwrap_or_else(|e| panic!("to_vec(Layout) failed: {e}"));
            assert_eq!(
                written, data,
                "a strictly read enum does not write back as it was"
            );
        }
        Err(e) => {
            let offset = e
                .offset()
                .unwrap_or_else(|| panic!("from_bytes::<Layout> error without offset: {e:?}"));
            assert!(offset <= data.len(), "error offset past the input: {e:?}");
        }
    }
}

/// Cutting an accepted torrent short is `Incomplete` (a few cut points, to stay fast), and with
/// bytes after it the torrent still ends where it did.
fn check_truncations(data: &[u8]) {
    let strict = DecodeOptions::strict();
    let n = data.len();
    let hashed = data
        .iter()
        .fold(n, |h, &b| h.wrapping_mul(31).wrapping_add(usize::from(b)));
    for cut in [0, n / 2, n - 1, hashed % n] {
        match from_bytes_prefix::<Torrent<'_>>(&data[..cut], &strict) {
            Ok(Status::Incomplete { needed }) => {
                if let Some(needed) = needed {
                    assert!(
                        (1..=n - cut).contains(&needed),
                        "cut at {cut} of {n}: claims {needed} more bytes are needed"
                    );
                }
            }
            other => panic!("cut at {cut} of {n}: expected Incomplete, got {other:?}"),
        }
    }
    let mut longer = data.to_vec();
    longer.extend_from_slice(b"d1:xi1ee");
    match from_bytes_prefix::<Torrent<'_>>(&longer, &strict) {
        Ok(Status::Complete { consumed, .. }) => assert_eq!(consumed, n),
        other => panic!("with bytes appended: {other:?}"),
    }
}

fn check_value_agrees(data: &[u8]) {
    for options in [DecodeOptions::strict(), DecodeOptions::lenient()] {
        let tree = decode_with(data, &options);
        let via_serde = from_bytes_with::<Value<'_>>(data, &options);
        match (&tree, &via_serde) {
            (Ok(a), Ok(b)) => {
                assert_eq!(a, b, "serde and decode build different trees");
                let written = to_vec(b).unwrap_or_else(|e| panic!("to_vec(Value) failed: {e}"));
                assert_eq!(
                    written,
                    encode(a),
                    "to_vec(Value) is not the canonical encoding"
                );
            }
            (Err(a), Err(b)) => assert_eq!(a, b, "serde and decode fail differently"),
            _ => panic!("decode gave {tree:?} but from_bytes::<Value> gave {via_serde:?}"),
        }
    }
    let tree = decode(data);
    let owned = from_bytes::<OwnedValue>(data);
    match (&tree, &owned) {
        (Ok(a), Ok(b)) => assert_eq!(a.to_owned_value(), *b, "OwnedValue differs from the tree"),
        (Err(_), Err(_)) => {}
        _ => panic!("decode gave {tree:?} but from_bytes::<OwnedValue> gave {owned:?}"),
    }
}
