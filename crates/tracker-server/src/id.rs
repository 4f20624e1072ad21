//! The 20-byte identifiers of the protocol: [`InfoHash`] and [`PeerId`].

use std::fmt;

/// The SHA-1 of a torrent's `info` dictionary: the name of a swarm.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct InfoHash(pub [u8; 20]);

/// The 20 bytes a client picks to name itself in announces.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct PeerId(pub [u8; 20]);

impl InfoHash {
    /// Parses 40 hexadecimal digits (either case); `None` for anything else.
    pub fn from_hex(hex: &str) -> Option<Self> {
        from_hex(hex).map(Self)
    }

    /// The 40 lower-case hexadecimal digits.
    pub fn to_hex(&self) -> String {
        to_hex(&self.0)
    }
}

impl PeerId {
    /// Parses 40 hexadecimal digits (either case); `None` for anything else.
    pub fn from_hex(hex: &str) -> Option<Self> {
        from_hex(hex).map(Self)
    }
}

impl fmt::Display for InfoHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&to_hex(&self.0))
    }
}

impl fmt::Debug for InfoHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InfoHash({})", to_hex(&self.0))
    }
}

impl fmt::Debug for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PeerId({})", self.0.escape_ascii())
    }
}

fn from_hex(hex: &str) -> Option<[u8; 20]> {
    let hex = hex.as_bytes();
    if hex.len() != 40 {
        return None;
    }
    let mut out = [0u8; 20];
    for (i, pair) in hex.chunks_exact(2).enumerate() {
        out[i] = (hex_digit(pair[0])? << 4) | hex_digit(pair[1])?;
    }
    Some(out)
}

pub(crate) fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

pub(crate) fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_rejects() {
        let h = InfoHash::from_hex("0123456789ABCDEFabcdef0123456789abcdef01").unwrap();
        assert_eq!(h.to_hex(), "0123456789abcdefabcdef0123456789abcdef01");
        assert_eq!(h.0[0], 0x01);
        assert!(InfoHash::from_hex("0123").is_none());
        assert!(InfoHash::from_hex("g123456789abcdefabcdef0123456789abcdef01").is_none());
    }
}
