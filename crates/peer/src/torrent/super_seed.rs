//! Super-seeding (BEP 16): a seed that hides what it has and reveals one piece at a time to
//! each peer (with a `have`), always the piece it has given out least, and the next only once
//! that peer announces it has the last one. When every piece is out and held by some connected
//! peer, it reveals nothing more: the swarm trades the rest, and the seed sends about one copy.

use std::collections::{HashMap, HashSet};

use crate::{ConnId, Picker};

/// Which piece each peer was shown, and how often each piece was shown.
#[derive(Debug)]
pub(super) struct SuperSeed {
    /// Per piece, how many peers it was revealed to.
    shown: Vec<u32>,
    /// Per connection, the piece revealed to it and not yet announced back.
    revealed: HashMap<ConnId, u32>,
    /// The connections opened while we were complete: they were told we have nothing.
    hidden: HashSet<ConnId>,
    /// Where the search for the next piece starts, moved on each reveal so ties spread out.
    cursor: u32,
}

impl SuperSeed {
    pub(super) fn new(pieces: u32) -> Self {
        SuperSeed {
            shown: vec![0; pieces as usize],
            revealed: HashMap::new(),
            hidden: HashSet::new(),
            cursor: 0,
        }
    }

    /// Hides our pieces from the new connection `id` (it is sent an empty bitfield).
    pub(super) fn hide_from(&mut self, id: ConnId) {
        self.hidden.insert(id);
    }

    /// Whether `id` was told we have nothing (and is shown pieces one at a time).
    pub(super) fn hides_from(&self, id: ConnId) -> bool {
        self.hidden.contains(&id)
    }

    /// The piece to reveal to `id` now, if any: none while its last one is outstanding;
    /// otherwise the least shown piece it lacks, among those never shown or held by no
    /// connected peer (their copy left the swarm).
    pub(super) fn next_reveal(&mut self, id: ConnId, picker: &Picker) -> Option<u32> {
        if !self.hidden.contains(&id) || self.revealed.contains_key(&id) {
            return None;
        }
        let n = self.shown.len() as u32;
        let mut best: Option<(u32, u32)> = None;
        for k in 0..n {
            let p = (self.cursor + k) % n;
            if picker.peer_has(id, p) {
                continue;
            }
            let shown = self.shown[p as usize];
            if shown > 0 && picker.availability(p) > 0 {
                continue;
            }
            if best.is_none_or(|(_, s)| shown < s) {
                best = Some((p, shown));
                if shown == 0 {
                    break;
                }
            }
        }
        let (p, _) = best?;
        self.shown[p as usize] += 1;
        self.revealed.insert(id, p);
        self.cursor = (p + 1) % n.max(1);
        Some(p)
    }

    /// Whether `id` may request blocks of `piece` (it was revealed to it).
    pub(super) fn may_serve(&self, id: ConnId, piece: u32) -> bool {
        self.revealed.get(&id) == Some(&piece)
    }

    /// `id` now has `piece` (a `have`, or its bitfield): if it was the revealed one, the peer
    /// may be shown the next.
    pub(super) fn peer_has(&mut self, id: ConnId, piece: u32) {
        if self.revealed.get(&id) == Some(&piece) {
            self.revealed.remove(&id);
        }
    }

    /// A connection closed: a piece revealed to it and never announced back was not given out.
    pub(super) fn remove_peer(&mut self, id: ConnId) {
        self.hidden.remove(&id);
        if let Some(p) = self.revealed.remove(&id) {
            self.shown[p as usize] = self.shown[p as usize].saturating_sub(1);
        }
    }
}
