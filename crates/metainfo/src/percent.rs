//! Percent-encoding (RFC 3986 `%XX` escapes) of raw bytes: the one implementation that magnet
//! links, tracker query strings (`info_hash` and `peer_id` are arbitrary bytes) and `file://` URLs
//! all use.
//!
//! ```
//! use torrentkit_metainfo::percent;
//!
//! let mut query = String::new();
//! percent::encode_into(b"a b/\xff", percent::UNRESERVED, &mut query);
//! assert_eq!(query, "a%20b%2F%FF");
//! assert_eq!(percent::decode(query.as_bytes(), false)?, b"a b/\xff");
//! assert_eq!(percent::decode(b"a+b", true)?, b"a b");
//! assert_eq!(percent::decode(b"%zz", false).unwrap_err().to_string(), "bad percent-escape at byte 0");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

/// Keep only RFC 3986 unreserved characters (`A-Z a-z 0-9 - . _ ~`): what query values need.
pub const UNRESERVED: &[u8] = b"";

/// Also keep `:`, `/` and `@`, common in URLs inside a magnet link and readable there.
pub const URL_CHARACTERS: &[u8] = b":/@";

const UPPER_HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Hexadecimal digit values, 0xff for bytes that are not digits (a table, because the tracker
/// decodes two of these per byte of every `info_hash` it is sent).
const HEX_VALUE: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut c = 0;
    while c < 256 {
        t[c] = match c as u8 {
            b'0'..=b'9' => c as u8 - b'0',
            b'a'..=b'f' => c as u8 - b'a' + 10,
            b'A'..=b'F' => c as u8 - b'A' + 10,
            _ => 0xff,
        };
        c += 1;
    }
    t
};

/// The value of one hexadecimal digit (either case), `None` for any other byte.
pub fn hex_value(c: u8) -> Option<u8> {
    let v = HEX_VALUE[usize::from(c)];
    (v <= 15).then_some(v)
}

/// Appends `bytes` to `out`, escaping every byte except the unreserved characters and those in
/// `keep` (see [`UNRESERVED`] and [`URL_CHARACTERS`]); escapes use upper-case hex.
pub fn encode_into(bytes: &[u8], keep: &[u8], out: &mut String) {
    out.reserve(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') || keep.contains(&b)
        {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(UPPER_HEX[usize::from(b >> 4)]));
            out.push(char::from(UPPER_HEX[usize::from(b & 15)]));
        }
    }
}

/// `bytes` percent-encoded, as [`encode_into`] does it.
pub fn encode(bytes: &[u8], keep: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    encode_into(bytes, keep, &mut out);
    out
}

/// A `%` not followed by two hexadecimal digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeError {
    /// The byte offset of the `%` in the encoded input.
    pub at: usize,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad percent-escape at byte {}", self.at)
    }
}

impl std::error::Error for DecodeError {}

/// Decodes `raw` into `out` without allocating (`+` becomes a space when `plus_is_space`, as in
/// HTML form queries). Returns the decoded length; when `out` is too short, only what fits is
/// written but the full length is still returned, so the caller can name the length it got.
pub fn decode_into(raw: &[u8], plus_is_space: bool, out: &mut [u8]) -> Result<usize, DecodeError> {
    let mut n = 0;
    let mut i = 0;
    while i < raw.len() {
        let b = match raw[i] {
            b'%' => {
                let hi = raw.get(i + 1).copied().and_then(hex_value);
                let lo = raw.get(i + 2).copied().and_then(hex_value);
                let (Some(hi), Some(lo)) = (hi, lo) else {
                    return Err(DecodeError { at: i });
                };
                i += 3;
                (hi << 4) | lo
            }
            b'+' if plus_is_space => {
                i += 1;
                b' '
            }
            b => {
                i += 1;
                b
            }
        };
        if let Some(slot) = out.get_mut(n) {
            *slot = b;
        }
        n += 1;
    }
    Ok(n)
}

/// Decodes `raw` into a new vector (see [`decode_into`]).
pub fn decode(raw: &[u8], plus_is_space: bool) -> Result<Vec<u8>, DecodeError> {
    let mut out = vec![0u8; raw.len()];
    let len = decode_into(raw, plus_is_space, &mut out)?;
    out.truncate(len);
    Ok(out)
}

/// The fast path of the common case: `raw` is exactly `N` `%XX` escapes (how clients send
/// info-hashes and random peer ids). `None` for anything else, which [`decode_into`] then reads.
pub fn decode_all_escaped<const N: usize>(raw: &[u8]) -> Option<[u8; N]> {
    if raw.len() != 3 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (slot, c) in out.iter_mut().zip(raw.chunks_exact(3)) {
        let (hi, lo) = (HEX_VALUE[usize::from(c[1])], HEX_VALUE[usize::from(c[2])]);
        if c[0] != b'%' || (hi | lo) > 15 {
            return None;
        }
        *slot = (hi << 4) | lo;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_keeps_only_unreserved_and_the_chosen_extras() {
        assert_eq!(
            encode(b"aZ9-._~ /\x00\xff%", UNRESERVED),
            "aZ9-._~%20%2F%00%FF%25"
        );
        assert_eq!(
            encode(b"http://t.example/a b@x", URL_CHARACTERS),
            "http://t.example/a%20b@x"
        );
    }

    #[test]
    fn decoding_reports_where_an_escape_is_bad() {
        assert_eq!(decode(b"a%41%4a+", false).unwrap(), b"aAJ+");
        assert_eq!(decode(b"a+b", true).unwrap(), b"a b");
        assert_eq!(decode(b"ab%4", false), Err(DecodeError { at: 2 }));
        assert_eq!(decode(b"%g0", false), Err(DecodeError { at: 0 }));
        let mut short = [0u8; 2];
        assert_eq!(decode_into(b"abcd", false, &mut short), Ok(4));
        assert_eq!(&short, b"ab");
    }

    #[test]
    fn the_escaped_fast_path_agrees_with_the_general_decoder() {
        let mixed: String = (0u8..20)
            .map(|i| {
                if i % 2 == 0 {
                    format!("%{i:02x}")
                } else {
                    format!("%{i:02X}")
                }
            })
            .collect();
        let fast = decode_all_escaped::<20>(mixed.as_bytes()).unwrap();
        assert_eq!(decode(mixed.as_bytes(), false).unwrap(), fast);
        assert_eq!(fast, core::array::from_fn(|i| i as u8));
        assert_eq!(decode_all_escaped::<20>("a".repeat(60).as_bytes()), None);
        assert_eq!(decode_all_escaped::<2>(b"%0"), None);
    }

    #[test]
    fn every_byte_round_trips() {
        let all: Vec<u8> = (0..=255).collect();
        for keep in [UNRESERVED, URL_CHARACTERS] {
            let encoded = encode(&all, keep);
            assert_eq!(decode(encoded.as_bytes(), false).unwrap(), all);
            assert_eq!(decode(encoded.as_bytes(), true).unwrap(), all);
        }
        for c in 0..=255u8 {
            assert_eq!(hex_value(c), (c as char).to_digit(16).map(|d| d as u8));
        }
    }
}
