//! A cap on the queries answered per source address per second, over a bounded set of
//! addresses, so that one flooding host costs a counter and no more.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(1);

/// Counts queries per source IP in one-second windows.
#[derive(Debug, Clone)]
pub(crate) struct Throttle {
    per_second: u32,
    max_sources: usize,
    window_start: Option<Instant>,
    counts: HashMap<IpAddr, u32>,
}

impl Throttle {
    pub(crate) fn new(per_second: u32, max_sources: usize) -> Self {
        Throttle {
            per_second,
            max_sources,
            window_start: None,
            counts: HashMap::new(),
        }
    }

    /// The number of source addresses counted in the current window.
    pub(crate) fn tracked(&self) -> usize {
        self.counts.len()
    }

    /// True when a query from `ip` may be answered now. When the window already counts
    /// `max_sources` addresses, a new address is refused until the window ends: a flood from
    /// many spoofed addresses cannot grow the table.
    pub(crate) fn allow(&mut self, ip: IpAddr, now: Instant) -> bool {
        match self.window_start {
            Some(start) if now.saturating_duration_since(start) < WINDOW => {}
            _ => {
                self.window_start = Some(now);
                self.counts.clear();
            }
        }
        let full = self.counts.len() >= self.max_sources;
        match self.counts.get_mut(&ip) {
            Some(count) if *count >= self.per_second => false,
            Some(count) => {
                *count += 1;
                true
            }
            None if full => false,
            None => {
                self.counts.insert(ip, 1);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_gets_its_quota_per_second_and_no_more() {
        let now = Instant::now();
        let mut throttle = Throttle::new(3, 2);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let (b, c): (IpAddr, IpAddr) = ("192.0.2.2".parse().unwrap(), "192.0.2.3".parse().unwrap());
        assert!((0..3).all(|_| throttle.allow(a, now)));
        assert!(!throttle.allow(a, now), "fourth in the same second");
        assert!(throttle.allow(b, now), "another source has its own quota");
        assert!(!throttle.allow(c, now), "the table of sources is full");
        assert_eq!(throttle.tracked(), 2);
        assert!(throttle.allow(a, now + WINDOW), "a new second, a new quota");
        assert!(throttle.allow(c, now + WINDOW));
    }
}
