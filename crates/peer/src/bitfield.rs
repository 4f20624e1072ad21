//! A compact set of piece indices in BitTorrent bit order (piece 0 is the high bit of byte 0).

use std::fmt;

/// Which pieces of a torrent someone has, one bit per piece, stored as the wire sends it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Bitfield {
    bytes: Vec<u8>,
    len: u32,
    ones: u32,
}

/// A bitfield that does not fit the torrent it was meant for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BitfieldError {
    /// The byte length is not `ceil(pieces / 8)`.
    Length {
        /// Bytes expected for this many pieces.
        expected: usize,
        /// Bytes given.
        actual: usize,
    },
    /// A spare bit after the last piece is set.
    SpareBits {
        /// The number of pieces in the torrent.
        pieces: u32,
    },
}

impl fmt::Display for BitfieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BitfieldError::Length { expected, actual } => {
                write!(f, "bitfield: {actual} bytes, expected {expected}")
            }
            BitfieldError::SpareBits { pieces } => {
                write!(f, "bitfield: a spare bit after piece {pieces} is set")
            }
        }
    }
}

impl std::error::Error for BitfieldError {}

impl Bitfield {
    /// An empty set for a torrent of `pieces` pieces.
    pub fn new(pieces: u32) -> Self {
        Bitfield {
            bytes: vec![0; (pieces as usize).div_ceil(8)],
            len: pieces,
            ones: 0,
        }
    }

    /// A full set: every piece of `pieces`.
    pub fn full(pieces: u32) -> Self {
        let mut b = Bitfield::new(pieces);
        for i in 0..pieces {
            b.insert(i);
        }
        b
    }

    /// Reads the wire form, checking its length and that the spare bits are zero.
    pub fn from_bytes(bytes: &[u8], pieces: u32) -> Result<Self, BitfieldError> {
        let expected = (pieces as usize).div_ceil(8);
        if bytes.len() != expected {
            return Err(BitfieldError::Length {
                expected,
                actual: bytes.len(),
            });
        }
        if pieces % 8 != 0 {
            let spare_mask = 0xffu8 >> (pieces % 8);
            if bytes[expected - 1] & spare_mask != 0 {
                return Err(BitfieldError::SpareBits { pieces });
            }
        }
        let ones = bytes.iter().map(|b| b.count_ones()).sum();
        Ok(Bitfield {
            bytes: bytes.to_vec(),
            len: pieces,
            ones,
        })
    }

    /// The wire form: `ceil(len / 8)` bytes, spare bits zero.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The number of pieces this set is for.
    pub fn len(&self) -> u32 {
        self.len
    }

    /// True for a torrent of zero pieces.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether `piece` is in the set; `false` when out of range.
    pub fn contains(&self, piece: u32) -> bool {
        piece < self.len && self.bytes[(piece / 8) as usize] & (0x80 >> (piece % 8)) != 0
    }

    /// Adds `piece`; returns whether it was newly added (`false` if present or out of range).
    pub fn insert(&mut self, piece: u32) -> bool {
        if piece >= self.len || self.contains(piece) {
            return false;
        }
        self.bytes[(piece / 8) as usize] |= 0x80 >> (piece % 8);
        self.ones += 1;
        true
    }

    /// Removes `piece`; returns whether it was present.
    pub fn remove(&mut self, piece: u32) -> bool {
        if !self.contains(piece) {
            return false;
        }
        self.bytes[(piece / 8) as usize] &= !(0x80 >> (piece % 8));
        self.ones -= 1;
        true
    }

    /// How many pieces are in the set.
    pub fn count(&self) -> u32 {
        self.ones
    }

    /// Whether every piece is in the set.
    pub fn is_full(&self) -> bool {
        self.ones == self.len
    }

    /// Whether no piece is in the set.
    pub fn is_clear(&self) -> bool {
        self.ones == 0
    }

    /// The pieces in the set, in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.len).filter(move |&i| self.contains(i))
    }
}

impl fmt::Debug for Bitfield {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bitfield({}/{} ", self.ones, self.len)?;
        for i in 0..self.len.min(64) {
            f.write_str(if self.contains(i) { "1" } else { "0" })?;
        }
        if self.len > 64 {
            f.write_str("...")?;
        }
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_order_matches_the_wire() {
        let mut b = Bitfield::new(10);
        assert!(b.insert(0));
        assert!(b.insert(9));
        assert!(!b.insert(9));
        assert!(!b.insert(10), "out of range is refused");
        assert_eq!(b.as_bytes(), &[0x80, 0x40]);
        assert_eq!(b.count(), 2);
        assert_eq!(b.iter().collect::<Vec<_>>(), vec![0, 9]);
        assert!(b.remove(0));
        assert!(!b.remove(0));
        assert_eq!(b.count(), 1);
    }

    #[test]
    fn from_bytes_checks_length_and_spare_bits() {
        assert_eq!(
            Bitfield::from_bytes(&[0xff], 10),
            Err(BitfieldError::Length {
                expected: 2,
                actual: 1
            })
        );
        let err = Bitfield::from_bytes(&[0xff, 0xe0], 10).unwrap_err();
        assert_eq!(
            err.to_string(),
            "bitfield: a spare bit after piece 10 is set"
        );
        let ok = Bitfield::from_bytes(&[0xff, 0xc0], 10).unwrap();
        assert!(ok.is_full());
        assert_eq!(ok, Bitfield::full(10));
        assert!(Bitfield::new(0).is_empty());
        assert!(Bitfield::new(0).is_full());
    }
}
