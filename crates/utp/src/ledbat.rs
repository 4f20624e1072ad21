//! LEDBAT congestion control (RFC 6817, with the constants of BEP 29) and the RTT/RTO
//! estimator of BEP 29. Pure arithmetic on samples the connection hands in.

use std::time::{Duration, Instant};

/// How many buckets the base-delay history keeps, and how long each covers: together the two
/// minutes BEP 29 asks for (RFC 6817 allows ten; a shorter history follows a changed path or
/// a drifting clock sooner).
const BASE_BUCKETS: usize = 12;
const BASE_BUCKET_LEN: Duration = Duration::from_secs(10);
/// RFC 6817's CURRENT_FILTER: the current delay is the least of the last few samples, which
/// rejects the odd sample delayed by the receiver's scheduling.
const CURRENT_FILTER: usize = 4;

/// The minimum-over-two-minutes one-way delay and the recent delay, from the
/// `timestamp_difference` samples of the packets that acknowledge ours.
///
/// Samples are differences of two unrelated clocks, so they are compared wrapping: a sample
/// is lower than the base when `sample - base` is negative as an `i32`.
#[derive(Debug, Clone)]
pub(crate) struct DelayHistory {
    buckets: [Option<u32>; BASE_BUCKETS],
    /// Index of the bucket being filled, and when it started.
    current: usize,
    started: Option<Instant>,
    recent: [u32; CURRENT_FILTER],
    recent_len: usize,
    recent_at: usize,
}

fn lower(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

impl DelayHistory {
    pub(crate) fn new() -> DelayHistory {
        DelayHistory {
            buckets: [None; BASE_BUCKETS],
            current: 0,
            started: None,
            recent: [0; CURRENT_FILTER],
            recent_len: 0,
            recent_at: 0,
        }
    }

    /// Adds one sample (microseconds) taken at `now`.
    pub(crate) fn add(&mut self, sample: u32, now: Instant) {
        let started = *self.started.get_or_insert(now);
        if now.saturating_duration_since(started) >= BASE_BUCKET_LEN {
            // Move on a bucket (or several, after a silence: those hold nothing).
            let steps = (now.saturating_duration_since(started).as_secs()
                / BASE_BUCKET_LEN.as_secs())
            .min(BASE_BUCKETS as u64) as usize;
            for _ in 0..steps {
                self.current = (self.current + 1) % BASE_BUCKETS;
                self.buckets[self.current] = None;
            }
            self.started = Some(now);
        }
        let slot = &mut self.buckets[self.current];
        if slot.is_none_or(|m| lower(sample, m)) {
            *slot = Some(sample);
        }
        self.recent[self.recent_at] = sample;
        self.recent_at = (self.recent_at + 1) % CURRENT_FILTER;
        self.recent_len = (self.recent_len + 1).min(CURRENT_FILTER);
    }

    fn base(&self) -> Option<u32> {
        self.buckets
            .iter()
            .flatten()
            .copied()
            .reduce(|a, b| if lower(b, a) { b } else { a })
    }

    /// The queueing delay: the current delay above the base, in microseconds (0 before any
    /// sample).
    pub(crate) fn queueing_delay(&self) -> u32 {
        let Some(base) = self.base() else { return 0 };
        let current = self.recent[..self.recent_len]
            .iter()
            .copied()
            .reduce(|a, b| if lower(b, a) { b } else { a })
            .unwrap_or(base);
        let d = current.wrapping_sub(base);
        if (d as i32) < 0 {
            0
        } else {
            d
        }
    }
}

/// The congestion window, grown and shrunk by LEDBAT.
#[derive(Debug, Clone)]
pub(crate) struct Ledbat {
    /// Bytes allowed in flight.
    cwnd: f64,
    /// While true, the window doubles each RTT (as libtorrent's uTP does), until the
    /// queueing delay reaches half the target or a packet is lost.
    slow_start: bool,
    ssthresh: f64,
    pub(crate) delays: DelayHistory,
    target_us: f64,
    gain: f64,
    min_cwnd: f64,
    max_cwnd: f64,
}

impl Ledbat {
    pub(crate) fn new(target: Duration, gain: u32, min_cwnd: usize, max_cwnd: usize) -> Ledbat {
        Ledbat {
            cwnd: (2 * min_cwnd).min(max_cwnd) as f64,
            slow_start: true,
            ssthresh: max_cwnd as f64,
            delays: DelayHistory::new(),
            target_us: target.as_micros().max(1) as f64,
            gain: gain as f64,
            min_cwnd: min_cwnd as f64,
            max_cwnd: max_cwnd as f64,
        }
    }

    pub(crate) fn window(&self) -> usize {
        self.cwnd as usize
    }

    /// The packet size changed (a peer advertised a larger one): the floor follows it.
    pub(crate) fn set_min(&mut self, min_cwnd: usize) {
        self.min_cwnd = (min_cwnd as f64).min(self.max_cwnd);
        self.cwnd = self.cwnd.max(self.min_cwnd);
    }

    /// `acked` bytes were acknowledged. `window_limited` says whether the sender was held back
    /// by the window since the last ack: an application-limited sender does not grow it
    /// (RFC 6817 section 2.4.1, as libtorrent does).
    pub(crate) fn on_ack(&mut self, acked: usize, window_limited: bool) {
        if acked == 0 || !window_limited {
            return;
        }
        let queueing = self.delays.queueing_delay() as f64;
        let off_target = (self.target_us - queueing) / self.target_us;
        let delay_factor = off_target.clamp(-1.0, 1.0);
        let window_factor = (acked as f64 / self.cwnd).min(1.0);
        let linear = self.gain * delay_factor * window_factor;
        if self.slow_start && queueing < self.target_us / 2.0 && self.cwnd < self.ssthresh {
            self.cwnd += (acked as f64).max(linear);
        } else {
            self.slow_start = false;
            self.cwnd += linear;
        }
        self.cwnd = self.cwnd.clamp(self.min_cwnd, self.max_cwnd);
    }

    /// A packet was lost (found by the selective ack or duplicate acks): halve the window,
    /// at most once per round trip (the caller's business).
    pub(crate) fn on_loss(&mut self) {
        self.slow_start = false;
        self.cwnd = (self.cwnd / 2.0).max(self.min_cwnd);
        self.ssthresh = self.cwnd;
    }

    /// The retransmission timer fired: back to one packet, slow start up to half the old
    /// window.
    pub(crate) fn on_timeout(&mut self) {
        self.ssthresh = (self.cwnd / 2.0).max(self.min_cwnd);
        self.cwnd = self.min_cwnd;
        self.slow_start = true;
    }
}

/// Round-trip time and retransmission timeout, as BEP 29 gives them.
#[derive(Debug, Clone)]
pub(crate) struct Rtt {
    rtt_us: f64,
    var_us: f64,
    sampled: bool,
    min_timeout: Duration,
    /// The current timeout, doubled by each expiry and reset by the next sample.
    pub(crate) rto: Duration,
}

/// The timeout before any round trip was measured (libtorrent and BEP 29: one second... or
/// the minimum, when that is larger).
const INITIAL_RTO: Duration = Duration::from_secs(1);
/// The longest the timeout grows by doubling.
const MAX_RTO: Duration = Duration::from_secs(30);

impl Rtt {
    pub(crate) fn new(min_timeout: Duration) -> Rtt {
        Rtt {
            rtt_us: 0.0,
            var_us: 0.0,
            sampled: false,
            min_timeout,
            rto: INITIAL_RTO.max(min_timeout),
        }
    }

    /// One sample from a packet acknowledged after a single transmission (Karn's rule).
    pub(crate) fn sample(&mut self, rtt: Duration) {
        let r = rtt.as_micros() as f64;
        if self.sampled {
            // BEP 29: delta = rtt - packet_rtt; rtt_var += (|delta| - rtt_var) / 4;
            // rtt += (packet_rtt - rtt) / 8.
            let delta = self.rtt_us - r;
            self.var_us += (delta.abs() - self.var_us) / 4.0;
            self.rtt_us += (r - self.rtt_us) / 8.0;
        } else {
            self.rtt_us = r;
            self.var_us = r / 2.0;
            self.sampled = true;
        }
        self.rto = self.computed();
    }

    fn computed(&self) -> Duration {
        Duration::from_micros((self.rtt_us + 4.0 * self.var_us) as u64).max(self.min_timeout)
    }

    /// The timer fired: double it.
    pub(crate) fn back_off(&mut self) {
        self.rto = (self.rto * 2).min(MAX_RTO.max(self.min_timeout));
    }

    /// The smoothed round-trip time (zero before the first sample).
    pub(crate) fn smoothed(&self) -> Duration {
        Duration::from_micros(self.rtt_us as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_delay_is_the_minimum_of_two_minutes_and_forgets_older_samples() {
        let t0 = Instant::now();
        let mut h = DelayHistory::new();
        h.add(5_000, t0);
        h.add(9_000, t0 + Duration::from_secs(1));
        assert_eq!(
            h.queueing_delay(),
            0,
            "the filter takes the least recent sample"
        );
        for i in 0..4 {
            h.add(45_000, t0 + Duration::from_secs(2 + i));
        }
        assert_eq!(h.queueing_delay(), 40_000);
        // Two minutes later the 5 ms base has aged out; the base is now what was seen since.
        for s in 0..14 {
            h.add(45_000, t0 + Duration::from_secs(10 * s + 10));
        }
        assert_eq!(h.queueing_delay(), 0);
    }

    #[test]
    fn samples_compare_across_the_clock_wrap() {
        let t0 = Instant::now();
        let mut h = DelayHistory::new();
        h.add(u32::MAX - 1_000, t0);
        for _ in 0..4 {
            h.add(9_000, t0);
        }
        assert_eq!(h.queueing_delay(), 10_001);
    }

    #[test]
    fn ledbat_grows_below_target_and_shrinks_above_it() {
        let t0 = Instant::now();
        let mut l = Ledbat::new(Duration::from_millis(100), 3000, 1000, 1 << 20);
        l.slow_start = false;
        for _ in 0..4 {
            l.delays.add(1_000, t0);
        }
        let w = l.window();
        l.on_ack(w, true);
        assert_eq!(
            l.window(),
            w + 3000,
            "a window of acks at zero delay gains 3,000 bytes"
        );
        l.on_ack(w, false);
        assert_eq!(
            l.window(),
            w + 3000,
            "an application-limited sender does not grow"
        );
        for _ in 0..4 {
            l.delays.add(201_000, t0);
        }
        let w = l.window();
        l.on_ack(w, true);
        assert_eq!(
            l.window(),
            w - 3000,
            "at twice the target it loses the same"
        );
        l.on_loss();
        assert_eq!(l.window(), (w - 3000) / 2);
        l.on_timeout();
        assert_eq!(l.window(), 1000);
    }

    #[test]
    fn rto_follows_bep29_and_has_a_floor_of_500_ms() {
        let mut r = Rtt::new(Duration::from_millis(500));
        assert_eq!(r.rto, Duration::from_secs(1));
        r.sample(Duration::from_millis(10));
        assert_eq!(r.rto, Duration::from_millis(500));
        for _ in 0..50 {
            r.sample(Duration::from_millis(400));
        }
        assert!(
            r.rto > Duration::from_millis(400) && r.rto < Duration::from_millis(520),
            "{:?}",
            r.rto
        );
        r.back_off();
        assert!(r.rto > Duration::from_millis(800));
    }
}
