//! Redialling peers whose dial failed or whose connection we had dialled dropped, with
//! exponential backoff as libtorrent does: 10 s, 20 s, 40 s, ... up to [`MAX_ATTEMPTS`] tries,
//! reset when a dial succeeds. Sans-IO: the failure's time is the last `now` the torrent saw.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// The first redial waits this long; each further one twice as long as the one before.
const FIRST_DELAY: Duration = Duration::from_secs(10);
/// Failures after which an address is forgotten (until someone names it again).
pub(super) const MAX_ATTEMPTS: u32 = 6;

/// Addresses waiting to be dialled again, with how often they failed.
#[derive(Debug, Default)]
pub(super) struct Redial {
    /// Failures per address since its last successful dial.
    failures: BTreeMap<SocketAddr, u32>,
    /// When each waiting address is due.
    due: BTreeMap<SocketAddr, Instant>,
    /// The latest time the torrent was given.
    pub(super) now: Option<Instant>,
}

impl Redial {
    /// The dial of `addr` failed or its connection dropped: schedule the next try, if any;
    /// `true` when one is scheduled.
    pub(super) fn failed(&mut self, addr: SocketAddr) -> bool {
        let Some(now) = self.now else {
            return false;
        };
        let n = self.failures.entry(addr).or_insert(0);
        *n += 1;
        if *n > MAX_ATTEMPTS {
            self.failures.remove(&addr);
            return false;
        }
        let delay = FIRST_DELAY * (1u32 << (*n - 1).min(16));
        self.due.insert(addr, now + delay);
        true
    }

    /// A dial of `addr` succeeded: its failures are forgotten (a later drop starts over).
    pub(super) fn connected(&mut self, addr: SocketAddr) {
        self.failures.remove(&addr);
        self.due.remove(&addr);
    }

    /// Forgets `addr` (banned).
    pub(super) fn forget(&mut self, addr: SocketAddr) {
        self.failures.remove(&addr);
        self.due.remove(&addr);
    }

    /// Whether a redial of `addr` is scheduled.
    pub(super) fn is_due(&self, addr: &SocketAddr) -> bool {
        self.due.contains_key(addr)
    }

    /// When the next redial is due.
    pub(super) fn next_due(&self) -> Option<Instant> {
        self.due.values().min().copied()
    }

    /// The addresses due at `now`, removed from the schedule.
    pub(super) fn take_due(&mut self, now: Instant) -> Vec<SocketAddr> {
        let due: Vec<SocketAddr> = self
            .due
            .iter()
            .filter(|(_, &t)| t <= now)
            .map(|(&a, _)| a)
            .collect();
        for a in &due {
            self.due.remove(a);
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_each_time_and_give_up_after_the_last_attempt() {
        let t0 = Instant::now();
        let a: SocketAddr = "10.0.0.1:6881".parse().unwrap();
        let mut r = Redial {
            now: Some(t0),
            ..Redial::default()
        };
        let mut waits = Vec::new();
        for _ in 0..MAX_ATTEMPTS {
            r.failed(a);
            let due = r.next_due().unwrap();
            waits.push((due - t0).as_secs());
            assert!(r.take_due(due - Duration::from_millis(1)).is_empty());
            assert_eq!(r.take_due(due), vec![a]);
        }
        assert_eq!(waits, vec![10, 20, 40, 80, 160, 320]);
        r.failed(a);
        assert_eq!(r.next_due(), None, "given up after {MAX_ATTEMPTS} attempts");
    }
}
