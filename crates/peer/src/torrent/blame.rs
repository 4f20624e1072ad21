//! Who sent the bad data: after a piece fails its hash check, its blocks are checksummed as they
//! arrive again; a lone sender of a failed piece is struck at once, and when the piece passes,
//! the senders of blocks that differ from the good ones are. Enough strikes ban a peer.

use super::Torrent;
use crate::storage::piece_size;
use crate::ConnId;

impl Torrent {
    /// A block of `piece` at `offset` arrived from `id`: if the piece failed before, its
    /// checksum and sender are kept for the blame.
    pub(super) fn record_block_sum(&mut self, id: ConnId, piece: u32, offset: u32, data: &[u8]) {
        if !self.watched.contains(&piece) {
            return;
        }
        let sum = self.block_sum(data);
        let block = self.cfg.picker.block_size.max(1);
        let size = piece_size(self.cfg.total_length, self.cfg.piece_length, piece);
        let sums = self
            .sums
            .entry(piece)
            .or_insert_with(|| vec![None; size.div_ceil(block) as usize]);
        if let Some(slot) = sums.get_mut((offset / block) as usize) {
            *slot = Some((id, sum));
        }
    }

    /// `piece` passed: blocks of an earlier failed attempt that differ from the good ones were
    /// bad, and their senders are struck.
    pub(super) fn blame_after_pass(&mut self, piece: u32) {
        let attempt = self.sums.remove(&piece).unwrap_or_default();
        if let Some(bad) = self.failed.remove(&piece) {
            let mut culprits: Vec<ConnId> = bad
                .iter()
                .zip(&attempt)
                .filter_map(|(b, g)| match (b, g) {
                    (Some((sender, h)), Some((_, good))) if h != good => Some(*sender),
                    _ => None,
                })
                .collect();
            culprits.sort_unstable();
            culprits.dedup();
            for c in culprits {
                self.strike(c);
            }
        }
        self.watched.remove(&piece);
    }

    /// `piece`, sent by `senders`, failed its check.
    pub(super) fn blame_after_failure(&mut self, piece: u32, senders: &[ConnId]) {
        let attempt = self.sums.remove(&piece).unwrap_or_default();
        if let [only] = senders[..] {
            // One sender for the whole piece: certainly the culprit.
            self.strike(only);
        } else if !attempt.is_empty() {
            // Several: blame is settled block by block once the piece passes.
            self.failed.insert(piece, attempt);
        }
        // From now on this piece's blocks are checksummed as they arrive.
        self.watched.insert(piece);
    }

    /// Counts a bad piece against `id`; bans it at [`TorrentConfig::max_strikes`](super::TorrentConfig::max_strikes).
    pub(super) fn strike(&mut self, id: ConnId) {
        let Some(p) = self.peers.get_mut(&id) else {
            return;
        };
        p.strikes += 1;
        if p.strikes >= self.cfg.max_strikes {
            self.ban(id);
        }
    }

    /// A keyed 64-bit checksum of a block, to tell good blocks from bad ones after a failure
    /// (four independent lanes over 32-byte strides: several GB/s, far below SHA-1's cost).
    fn block_sum(&self, data: &[u8]) -> u64 {
        const K: u64 = 0x9E37_79B9_7F4A_7C15;
        let word = |c: &[u8]| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        let mut lanes = [
            self.sum_key,
            self.sum_key ^ 1,
            self.sum_key ^ 2,
            self.sum_key ^ 3,
        ];
        let mut chunks = data.chunks_exact(32);
        for c in &mut chunks {
            for (i, lane) in lanes.iter_mut().enumerate() {
                *lane = (*lane ^ word(&c[i * 8..])).wrapping_mul(K).rotate_left(29);
            }
        }
        let mut h = data.len() as u64;
        for lane in lanes {
            h = (h ^ lane).wrapping_mul(K).rotate_left(31);
        }
        for &b in chunks.remainder() {
            h = (h ^ u64::from(b)).wrapping_mul(K);
        }
        h ^ (h >> 32)
    }
}
