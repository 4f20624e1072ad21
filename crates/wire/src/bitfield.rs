//! [`Bitfield`]: which pieces a peer has, stored in 64-bit words for fast set operations.

use std::fmt;

use crate::error::{Error, Result};

/// A set of piece indices below a fixed piece count, as sent in a `bitfield` message.
///
/// Stored as 64-bit words (piece 0 is the highest bit of the first word, as on the wire), so
/// counting, union, difference and "the first piece they have that we lack" run a word at a
/// time. Bits past the piece count (the spare bits) are always zero: [`Bitfield::from_bytes`]
/// rejects a message that sets them, as BEP 3 requires.
///
/// ```
/// use torrentkit_wire::Bitfield;
/// let theirs = Bitfield::from_bytes(&[0b1011_0000], 4)?;
/// let mut ours = Bitfield::new(4);
/// ours.insert(0)?;
/// assert_eq!(theirs.iter().collect::<Vec<_>>(), [0, 2, 3]);
/// assert_eq!(ours.first_wanted(&theirs), Some(2));
/// assert_eq!(theirs.count(), 3);
/// // Spare bits set: an error naming the problem.
/// let err = Bitfield::from_bytes(&[0b1011_1000], 4).unwrap_err();
/// assert_eq!(err.to_string(), "wire: bitfield has spare bits set past piece 4");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Bitfield {
    words: Vec<u64>,
    len: u32,
}

/// The number of bytes a bitfield of `pieces` pieces takes on the wire.
pub fn bitfield_len(pieces: u32) -> usize {
    (pieces as usize).div_ceil(8)
}

impl Bitfield {
    /// An empty set over `pieces` pieces.
    pub fn new(pieces: u32) -> Self {
        Self {
            words: vec![0; (pieces as usize).div_ceil(64)],
            len: pieces,
        }
    }

    /// The full set over `pieces` pieces (a seed's bitfield).
    pub fn full(pieces: u32) -> Self {
        let mut b = Self {
            words: vec![u64::MAX; (pieces as usize).div_ceil(64)],
            len: pieces,
        };
        b.clear_spare_bits();
        b
    }

    /// Reads a `bitfield` message's payload for a torrent of `pieces` pieces.
    ///
    /// Fails if the payload is not exactly `ceil(pieces / 8)` bytes, or if any spare bit past
    /// the last piece is set.
    pub fn from_bytes(bytes: &[u8], pieces: u32) -> Result<Self> {
        let expected = bitfield_len(pieces);
        if bytes.len() != expected {
            return Err(Error::BitfieldLength {
                pieces,
                expected,
                found: bytes.len(),
            });
        }
        let mut words = Vec::with_capacity(expected.div_ceil(8));
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0; 8];
            word.copy_from_slice(chunk);
            words.push(u64::from_be_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0; 8];
            word[..rest.len()].copy_from_slice(rest);
            words.push(u64::from_be_bytes(word));
        }
        let b = Self { words, len: pieces };
        if b.words
            .last()
            .is_some_and(|&w| w & !b.last_word_mask() != 0)
        {
            return Err(Error::SpareBitsSet { pieces });
        }
        Ok(b)
    }

    /// The payload of a `bitfield` message for this set: `ceil(len / 8)` bytes, spare bits zero.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.words.len() * 8);
        for w in &self.words {
            out.extend_from_slice(&w.to_be_bytes());
        }
        out.truncate(bitfield_len(self.len));
        out
    }

    /// The number of pieces the set ranges over (not the number present: see [`count`](Self::count)).
    pub fn len(&self) -> u32 {
        self.len
    }

    /// True for a set over zero pieces.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// True if `piece` is in the set (false for indices out of range).
    pub fn contains(&self, piece: u32) -> bool {
        piece < self.len && self.words[word_index(piece)] & bit(piece) != 0
    }

    /// Adds `piece`; returns whether it was absent. Fails if `piece >= len()`.
    pub fn insert(&mut self, piece: u32) -> Result<bool> {
        self.check(piece)?;
        let word = &mut self.words[word_index(piece)];
        let was = *word & bit(piece) != 0;
        *word |= bit(piece);
        Ok(!was)
    }

    /// Removes `piece`; returns whether it was present. Fails if `piece >= len()`.
    pub fn remove(&mut self, piece: u32) -> Result<bool> {
        self.check(piece)?;
        let word = &mut self.words[word_index(piece)];
        let was = *word & bit(piece) != 0;
        *word &= !bit(piece);
        Ok(was)
    }

    fn check(&self, piece: u32) -> Result<()> {
        if piece < self.len {
            Ok(())
        } else {
            Err(Error::PieceOutOfRange {
                piece,
                pieces: self.len,
            })
        }
    }

    /// The number of pieces in the set.
    pub fn count(&self) -> u32 {
        self.words.iter().map(|w| w.count_ones()).sum()
    }

    /// True if every piece is in the set.
    pub fn is_full(&self) -> bool {
        self.count() == self.len
    }

    /// True if no piece is in the set.
    pub fn is_clear(&self) -> bool {
        self.words.iter().all(|&w| w == 0)
    }

    /// Adds every piece of `other` (pieces past `self.len()` are ignored).
    pub fn union_with(&mut self, other: &Bitfield) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a |= b;
        }
        self.clear_spare_bits();
    }

    /// Keeps only the pieces also in `other`.
    pub fn intersect_with(&mut self, other: &Bitfield) {
        let n = other.words.len();
        for (i, a) in self.words.iter_mut().enumerate() {
            *a &= if i < n { other.words[i] } else { 0 };
        }
    }

    /// Removes every piece of `other`.
    pub fn difference_with(&mut self, other: &Bitfield) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a &= !b;
        }
    }

    /// The lowest piece in `theirs` that is not in `self`: the first piece worth requesting
    /// from a peer whose bitfield is `theirs`.
    pub fn first_wanted(&self, theirs: &Bitfield) -> Option<u32> {
        self.wanted_words(theirs)
            .find(|&(_, w)| w != 0)
            .map(|(i, w)| (i * 64) as u32 + w.leading_zeros())
    }

    /// True if `theirs` has some piece `self` lacks: whether to be interested in that peer.
    pub fn wants_any(&self, theirs: &Bitfield) -> bool {
        self.first_wanted(theirs).is_some()
    }

    /// The number of pieces in `theirs` that are not in `self`.
    pub fn wanted_count(&self, theirs: &Bitfield) -> u32 {
        self.wanted_words(theirs).map(|(_, w)| w.count_ones()).sum()
    }

    fn wanted_words<'s>(&'s self, theirs: &'s Bitfield) -> impl Iterator<Item = (usize, u64)> + 's {
        let mask = self.last_word_mask();
        let last = self.words.len().saturating_sub(1);
        theirs
            .words
            .iter()
            .zip(&self.words)
            .enumerate()
            .map(move |(i, (t, o))| {
                let w = t & !o;
                (i, if i == last { w & mask } else { w })
            })
    }

    /// The pieces in the set, lowest first.
    pub fn iter(&self) -> Ones<'_> {
        Ones {
            words: &self.words,
            index: 0,
            current: self.words.first().copied().unwrap_or(0),
        }
    }

    fn last_word_mask(&self) -> u64 {
        match self.len % 64 {
            0 => u64::MAX,
            r => !(u64::MAX >> r),
        }
    }

    fn clear_spare_bits(&mut self) {
        let mask = self.last_word_mask();
        if let Some(w) = self.words.last_mut() {
            *w &= mask;
        }
    }
}

fn word_index(piece: u32) -> usize {
    (piece / 64) as usize
}

fn bit(piece: u32) -> u64 {
    1 << (63 - piece % 64)
}

impl fmt::Debug for Bitfield {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bitfield({}/{}: ", self.count(), self.len)?;
        f.debug_set().entries(self.iter()).finish()?;
        write!(f, ")")
    }
}

/// The pieces of a [`Bitfield`], lowest first, from [`Bitfield::iter`].
#[derive(Debug, Clone)]
pub struct Ones<'a> {
    words: &'a [u64],
    index: usize,
    current: u64,
}

impl Iterator for Ones<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        while self.current == 0 {
            self.index += 1;
            self.current = *self.words.get(self.index)?;
        }
        let zeros = self.current.leading_zeros();
        self.current &= !(1 << (63 - zeros));
        Some((self.index * 64) as u32 + zeros)
    }
}

impl<'a> IntoIterator for &'a Bitfield {
    type Item = u32;
    type IntoIter = Ones<'a>;

    fn into_iter(self) -> Ones<'a> {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_trip_at_every_length_around_word_edges() {
        for pieces in [0, 1, 7, 8, 9, 63, 64, 65, 127, 128, 129, 1313] {
            let full = Bitfield::full(pieces);
            assert_eq!(full.count(), pieces);
            assert!(full.is_full());
            let bytes = full.to_bytes();
            assert_eq!(bytes.len(), bitfield_len(pieces));
            assert_eq!(Bitfield::from_bytes(&bytes, pieces).unwrap(), full);
            assert_eq!(full.iter().count(), pieces as usize);
            assert_eq!(full.iter().last(), pieces.checked_sub(1));
        }
    }

    #[test]
    fn spare_bits_and_wrong_lengths_are_errors() {
        // 9 pieces: the second byte may only have its top bit set.
        assert!(Bitfield::from_bytes(&[0xff, 0x80], 9).is_ok());
        assert_eq!(
            Bitfield::from_bytes(&[0xff, 0x81], 9).unwrap_err(),
            Error::SpareBitsSet { pieces: 9 }
        );
        // 65 pieces: spare bits in a second word.
        let mut bytes = vec![0; 9];
        bytes[8] = 0x40;
        assert_eq!(
            Bitfield::from_bytes(&bytes, 65).unwrap_err(),
            Error::SpareBitsSet { pieces: 65 }
        );
        assert_eq!(
            Bitfield::from_bytes(&[0xff], 9).unwrap_err().to_string(),
            "wire: bitfield has 1 bytes, but 9 pieces take 2"
        );
    }

    #[test]
    fn set_operations() {
        let mut a = Bitfield::new(130);
        let mut b = Bitfield::new(130);
        for p in [0, 64, 129] {
            a.insert(p).unwrap();
        }
        for p in [1, 64, 128, 129] {
            b.insert(p).unwrap();
        }
        assert_eq!(a.first_wanted(&b), Some(1));
        assert_eq!(a.wanted_count(&b), 2);
        let mut u = a.clone();
        u.union_with(&b);
        assert_eq!(u.iter().collect::<Vec<_>>(), [0, 1, 64, 128, 129]);
        let mut i = a.clone();
        i.intersect_with(&b);
        assert_eq!(i.iter().collect::<Vec<_>>(), [64, 129]);
        let mut d = b.clone();
        d.difference_with(&a);
        assert_eq!(d.iter().collect::<Vec<_>>(), [1, 128]);
        assert!(!u.wants_any(&b));
        assert_eq!(u.first_wanted(&b), None);
        assert!(!a.insert(0).unwrap());
        assert!(a.remove(0).unwrap());
        assert!(!a.contains(0) && !a.contains(1000));
        assert_eq!(
            a.insert(130).unwrap_err(),
            Error::PieceOutOfRange {
                piece: 130,
                pieces: 130
            }
        );
    }

    #[test]
    fn union_with_a_longer_set_keeps_spare_bits_clear() {
        let mut short = Bitfield::new(3);
        short.union_with(&Bitfield::full(100));
        assert_eq!(short.count(), 3);
        assert_eq!(short.to_bytes(), [0b1110_0000]);
        assert!(Bitfield::new(3).wants_any(&short));
        assert_eq!(Bitfield::new(3).wanted_count(&Bitfield::full(100)), 3);
    }
}
