//! Helpers: torrents written as bencode by hand, so tests control every byte.

use torrentkit_bencode::{encode, Dict, Value};

/// An `info` dictionary for one file of `length` bytes in 16 KiB pieces, with correct-length
/// (all-zero) piece hashes.
pub(crate) fn single_info(name: &str, length: i64) -> Vec<u8> {
    let pieces = vec![0u8; 20 * (length.max(0) as usize).div_ceil(16384)];
    let mut info = Dict::new();
    info.insert(b"length", Value::Int(length));
    info.insert(b"name", Value::from(name));
    info.insert(b"piece length", Value::Int(16384));
    info.insert(b"pieces", Value::Bytes(&pieces));
    encode(&Value::Dict(info))
}

/// An `info` dictionary with the given files (path components, length) in 16 KiB pieces.
pub(crate) fn multi_info(name: &[u8], files: &[(&[&[u8]], i64)]) -> Vec<u8> {
    let total: i128 = files.iter().map(|f| i128::from(f.1.max(0))).sum();
    // Absurd totals (tests of length limits) get one hash: they must fail before it matters.
    let count = if total > 1 << 40 {
        1
    } else {
        (total as usize).div_ceil(16384)
    };
    let pieces = vec![0u8; 20 * count];
    let list = files
        .iter()
        .map(|(path, length)| {
            let mut d = Dict::new();
            d.insert(b"length", Value::Int(*length));
            d.insert(
                b"path",
                Value::List(path.iter().map(|c| Value::Bytes(c)).collect()),
            );
            Value::Dict(d)
        })
        .collect();
    let mut info = Dict::new();
    info.insert(b"files", Value::List(list));
    info.insert(b"name", Value::Bytes(name));
    info.insert(b"piece length", Value::Int(16384));
    info.insert(b"pieces", Value::Bytes(&pieces));
    encode(&Value::Dict(info))
}

/// `d8:announce<url>4:info<info>e` with the info bytes spliced in verbatim.
pub(crate) fn torrent_with(info: &[u8]) -> Vec<u8> {
    let mut out = b"d8:announce20:http://t.example/ann4:info".to_vec();
    out.extend_from_slice(info);
    out.push(b'e');
    out
}
