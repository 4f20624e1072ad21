//! The versions of each metadata piece that peers sent, with who sent each: the assembly takes
//! the version most senders agree on, and once the hash matches, the senders of the other
//! versions are the liars.

use crate::ConnId;

/// Distinct versions kept per piece; further different ones are ignored (memory stays bounded
/// by the metadata size times this).
const MAX_VERSIONS: usize = 8;
/// Combinations of disagreeing versions tried against the hash before waiting for more votes.
const MAX_COMBINATIONS: usize = 256;

#[derive(Debug)]
struct Version {
    bytes: Vec<u8>,
    senders: Vec<ConnId>,
}

/// Every piece's versions.
#[derive(Debug)]
pub(super) struct Votes {
    pieces: Vec<Vec<Version>>,
}

impl Votes {
    /// `count` pieces, none received.
    pub(super) fn new(count: u32) -> Self {
        Votes {
            pieces: (0..count).map(|_| Vec::new()).collect(),
        }
    }

    /// How many pieces.
    pub(super) fn len(&self) -> u32 {
        self.pieces.len() as u32
    }

    /// Pieces with at least one version.
    pub(super) fn held(&self) -> u32 {
        self.pieces.iter().filter(|v| !v.is_empty()).count() as u32
    }

    /// `id` sent `data` as `piece`.
    pub(super) fn add(&mut self, piece: u32, id: ConnId, data: &[u8]) {
        let Some(versions) = self.pieces.get_mut(piece as usize) else {
            return;
        };
        if versions.iter().any(|v| v.senders.contains(&id)) {
            return;
        }
        if let Some(v) = versions.iter_mut().find(|v| v.bytes == data) {
            v.senders.push(id);
        } else if versions.len() < MAX_VERSIONS {
            versions.push(Version {
                bytes: data.to_vec(),
                senders: vec![id],
            });
        }
    }

    /// The most senders that agree on one version of `piece`.
    pub(super) fn agreeing(&self, piece: u32) -> usize {
        self.pieces
            .get(piece as usize)
            .and_then(|v| v.iter().map(|v| v.senders.len()).max())
            .unwrap_or(0)
    }

    /// Whether `id` sent some version of `piece`.
    pub(super) fn has_voted(&self, piece: u32, id: ConnId) -> bool {
        self.pieces
            .get(piece as usize)
            .is_some_and(|v| v.iter().any(|v| v.senders.contains(&id)))
    }

    /// The metadata from the best-supported versions, or from other combinations of versions
    /// (a bounded number), that passes `check`.
    pub(super) fn assemble(&self, check: impl Fn(&[u8]) -> bool) -> Option<Vec<u8>> {
        // Each piece's versions, most senders first (stable: earliest first on a tie).
        let ranked: Vec<Vec<&Version>> = self
            .pieces
            .iter()
            .map(|vs| {
                let mut r: Vec<&Version> = vs.iter().collect();
                r.sort_by_key(|v| std::cmp::Reverse(v.senders.len()));
                r
            })
            .collect();
        if ranked.iter().any(Vec::is_empty) {
            return None;
        }
        let mut choice = vec![0usize; ranked.len()];
        for _ in 0..MAX_COMBINATIONS {
            let mut bytes = Vec::new();
            for (i, &c) in choice.iter().enumerate() {
                bytes.extend_from_slice(&ranked[i][c].bytes);
            }
            if check(&bytes) {
                return Some(bytes);
            }
            // The next combination, like an odometer over the pieces with alternatives.
            let mut i = 0;
            loop {
                if i == choice.len() {
                    return None;
                }
                choice[i] += 1;
                if choice[i] < ranked[i].len() {
                    break;
                }
                choice[i] = 0;
                i += 1;
            }
        }
        None
    }

    /// Every sender of a version of some piece other than the one in `verified`, with the piece.
    pub(super) fn dissenters(&self, verified: &[u8]) -> Vec<(ConnId, u32)> {
        let mut out: Vec<(ConnId, u32)> = Vec::new();
        let mut start = 0;
        for (i, vs) in self.pieces.iter().enumerate() {
            let len = vs.first().map_or(0, |v| v.bytes.len());
            let good = verified.get(start..start + len).unwrap_or_default();
            start += len;
            for v in vs.iter().filter(|v| v.bytes != good) {
                for &id in &v.senders {
                    if !out.iter().any(|(o, _)| *o == id) {
                        out.push((id, i as u32));
                    }
                }
            }
        }
        out
    }
}
