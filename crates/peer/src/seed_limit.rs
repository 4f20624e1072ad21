//! [`SeedLimits`]: when to stop seeding a completed torrent (share ratio, seeding time). Sans-IO:
//! the caller passes the time the download completed, the time now and the totals.

use std::time::{Duration, Instant};

/// When a completed torrent stops seeding: at whichever limit comes first. No limit at all
/// seeds until stopped.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SeedLimits {
    /// Stop once uploaded / size reaches this ratio (`Some(0.0)`: as soon as complete).
    pub ratio: Option<f64>,
    /// Stop after seeding this long (`Some(Duration::ZERO)`: as soon as complete).
    pub time: Option<Duration>,
}

impl SeedLimits {
    /// Seeds until stopped.
    pub const FOREVER: SeedLimits = SeedLimits {
        ratio: None,
        time: None,
    };

    /// Whether the session should keep running once complete at all
    /// ([`SessionConfig::seed`](crate::session::SessionConfig::seed)): not when a limit is
    /// zero, then the session ends by itself once the download is complete and flushed.
    pub fn seeds(&self) -> bool {
        !(self.time == Some(Duration::ZERO) || self.ratio == Some(0.0))
    }

    /// Whether a torrent of `size` bytes that completed at `completed_at` and has uploaded
    /// `uploaded` bytes has seeded enough at `now`. An empty torrent meets any ratio.
    pub fn reached(&self, completed_at: Instant, now: Instant, uploaded: u64, size: u64) -> bool {
        let ratio_met = self
            .ratio
            .is_some_and(|r| size == 0 || uploaded as f64 >= r * size as f64);
        let time_met = self
            .time
            .is_some_and(|t| now.saturating_duration_since(completed_at) >= t);
        ratio_met || time_met
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_limit_reached_ends_seeding() {
        let done = Instant::now();
        let later = |s| done + Duration::from_secs(s);
        let limits = SeedLimits {
            ratio: Some(1.5),
            time: Some(Duration::from_secs(60)),
        };
        assert!(limits.seeds());
        assert!(!limits.reached(done, later(10), 1000, 1000), "neither yet");
        assert!(limits.reached(done, later(10), 1500, 1000), "ratio 1.5 met");
        assert!(limits.reached(done, later(60), 0, 1000), "60 s seeded");
        // A clock that reads earlier than the completion (no panic, no limit met).
        assert!(!limits.reached(later(5), done, 0, 1000));
    }

    #[test]
    fn no_limit_seeds_forever_and_zero_limits_do_not_seed() {
        let done = Instant::now();
        let far = done + Duration::from_secs(1 << 30);
        assert!(SeedLimits::FOREVER.seeds());
        assert!(!SeedLimits::FOREVER.reached(done, far, u64::MAX, 1));
        let ratio_only = SeedLimits {
            ratio: Some(1.0),
            time: None,
        };
        assert!(!ratio_only.reached(done, far, 999, 1000));
        assert!(ratio_only.reached(done, done, 1000, 1000));
        assert!(ratio_only.reached(done, done, 0, 0), "an empty torrent");
        for zero in [
            SeedLimits {
                ratio: Some(0.0),
                time: None,
            },
            SeedLimits {
                ratio: Some(2.0),
                time: Some(Duration::ZERO),
            },
        ] {
            assert!(!zero.seeds(), "{zero:?}");
        }
    }
}
