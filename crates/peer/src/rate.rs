//! A transfer-rate meter: bytes per second, smoothed over one-second windows, driven by the
//! caller's clock.

use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(1);

/// Measures a byte rate from samples stamped with the caller's `Instant`s.
#[derive(Debug, Clone)]
pub struct RateMeter {
    window_start: Option<Instant>,
    window_bytes: u64,
    rate: f64,
    samples: u32,
    total: u64,
}

impl Default for RateMeter {
    fn default() -> Self {
        RateMeter::new()
    }
}

impl RateMeter {
    /// A meter that has seen nothing.
    pub fn new() -> Self {
        RateMeter {
            window_start: None,
            window_bytes: 0,
            rate: 0.0,
            samples: 0,
            total: 0,
        }
    }

    /// Records `bytes` transferred at `now`.
    pub fn add(&mut self, now: Instant, bytes: u64) {
        self.tick(now);
        self.window_start.get_or_insert(now);
        self.window_bytes += bytes;
        self.total += bytes;
    }

    /// Closes finished windows up to `now` (idle seconds count as zero).
    pub fn tick(&mut self, now: Instant) {
        let Some(start) = self.window_start else {
            return;
        };
        let elapsed = now.saturating_duration_since(start);
        if elapsed < WINDOW {
            return;
        }
        let sample = self.window_bytes as f64 / elapsed.as_secs_f64();
        // Exponential smoothing; the first sample is taken as is.
        self.rate = if self.samples == 0 {
            sample
        } else {
            self.rate * 0.5 + sample * 0.5
        };
        self.samples += 1;
        self.window_bytes = 0;
        self.window_start = if self.rate < 1.0 { None } else { Some(now) };
        if self.window_start.is_none() {
            self.rate = 0.0;
        }
    }

    /// The smoothed rate in bytes per second (as of the last closed window).
    pub fn rate(&self) -> u64 {
        self.rate as u64
    }

    /// Whether at least one window has closed, so [`rate`](Self::rate) means something.
    pub fn has_sample(&self) -> bool {
        self.samples > 0
    }

    /// Total bytes recorded.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// When the current window closes, if one is open.
    pub fn next_tick(&self) -> Option<Instant> {
        self.window_start.map(|s| s + WINDOW)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_and_smooths() {
        let t0 = Instant::now();
        let mut m = RateMeter::new();
        for ms in (0..1000).step_by(100) {
            m.add(t0 + Duration::from_millis(ms), 10_000);
        }
        assert!(!m.has_sample());
        m.tick(t0 + Duration::from_secs(1));
        assert_eq!(m.rate(), 100_000);
        m.add(t0 + Duration::from_millis(1500), 50_000);
        m.tick(t0 + Duration::from_secs(2));
        assert_eq!(m.rate(), 75_000, "half old, half new");
        // Silence decays the rate, then the meter goes quiet.
        for s in 3..40 {
            m.tick(t0 + Duration::from_secs(s));
        }
        assert_eq!(m.rate(), 0);
        assert_eq!(m.next_tick(), None);
        assert_eq!(m.total(), 150_000);
    }
}
