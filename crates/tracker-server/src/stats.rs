//! Request counters, shown by `/metrics` and `/stats.json`.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of requests since start, by protocol and kind.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) http_announces: AtomicU64,
    pub(crate) http_scrapes: AtomicU64,
    pub(crate) http_failures: AtomicU64,
    pub(crate) udp_connects: AtomicU64,
    pub(crate) udp_announces: AtomicU64,
    pub(crate) udp_scrapes: AtomicU64,
    pub(crate) udp_failures: AtomicU64,
    pub(crate) published: AtomicU64,
    pub(crate) background_failures: AtomicU64,
}

/// A snapshot of the request counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestCounts {
    /// HTTP announces answered (including failures).
    pub http_announces: u64,
    /// HTTP scrapes answered (including failures).
    pub http_scrapes: u64,
    /// HTTP announces and scrapes answered with a `failure reason`.
    pub http_failures: u64,
    /// UDP connect requests answered.
    pub udp_connects: u64,
    /// UDP announces answered (including errors).
    pub udp_announces: u64,
    /// UDP scrapes answered (including errors).
    pub udp_scrapes: u64,
    /// UDP packets answered with an error, or dropped as malformed.
    pub udp_failures: u64,
    /// Torrents accepted through `/publish`.
    pub published: u64,
    /// Periodic dfile saves and directory rescans that failed.
    pub background_failures: u64,
}

impl Counters {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> RequestCounts {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        RequestCounts {
            http_announces: get(&self.http_announces),
            http_scrapes: get(&self.http_scrapes),
            http_failures: get(&self.http_failures),
            udp_connects: get(&self.udp_connects),
            udp_announces: get(&self.udp_announces),
            udp_scrapes: get(&self.udp_scrapes),
            udp_failures: get(&self.udp_failures),
            published: get(&self.published),
            background_failures: get(&self.background_failures),
        }
    }
}
