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
    /// Calls to the shared store that failed or timed out.
    pub(crate) store_errors: AtomicU64,
    /// Whether the last store call failed (for notices on outage and recovery).
    pub(crate) store_down: std::sync::atomic::AtomicBool,
    /// HTTP connections closed, by reason ([`CloseReason`] order).
    pub(crate) closed: [AtomicU64; CloseReason::ALL.len()],
}

/// Why the tracker's HTTP side closed (or ended) a connection, as `/metrics` counts them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// The client closed it, or the exchange ended normally.
    Client,
    /// No complete request head within the header timeout (including idle keep-alive).
    HeaderTimeout,
    /// Over the per-address connection cap: closed as soon as accepted.
    PerAddressCap,
    /// Idle keep-alive connection closed to make room near the open-file limit.
    IdleNearFileLimit,
    /// Refused at accept: at the open-file limit with no idle connection to close.
    FileLimit,
    /// A malformed request or an I/O error.
    Error,
    /// Closed by the tracker shutting down.
    Shutdown,
}

impl CloseReason {
    /// Every reason, in the order of [`RequestCounts::closed`].
    pub const ALL: [CloseReason; 7] = [
        CloseReason::Client,
        CloseReason::HeaderTimeout,
        CloseReason::PerAddressCap,
        CloseReason::IdleNearFileLimit,
        CloseReason::FileLimit,
        CloseReason::Error,
        CloseReason::Shutdown,
    ];

    /// The reason's label in `/metrics` and `/stats.json`.
    pub fn label(self) -> &'static str {
        match self {
            CloseReason::Client => "client",
            CloseReason::HeaderTimeout => "header_timeout",
            CloseReason::PerAddressCap => "per_address_cap",
            CloseReason::IdleNearFileLimit => "idle_near_file_limit",
            CloseReason::FileLimit => "file_limit",
            CloseReason::Error => "error",
            CloseReason::Shutdown => "shutdown",
        }
    }
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
    /// Calls to the shared store (Redis) that failed or timed out.
    pub store_errors: u64,
    /// HTTP connections closed, per reason in [`CloseReason::ALL`] order.
    pub closed: [u64; CloseReason::ALL.len()],
}

impl Counters {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn closed(&self, reason: CloseReason) {
        let i = CloseReason::ALL
            .iter()
            .position(|&r| r == reason)
            .unwrap_or(0);
        Counters::bump(&self.closed[i]);
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
            store_errors: get(&self.store_errors),
            closed: std::array::from_fn(|i| get(&self.closed[i])),
        }
    }
}
