//! [`InfoHash`]: the SHA-1 of a torrent's `info` dictionary, in hex and base32; [`InfoHashV2`]:
//! its SHA-256 (BEP 52), whose first 20 bytes stand in for it on the wire and at trackers.

use std::fmt;
use std::str::FromStr;

use sha1::{Digest, Sha1};

use crate::error::Error;
use crate::percent::hex_value as hex_digit;

/// A BitTorrent v1 info-hash: SHA-1 over the exact bytes of the `info` dictionary.
///
/// Displays as 40 lower-case hex digits; parses from hex (either case) or 32 base32 characters
/// (RFC 4648, as some magnet links carry it).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InfoHash(pub [u8; 20]);

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

impl InfoHash {
    /// SHA-1 of `info_bytes`, which must be the `info` dictionary exactly as it appears in the file.
    pub fn of_info_bytes(info_bytes: &[u8]) -> Self {
        InfoHash(Sha1::digest(info_bytes).into())
    }

    /// The 20 raw bytes.
    pub fn as_bytes(&self) -> &[u8; 20] {
        &self.0
    }

    /// 40 lower-case hex digits.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    /// 32 upper-case RFC 4648 base32 characters, without padding.
    pub fn to_base32(&self) -> String {
        let mut out = String::with_capacity(32);
        let mut buffer: u64 = 0;
        let mut bits = 0;
        for &b in &self.0 {
            buffer = (buffer << 8) | u64::from(b);
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                out.push(char::from(BASE32[((buffer >> bits) & 31) as usize]));
            }
        }
        out
    }

    /// Parses 40 hex digits.
    pub fn from_hex(s: &str) -> Result<Self, Error> {
        let bytes = s.as_bytes();
        if bytes.len() != 40 {
            return Err(Error::magnet(format!(
                "info-hash `{s}` has {} characters; hex needs 40",
                bytes.len()
            )));
        }
        let mut out = [0u8; 20];
        for (i, pair) in bytes.chunks(2).enumerate() {
            let (Some(hi), Some(lo)) = (hex_digit(pair[0]), hex_digit(pair[1])) else {
                return Err(Error::magnet(format!(
                    "info-hash `{s}` has a non-hex character"
                )));
            };
            out[i] = (hi << 4) | lo;
        }
        Ok(InfoHash(out))
    }

    /// Parses 32 base32 characters (either case).
    pub fn from_base32(s: &str) -> Result<Self, Error> {
        if s.len() != 32 {
            return Err(Error::magnet(format!(
                "info-hash `{s}` has {} characters; base32 needs 32",
                s.len()
            )));
        }
        let mut out = Vec::with_capacity(20);
        let mut buffer: u64 = 0;
        let mut bits = 0;
        for c in s.bytes() {
            let value = match c.to_ascii_uppercase() {
                c @ b'A'..=b'Z' => c - b'A',
                c @ b'2'..=b'7' => c - b'2' + 26,
                _ => {
                    return Err(Error::magnet(format!(
                        "info-hash `{s}` has a non-base32 character"
                    )))
                }
            };
            buffer = (buffer << 5) | u64::from(value);
            bits += 5;
            if bits >= 8 {
                bits -= 8;
                out.push((buffer >> bits) as u8);
            }
        }
        let mut hash = [0u8; 20];
        hash.copy_from_slice(&out);
        Ok(InfoHash(hash))
    }
}

impl FromStr for InfoHash {
    type Err = Error;

    /// Hex (40 characters) or base32 (32 characters).
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.len() {
            32 => Self::from_base32(s),
            _ => Self::from_hex(s),
        }
    }
}

impl fmt::Display for InfoHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for InfoHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InfoHash({})", self.to_hex())
    }
}

/// A BitTorrent v2 info-hash (BEP 52): SHA-256 over the exact bytes of the `info` dictionary.
///
/// Displays as 64 lower-case hex digits. Handshakes, trackers and the DHT carry its first 20
/// bytes, [`truncated`](Self::truncated).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InfoHashV2(pub [u8; 32]);

impl InfoHashV2 {
    /// SHA-256 of `info_bytes`, the `info` dictionary exactly as it appears in the file.
    pub fn of_info_bytes(info_bytes: &[u8]) -> Self {
        InfoHashV2(sha2::Sha256::digest(info_bytes).into())
    }

    /// The first 20 bytes, which v2 peers put in the handshake and send to trackers.
    pub fn truncated(&self) -> InfoHash {
        let mut h = [0u8; 20];
        h.copy_from_slice(&self.0[..20]);
        InfoHash(h)
    }

    /// 64 lower-case hex digits.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    /// Parses 64 hex digits.
    pub fn from_hex(s: &str) -> Result<Self, Error> {
        let bytes = s.as_bytes();
        if bytes.len() != 64 {
            return Err(Error::magnet(format!(
                "v2 info-hash `{s}` has {} characters; hex needs 64",
                bytes.len()
            )));
        }
        let mut out = [0u8; 32];
        for (i, pair) in bytes.chunks(2).enumerate() {
            let (Some(hi), Some(lo)) = (hex_digit(pair[0]), hex_digit(pair[1])) else {
                return Err(Error::magnet(format!(
                    "v2 info-hash `{s}` has a non-hex character"
                )));
            };
            out[i] = (hi << 4) | lo;
        }
        Ok(InfoHashV2(out))
    }
}

impl FromStr for InfoHashV2 {
    type Err = Error;

    /// 64 hex digits.
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::from_hex(s)
    }
}

impl fmt::Display for InfoHashV2 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for InfoHashV2 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InfoHashV2({})", self.to_hex())
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha1_of_known_bytes() {
        // SHA-1("abc") from FIPS 180-2.
        assert_eq!(
            InfoHash::of_info_bytes(b"abc").to_hex(),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
    }

    #[test]
    fn v2_hash_is_sha256_and_truncates_to_its_first_20_bytes() {
        // SHA-256("abc") from FIPS 180-2.
        let h = InfoHashV2::of_info_bytes(b"abc");
        assert_eq!(
            h.to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            h.truncated().to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a3"
        );
        assert_eq!(InfoHashV2::from_hex(&h.to_hex()).unwrap(), h);
        let e = InfoHashV2::from_hex("abcd").unwrap_err().to_string();
        assert!(e.contains("needs 64"), "{e}");
    }

    #[test]
    fn hex_and_base32_round_trip() {
        let hash = InfoHash::of_info_bytes(b"torrentkit");
        assert_eq!(InfoHash::from_hex(&hash.to_hex()).unwrap(), hash);
        assert_eq!(
            InfoHash::from_hex(&hash.to_hex().to_uppercase()).unwrap(),
            hash
        );
        assert_eq!(InfoHash::from_base32(&hash.to_base32()).unwrap(), hash);
        assert_eq!(
            InfoHash::from_base32(&hash.to_base32().to_lowercase()).unwrap(),
            hash
        );
        assert_eq!(hash.to_base32().len(), 32);
    }

    #[test]
    fn base32_known_value() {
        // 20 zero bytes are 32 `A`s; 0xff.. are 32 `7`s.
        assert_eq!(InfoHash([0; 20]).to_base32(), "A".repeat(32));
        assert_eq!(InfoHash([0xff; 20]).to_base32(), "7".repeat(32));
        let mut one = [0u8; 20];
        one[19] = 1;
        assert_eq!(
            InfoHash(one).to_base32(),
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB"
        );
    }

    #[test]
    fn bad_hashes_are_rejected_with_reason() {
        let e = InfoHash::from_hex("abc").unwrap_err().to_string();
        assert!(e.contains("needs 40"), "{e}");
        let e = InfoHash::from_hex(&"g".repeat(40)).unwrap_err().to_string();
        assert!(e.contains("non-hex"), "{e}");
        let e = InfoHash::from_base32(&"1".repeat(32))
            .unwrap_err()
            .to_string();
        assert!(e.contains("non-base32"), "{e}");
    }
}
