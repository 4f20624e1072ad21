//! [`PeerIndex`]: finds a peer's position in its swarm by peer id. An open-addressing table of
//! 4-byte positions (linear probing, backward-shift deletion) whose keys are not stored in it but
//! read from the swarm's peer lists, so an entry costs 4 bytes instead of the 24 of a
//! `HashMap<PeerId, u32>`.
//!
//! Every method takes `id_of`, which gives the peer id at a stored position; it must be valid for
//! every position in the table when called.

use std::hash::BuildHasher;

use thin_vec::ThinVec;

use crate::hash::IdHash;
use torrentkit_tracker_proto::PeerId;

const EMPTY: u32 = u32::MAX;
const MIN_CAPACITY: usize = 8;

#[derive(Clone, Debug, Default)]
pub(crate) struct PeerIndex {
    table: ThinVec<u32>,
    len: u32,
}

impl PeerIndex {
    /// Whether the index holds a table (a swarm uses none while it is small).
    pub(crate) fn is_active(&self) -> bool {
        !self.table.is_empty()
    }

    /// Drops the table and its memory.
    pub(crate) fn clear(&mut self) {
        self.table = ThinVec::new();
        self.len = 0;
    }

    fn home(&self, id: &PeerId) -> usize {
        (IdHash.hash_one(id) as usize) & (self.table.len() - 1)
    }

    /// Where `id`'s entry is in the table.
    fn find(&self, id: &PeerId, id_of: &impl Fn(u32) -> PeerId) -> Option<usize> {
        if self.table.is_empty() {
            return None;
        }
        let mask = self.table.len() - 1;
        let mut i = self.home(id);
        loop {
            match self.table[i] {
                EMPTY => return None,
                v if id_of(v) == *id => return Some(i),
                _ => i = (i + 1) & mask,
            }
        }
    }

    /// The position stored for `id`.
    pub(crate) fn get(&self, id: &PeerId, id_of: impl Fn(u32) -> PeerId) -> Option<u32> {
        self.find(id, &id_of).map(|i| self.table[i])
    }

    /// Stores `pos` for `id`, which must not be in the index yet.
    pub(crate) fn insert(&mut self, id: &PeerId, pos: u32, id_of: impl Fn(u32) -> PeerId) {
        if (self.len as usize + 1) * 4 > self.table.len() * 3 {
            self.resize((self.table.len() * 2).max(MIN_CAPACITY), &id_of);
        }
        self.place(id, pos);
        self.len += 1;
    }

    fn place(&mut self, id: &PeerId, pos: u32) {
        let mask = self.table.len() - 1;
        let mut i = self.home(id);
        while self.table[i] != EMPTY {
            i = (i + 1) & mask;
        }
        self.table[i] = pos;
    }

    /// Changes the position stored for `id` (which must be in the index).
    pub(crate) fn set(&mut self, id: &PeerId, pos: u32, id_of: impl Fn(u32) -> PeerId) {
        if let Some(i) = self.find(id, &id_of) {
            self.table[i] = pos;
        }
    }

    /// Removes `id`'s entry, shifting later entries of the probe run back so no tombstone is left.
    pub(crate) fn remove(&mut self, id: &PeerId, id_of: impl Fn(u32) -> PeerId) {
        let Some(mut hole) = self.find(id, &id_of) else {
            return;
        };
        let mask = self.table.len() - 1;
        let mut j = (hole + 1) & mask;
        loop {
            let v = self.table[j];
            if v == EMPTY {
                break;
            }
            let home = self.home(&id_of(v));
            // `v` may move back into the hole if the hole lies on its probe path (between its
            // home bucket and where it sits).
            if (j.wrapping_sub(home) & mask) >= (j.wrapping_sub(hole) & mask) {
                self.table[hole] = v;
                hole = j;
            }
            j = (j + 1) & mask;
        }
        self.table[hole] = EMPTY;
        self.len -= 1;
    }

    /// Rebuilds the index for exactly these entries, sized for them.
    pub(crate) fn rebuild(&mut self, entries: impl Iterator<Item = (PeerId, u32)> + Clone) {
        let n = entries.clone().count();
        let capacity = (n * 4 / 3 + 1).next_power_of_two().max(MIN_CAPACITY);
        self.table.clear();
        self.table.resize(capacity, EMPTY);
        self.table.shrink_to_fit();
        self.len = n as u32;
        for (id, pos) in entries {
            self.place(&id, pos);
        }
    }

    fn resize(&mut self, capacity: usize, id_of: &impl Fn(u32) -> PeerId) {
        let mut table = ThinVec::with_capacity(capacity);
        table.resize(capacity, EMPTY);
        let old = std::mem::replace(&mut self.table, table);
        for v in old.into_iter().filter(|&v| v != EMPTY) {
            self.place(&id_of(v), v);
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    proptest! {
        /// Against a HashMap model, with ids drawn from a small set so probe runs collide, and a
        /// `Vec` of ids that the index points into, swap-removed as the swarm does.
        #[test]
        fn behaves_like_a_map(ops in proptest::collection::vec((0u8..40, any::<bool>()), 0..400)) {
            let mut ids: Vec<PeerId> = Vec::new();
            let mut index = PeerIndex::default();
            let mut model: HashMap<PeerId, ()> = HashMap::new();
            for (n, add) in ops {
                let id = PeerId([n; 20]);
                let present = model.contains_key(&id);
                if add && !present {
                    ids.push(id);
                    let pos = (ids.len() - 1) as u32;
                    index.insert(&id, pos, |p| ids[p as usize]);
                    model.insert(id, ());
                } else if !add && present {
                    let pos = index.get(&id, |p| ids[p as usize]).expect("present") as usize;
                    prop_assert_eq!(ids[pos], id);
                    index.remove(&id, |p| ids[p as usize]);
                    let last = ids.len() - 1;
                    if pos != last {
                        let moved = ids[last];
                        index.set(&moved, pos as u32, |p| ids[p as usize]);
                    }
                    ids.swap_remove(pos);
                    model.remove(&id);
                }
                prop_assert_eq!(index.len(), model.len());
                for (i, id) in ids.iter().enumerate() {
                    prop_assert_eq!(index.get(id, |p| ids[p as usize]), Some(i as u32));
                }
                for n in 0u8..40 {
                    let id = PeerId([n; 20]);
                    prop_assert_eq!(index.get(&id, |p| ids[p as usize]).is_some(), model.contains_key(&id));
                }
            }
            index.rebuild(ids.iter().enumerate().map(|(i, id)| (*id, i as u32)));
            for (i, id) in ids.iter().enumerate() {
                prop_assert_eq!(index.get(id, |p| ids[p as usize]), Some(i as u32));
            }
        }
    }
}
