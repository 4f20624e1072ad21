//! Writing [`Value`] trees as bencode: canonical by default, or verbatim in stored order.

use crate::sink::{put_bytes as write_bytes, put_int as write_int};
use crate::value::{Dict, Value};

/// Encodes `value` in canonical form: dictionary keys sorted as raw bytes.
///
/// A dictionary that is already sorted (every strictly decoded or [`Dict::insert`]-built one) is
/// written straight through; an unsorted one from lenient decoding is written in sorted order.
///
/// ```
/// use torrentkit_bencode::{decode_with, encode, DecodeOptions};
/// let unsorted = decode_with(b"d1:bi2e1:ai1ee", &DecodeOptions::lenient())?;
/// assert_eq!(encode(&unsorted), b"d1:ai1e1:bi2ee");
/// # Ok::<(), torrentkit_bencode::Error>(())
/// ```
pub fn encode(value: &Value<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(encoded_len(value));
    encode_into(value, &mut out, true);
    out
}

/// Encodes `value` keeping every dictionary's stored order, so that a lenient decode followed by
/// this gives back the input byte for byte.
pub fn encode_verbatim(value: &Value<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(encoded_len(value));
    encode_into(value, &mut out, false);
    out
}

/// Appends the canonical encoding of `value` to `out`.
pub fn encode_to(value: &Value<'_>, out: &mut Vec<u8>) {
    out.reserve(encoded_len(value));
    encode_into(value, out, true);
}

/// The exact length of the encoding, so the output is allocated once.
pub fn encoded_len(value: &Value<'_>) -> usize {
    match value {
        Value::Int(i) => 2 + int_len(*i),
        Value::Bytes(b) => bytes_len(b),
        Value::List(items) => 2 + items.iter().map(encoded_len).sum::<usize>(),
        Value::Dict(dict) => {
            2 + dict
                .iter()
                .map(|(k, v)| bytes_len(k) + encoded_len(v))
                .sum::<usize>()
        }
    }
}

fn encode_into(value: &Value<'_>, out: &mut Vec<u8>, canonical: bool) {
    match value {
        Value::Int(i) => write_int(out, *i),
        Value::Bytes(b) => write_bytes(out, b),
        Value::List(items) => {
            out.push(b'l');
            for item in items {
                encode_into(item, out, canonical);
            }
            out.push(b'e');
        }
        Value::Dict(dict) => encode_dict(dict, out, canonical),
    }
}

fn encode_dict(dict: &Dict<'_>, out: &mut Vec<u8>, canonical: bool) {
    out.push(b'd');
    if canonical && !dict.is_sorted() {
        let mut sorted: Vec<_> = dict.entries().iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(b.0));
        for (k, v) in sorted {
            write_bytes(out, k);
            encode_into(v, out, canonical);
        }
    } else {
        for (k, v) in dict.entries() {
            write_bytes(out, k);
            encode_into(v, out, canonical);
        }
    }
    out.push(b'e');
}

fn int_len(i: i64) -> usize {
    itoa::Buffer::new().format(i).len()
}

fn bytes_len(b: &[u8]) -> usize {
    itoa::Buffer::new().format(b.len()).len() + 1 + b.len()
}
