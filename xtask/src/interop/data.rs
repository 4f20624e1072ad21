//! Deterministic pseudo-random files, so every run (and every machine) shares the same data.

use std::io::Write as _;
use std::path::Path;

use anyhow::Context as _;

/// Writes `len` pseudo-random bytes to `path` (creating parent directories); the same `seed`
/// always gives the same bytes.
pub(crate) fn write_file(path: &Path, len: u64, seed: u64) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut out = std::io::BufWriter::new(file);
    let mut rng = SplitMix64(seed);
    let mut left = len;
    while left > 0 {
        let word = rng.next().to_le_bytes();
        let n = usize::try_from(left.min(8)).unwrap_or(8);
        out.write_all(&word[..n])?;
        left -= n as u64;
    }
    out.flush()
        .with_context(|| format!("writing {}", path.display()))
}

/// Writes each `(relative path, length)` under `dir`, seeding each file from `seed` and its
/// position; returns the total size.
pub(crate) fn write_set(dir: &Path, files: &[(&str, u64)], seed: u64) -> anyhow::Result<u64> {
    let mut total = 0;
    for (i, &(name, len)) in files.iter().enumerate() {
        write_file(&dir.join(name), len, seed.wrapping_add(i as u64))?;
        total += len;
    }
    Ok(total)
}

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, and good enough for test data.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// The multi-file data set the torrent-making cases share: odd sizes so pieces straddle files, a
/// subdirectory and a non-ASCII name.
pub(crate) const ALBUM: &[(&str, u64)] = &[
    ("01-intro.bin", 131_072),
    ("02-body.bin", 100_003),
    ("notes/readme.txt", 2_049),
    ("notes/caf\u{e9}.txt", 777),
];
/// The single-file data set's length: not a multiple of any piece size.
pub(crate) const SINGLE_LEN: u64 = 307_193;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_the_reference_sequence() {
        // First outputs for seed 1234567 from the reference C implementation.
        let mut rng = SplitMix64(1234567);
        assert_eq!(rng.next(), 6457827717110365317);
        assert_eq!(rng.next(), 3203168211198807973);
    }

    #[test]
    fn write_file_is_deterministic_and_exact_in_length() {
        let dir = std::env::temp_dir().join(format!("xtask-data-test-{}", std::process::id()));
        let (a, b, c) = (dir.join("a"), dir.join("sub/b"), dir.join("c"));
        write_file(&a, 1001, 7).unwrap();
        write_file(&b, 1001, 7).unwrap();
        write_file(&c, 1001, 8).unwrap();
        let (a, b, c) = (
            std::fs::read(a).unwrap(),
            std::fs::read(b).unwrap(),
            std::fs::read(c).unwrap(),
        );
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(a.len(), 1001);
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
