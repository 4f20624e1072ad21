//! What this tracker remembers of each swarm on the Redis store, to spare Redis work: the counts
//! it last saw (to plan the next draw, see `draw.rs`), when it last raised the swarm in the index
//! and when it last had the swarm's expired peers dropped. Nothing here is shared state: it only
//! decides how often this tracker asks Redis to do upkeep, and a forgotten or wrong entry costs
//! one upkeep more (or a draw planned from no counts), never a wrong count.
//!
//! A direct-mapped table by info-hash; a swarm whose slot another swarm took starts afresh.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use torrentkit_tracker_proto::InfoHash;

/// Slots of the table (about 2.5 MiB).
const SLOTS: usize = 1 << 16;

#[derive(Clone, Copy, Default)]
struct Slot {
    /// Which swarm holds the slot: its info-hash's bytes 2..10, plus one (0 = empty).
    tag: u64,
    /// The counts in the last reply for it (seeders, leechers).
    seen: Option<(u32, u32)>,
    /// Milliseconds since the table's start: the last index touch and the last expiry.
    touched: u64,
    expired: u64,
}

/// What an announce should ask of Redis besides itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Due {
    /// The counts last seen (`None`: not seen, or the slot was lost).
    pub(crate) seen: Option<(usize, usize)>,
    /// Raise the swarm's score in the index.
    pub(crate) touch: bool,
    /// Drop the swarm's expired peers.
    pub(crate) expire: bool,
}

pub(crate) struct Memo {
    slots: Box<[Mutex<Slot>]>,
    started: Instant,
    touch_every: Duration,
    expire_every: Duration,
}

fn place(hash: &InfoHash) -> (usize, u64) {
    let h = &hash.0;
    let slot = usize::from(u16::from_le_bytes([h[0], h[1]])) % SLOTS;
    let tag = u64::from_le_bytes(h[2..10].try_into().expect("8 bytes")).wrapping_add(1);
    (slot, tag.max(1))
}

impl Memo {
    pub(crate) fn new(touch_every: Duration, expire_every: Duration) -> Memo {
        Memo {
            slots: (0..SLOTS).map(|_| Mutex::new(Slot::default())).collect(),
            started: Instant::now(),
            touch_every,
            expire_every,
        }
    }

    fn lock(&self, slot: usize) -> std::sync::MutexGuard<'_, Slot> {
        // A slot holds plain numbers: one left by a panicking thread is still usable.
        self.slots[slot]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// What an announce for `hash` at `now` should also do; the upkeep it is given counts as
    /// done from now.
    pub(crate) fn due(&self, hash: &InfoHash, now: Instant) -> Due {
        let (slot, tag) = place(hash);
        let ms = now.saturating_duration_since(self.started).as_millis() as u64;
        let mut s = self.lock(slot);
        if s.tag != tag {
            *s = Slot {
                tag,
                seen: None,
                touched: ms,
                expired: ms,
            };
            return Due {
                seen: None,
                touch: true,
                expire: true,
            };
        }
        let touch = ms.saturating_sub(s.touched) >= self.touch_every.as_millis() as u64;
        let expire = ms.saturating_sub(s.expired) >= self.expire_every.as_millis() as u64;
        if touch {
            s.touched = ms;
        }
        if expire {
            s.expired = ms;
        }
        Due {
            seen: s.seen.map(|(a, b)| (a as usize, b as usize)),
            touch,
            expire,
        }
    }

    /// The counts an announce's reply gave for `hash`.
    pub(crate) fn saw(&self, hash: &InfoHash, seeders: u32, leechers: u32) {
        let (slot, tag) = place(hash);
        let mut s = self.lock(slot);
        if s.tag == tag {
            s.seen = Some((seeders, leechers));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upkeep_is_due_first_then_once_per_period_and_counts_are_remembered() {
        let memo = Memo::new(Duration::from_secs(10), Duration::from_secs(1));
        let t0 = Instant::now();
        let h = InfoHash([7; 20]);
        let first = memo.due(&h, t0);
        assert_eq!(
            first,
            Due {
                seen: None,
                touch: true,
                expire: true
            }
        );
        memo.saw(&h, 3, 4);
        let soon = memo.due(&h, t0 + Duration::from_millis(500));
        assert_eq!(
            (soon.seen, soon.touch, soon.expire),
            (Some((3, 4)), false, false)
        );
        let later = memo.due(&h, t0 + Duration::from_millis(1500));
        assert_eq!((later.touch, later.expire), (false, true));
        let much_later = memo.due(&h, t0 + Duration::from_secs(11));
        assert_eq!((much_later.touch, much_later.expire), (true, true));
    }

    #[test]
    fn a_swarm_taking_another_swarms_slot_starts_afresh() {
        let memo = Memo::new(Duration::from_secs(10), Duration::from_secs(1));
        let now = Instant::now();
        let a = InfoHash([1; 20]);
        let mut b = a;
        b.0[5] = 9;
        memo.due(&a, now);
        memo.saw(&a, 1, 1);
        assert!(memo.due(&b, now).expire, "b evicts a");
        assert_eq!(memo.due(&a, now).seen, None, "a was evicted");
        // A reply for a swarm that lost its slot meanwhile is not written over another's.
        memo.saw(&b, 5, 5);
        assert_eq!(memo.due(&a, now).seen, None);
    }
}
