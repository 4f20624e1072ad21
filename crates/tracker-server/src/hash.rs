//! [`IdHash`]: a keyed, fast hash for the 20-byte ids that key the store's maps.
//!
//! Clients choose info-hashes and peer ids freely, so an unkeyed hash would let them pile entries
//! into one bucket chain. This one folds the bytes with 128-bit multiplications under two secret
//! keys drawn once per process (the construction of foldhash and ahash's fallback), several times
//! faster than SipHash on 20 bytes.

use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;

fn keys() -> (u64, u64) {
    static KEYS: OnceLock<(u64, u64)> = OnceLock::new();
    *KEYS.get_or_init(|| {
        let draw = |salt: u64| {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(salt);
            h.finish()
        };
        (draw(0x243f_6a88_85a3_08d3), draw(0x1319_8a2e_0370_7344) | 1)
    })
}

#[inline]
fn fold(a: u64, b: u64) -> u64 {
    let r = u128::from(a).wrapping_mul(u128::from(b));
    (r as u64) ^ ((r >> 64) as u64)
}

/// Builds [`IdHasher`]s under the process's keys.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct IdHash;

impl BuildHasher for IdHash {
    type Hasher = IdHasher;
    #[inline]
    fn build_hasher(&self) -> IdHasher {
        let (k0, k1) = keys();
        IdHasher { k0, k1, h: k0 }
    }
}

/// The hasher state.
pub(crate) struct IdHasher {
    k0: u64,
    k1: u64,
    h: u64,
}

impl Hasher for IdHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.h = fold(self.h ^ u64::from_le_bytes(w), self.k1);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.h = fold(
                self.h ^ u64::from_le_bytes(w) ^ (rest.len() as u64) << 59,
                self.k1,
            );
        }
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.h = fold(self.h ^ n as u64, self.k0 ^ self.k1);
    }

    #[inline]
    fn finish(&self) -> u64 {
        fold(self.h, self.k0 ^ 0x9e37_79b9_7f4a_7c15)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn distinct_ids_spread() {
        let b = IdHash;
        let hashes: HashSet<u64> = (0u32..10_000)
            .map(|i| {
                let mut id = [0u8; 20];
                id[16..].copy_from_slice(&i.to_le_bytes());
                b.hash_one(id)
            })
            .collect();
        assert_eq!(hashes.len(), 10_000);
        // The low bits (bucket index) spread too.
        let buckets: HashSet<u64> = hashes.iter().map(|h| h & 1023).collect();
        assert!(
            buckets.len() > 950,
            "{} of 1024 buckets used",
            buckets.len()
        );
    }
}
