//! 160-bit node ids and info-hashes, and the XOR metric that orders them.

use std::fmt;

/// A 160-bit identifier: a node's id, or the info-hash (or any target) a lookup looks for.
///
/// BEP 5 uses one space for both, and the distance between two ids is their XOR read as an
/// unsigned big-endian integer ([`NodeId::distance`]).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct NodeId(pub [u8; 20]);

/// The XOR distance between two [`NodeId`]s; compares as a 160-bit big-endian integer.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Distance(pub [u8; 20]);

impl NodeId {
    /// The length of an id in bytes.
    pub const LEN: usize = 20;

    /// An id taken from a 20-byte slice, or `None` when it is not exactly 20 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(NodeId)
    }

    /// A uniformly random id drawn from `rng`.
    pub fn random(rng: &mut fastrand::Rng) -> Self {
        let mut id = [0; 20];
        rng.fill(&mut id);
        NodeId(id)
    }

    /// The XOR distance to `other`.
    pub fn distance(&self, other: &NodeId) -> Distance {
        let mut d = [0; 20];
        for (i, byte) in d.iter_mut().enumerate() {
            *byte = self.0[i] ^ other.0[i];
        }
        Distance(d)
    }

    /// The number of leading bits this id shares with `other` (160 when they are equal).
    pub fn common_prefix_len(&self, other: &NodeId) -> usize {
        self.distance(other).leading_zeros()
    }

    /// A random id that shares exactly `prefix_len` leading bits with `self` (the bit after the
    /// prefix differs), or `self` itself when `prefix_len` is 160. Bucket refreshes look one up.
    pub fn random_at_prefix(&self, prefix_len: usize, rng: &mut fastrand::Rng) -> NodeId {
        if prefix_len >= 160 {
            return *self;
        }
        let mut id = NodeId::random(rng).0;
        for bit in 0..=prefix_len {
            let (byte, mask) = (bit / 8, 0x80u8 >> (bit % 8));
            let ours = self.0[byte] & mask;
            // Copy the prefix, flip the bit right after it.
            let want = if bit == prefix_len { ours ^ mask } else { ours };
            id[byte] = (id[byte] & !mask) | want;
        }
        NodeId(id)
    }
}

impl Distance {
    /// The number of leading zero bits (160 for a zero distance).
    pub fn leading_zeros(&self) -> usize {
        for (i, byte) in self.0.iter().enumerate() {
            if *byte != 0 {
                return i * 8 + byte.leading_zeros() as usize;
            }
        }
        160
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId({self})")
    }
}

/// Lower-case hex, as ids are written in logs and on the command line.
impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl From<[u8; 20]> for NodeId {
    fn from(bytes: [u8; 20]) -> Self {
        NodeId(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn distance_orders_as_a_big_endian_integer() {
        let zero = NodeId([0; 20]);
        let mut near = [0; 20];
        near[19] = 0xff;
        let mut far = [0; 20];
        far[0] = 1;
        assert!(zero.distance(&NodeId(near)) < zero.distance(&NodeId(far)));
        assert_eq!(zero.distance(&NodeId(far)).leading_zeros(), 7);
        assert_eq!(zero.distance(&zero).leading_zeros(), 160);
    }

    proptest! {
        #[test]
        fn random_at_prefix_shares_exactly_that_prefix(
            id in any::<[u8; 20]>(), prefix in 0usize..160, seed in any::<u64>()
        ) {
            let id = NodeId(id);
            let other = id.random_at_prefix(prefix, &mut fastrand::Rng::with_seed(seed));
            prop_assert_eq!(id.common_prefix_len(&other), prefix);
        }

        #[test]
        fn distance_is_symmetric_and_zero_only_to_itself(a in any::<[u8; 20]>(), b in any::<[u8; 20]>()) {
            let (a, b) = (NodeId(a), NodeId(b));
            prop_assert_eq!(a.distance(&b), b.distance(&a));
            prop_assert_eq!(a.distance(&b).leading_zeros() == 160, a == b);
        }
    }
}
