//! When to announce, to which tracker, with which event: announce-list tiers with BEP 12
//! failover, the tracker's interval and min interval, and exponential backoff on failure.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::{AnnounceResponse, Event};
use crate::Rng;

/// Settings for [`Announcer`].
#[derive(Debug, Clone)]
pub struct AnnouncerConfig {
    /// The interval used until a tracker names one.
    pub default_interval: Duration,
    /// The first retry delay after every tracker failed; it doubles per failed round.
    pub min_retry: Duration,
    /// The longest retry delay.
    pub max_retry: Duration,
    /// The shortest interval accepted from a tracker (guards against `interval 0`).
    pub min_interval_floor: Duration,
}

impl Default for AnnouncerConfig {
    fn default() -> Self {
        AnnouncerConfig {
            default_interval: Duration::from_secs(1800),
            min_retry: Duration::from_secs(15),
            max_retry: Duration::from_secs(1800),
            min_interval_floor: Duration::from_secs(5),
        }
    }
}

/// One announce to perform: fill an [`AnnounceRequest`](super::AnnounceRequest) with the event
/// and tracker id, send it to `url`, and report the outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnounceJob {
    /// The tracker.
    pub url: String,
    /// The event to report.
    pub event: Event,
    /// The tracker id this tracker gave us, to send back.
    pub tracker_id: Option<Vec<u8>>,
}

/// Schedules a torrent's announces over its announce-list.
///
/// Trackers are tried tier by tier (each tier shuffled once, BEP 12); a tracker that answers
/// moves to the front of its tier. After [`poll_announce`](Self::poll_announce) hands out a
/// job, report it with [`handle_success`](Self::handle_success) or
/// [`handle_failure`](Self::handle_failure); a failure moves on to the next tracker at once, and
/// when all failed the next round waits 15 s, 30 s, 60 s ... up to 30 minutes.
#[derive(Debug)]
pub struct Announcer {
    config: AnnouncerConfig,
    tiers: Vec<Vec<String>>,
    cursor: (usize, usize),
    in_flight: Option<Event>,
    next: Option<Instant>,
    started: bool,
    completed_pending: bool,
    stopping: bool,
    done: bool,
    failed_rounds: u32,
    last_announce: Option<Instant>,
    min_interval: Option<Duration>,
    tracker_ids: HashMap<String, Vec<u8>>,
}

impl Announcer {
    /// An announcer over `tiers` (the announce-list, or `[[announce]]`); empty tiers and
    /// duplicate URLs are dropped. The first announce (`started`) is due at once.
    pub fn new(tiers: Vec<Vec<String>>, config: AnnouncerConfig, seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let mut seen = std::collections::HashSet::new();
        let tiers: Vec<Vec<String>> = tiers
            .into_iter()
            .map(|mut tier| {
                tier.retain(|u| seen.insert(u.clone()));
                rng.shuffle(&mut tier);
                tier
            })
            .filter(|t| !t.is_empty())
            .collect();
        let done = tiers.is_empty();
        Announcer {
            config,
            tiers,
            cursor: (0, 0),
            in_flight: None,
            next: None,
            started: false,
            completed_pending: false,
            stopping: false,
            done,
            failed_rounds: 0,
            last_announce: None,
            min_interval: None,
            tracker_ids: HashMap::new(),
        }
    }

    /// The tiers in their current order.
    pub fn tiers(&self) -> &[Vec<String>] {
        &self.tiers
    }

    /// Whether nothing more will be announced (stopped, or no trackers).
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// When the next announce is due (`None` while one is in flight or when done).
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.done || self.in_flight.is_some() {
            return None;
        }
        self.next
    }

    /// The announce to perform now, if one is due.
    pub fn poll_announce(&mut self, now: Instant) -> Option<AnnounceJob> {
        if self.done || self.in_flight.is_some() || self.next.is_some_and(|t| now < t) {
            return None;
        }
        let event = if self.stopping {
            Event::Stopped
        } else if !self.started {
            Event::Started
        } else if self.completed_pending {
            Event::Completed
        } else {
            Event::None
        };
        let url = self.tiers[self.cursor.0][self.cursor.1].clone();
        self.in_flight = Some(event);
        Some(AnnounceJob {
            tracker_id: self.tracker_ids.get(&url).cloned(),
            url,
            event,
        })
    }

    /// The job handed out last succeeded at `now` with `response`.
    pub fn handle_success(&mut self, now: Instant, response: &AnnounceResponse) {
        let Some(event) = self.in_flight.take() else {
            return;
        };
        let (t, i) = self.cursor;
        let url = self.tiers[t].remove(i);
        if let Some(id) = &response.tracker_id {
            self.tracker_ids.insert(url.clone(), id.clone());
        }
        self.tiers[t].insert(0, url);
        self.cursor = (0, 0);
        self.failed_rounds = 0;
        self.last_announce = Some(now);
        match event {
            Event::Stopped => {
                self.done = true;
                return;
            }
            Event::Started => self.started = true,
            Event::Completed => self.completed_pending = false,
            // The announcer never hands out `Paused` (see `Event`); it would be a regular one.
            Event::None | Event::Paused => {}
        }
        let floor = self.config.min_interval_floor;
        self.min_interval = response.min_interval.map(|m| m.max(floor));
        let interval = response
            .interval
            .max(self.min_interval.unwrap_or(floor))
            .max(floor);
        self.next = Some(if self.stopping || self.completed_pending {
            now
        } else {
            now + interval
        });
    }

    /// The job handed out last failed at `now`: move to the next tracker, or back off when
    /// every tracker failed.
    pub fn handle_failure(&mut self, now: Instant) {
        let Some(event) = self.in_flight.take() else {
            return;
        };
        let (t, i) = self.cursor;
        self.cursor = if i + 1 < self.tiers[t].len() {
            (t, i + 1)
        } else if t + 1 < self.tiers.len() {
            (t + 1, 0)
        } else {
            // A whole round failed.
            self.cursor = (0, 0);
            if event == Event::Stopped {
                self.done = true;
                return;
            }
            self.failed_rounds += 1;
            let exp = self.failed_rounds.saturating_sub(1).min(16);
            let delay = (self.config.min_retry * 2u32.pow(exp)).min(self.config.max_retry);
            self.next = Some(now + delay.max(self.min_interval.unwrap_or_default()));
            return;
        };
        self.next = Some(now);
    }

    /// The download finished: announce `completed` now (after `started`, if that has not gone
    /// through yet).
    pub fn completed(&mut self, now: Instant) {
        self.completed_pending = true;
        if self.started {
            self.next = Some(now);
        }
    }

    /// We are leaving: announce `stopped` now, or finish at once if no tracker ever heard from us.
    pub fn stop(&mut self, now: Instant) {
        self.stopping = true;
        if !self.started {
            self.done = true;
            self.in_flight = None;
        } else {
            self.cursor = (0, 0);
            self.next = Some(now);
            self.in_flight = None;
        }
    }

    /// We want more peers: announce as soon as the tracker's min interval allows.
    pub fn want_peers(&mut self, now: Instant) {
        let Some(last) = self.last_announce else {
            return;
        };
        let earliest = last
            + self
                .min_interval
                .unwrap_or(self.config.min_retry)
                .max(self.config.min_interval_floor);
        let at = earliest.max(now);
        if self.next.is_none_or(|n| at < n) {
            self.next = Some(at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(interval: u64) -> AnnounceResponse {
        AnnounceResponse {
            interval: Duration::from_secs(interval),
            ..AnnounceResponse::default()
        }
    }

    fn tiers() -> Vec<Vec<String>> {
        vec![
            vec!["a1".into(), "a2".into(), "a3".into()],
            vec!["b1".into()],
            vec![],
            vec!["c1".into(), "a1".into()],
        ]
    }

    #[test]
    fn tiers_are_shuffled_within_not_across_and_cleaned() {
        let orders: std::collections::BTreeSet<Vec<String>> = (0..20)
            .map(|seed| {
                Announcer::new(tiers(), AnnouncerConfig::default(), seed).tiers()[0].clone()
            })
            .collect();
        assert!(orders.len() > 1, "tier 0 is shuffled");
        let a = Announcer::new(tiers(), AnnouncerConfig::default(), 1);
        assert_eq!(a.tiers().len(), 3, "empty tier dropped");
        assert_eq!(a.tiers()[1], vec!["b1".to_string()]);
        assert_eq!(
            a.tiers()[2],
            vec!["c1".to_string()],
            "duplicate URL dropped"
        );
        assert!(Announcer::new(vec![vec![]], AnnouncerConfig::default(), 1).is_done());
    }

    #[test]
    fn bep12_failover_and_promotion() {
        let t0 = Instant::now();
        let mut a = Announcer::new(tiers(), AnnouncerConfig::default(), 7);
        let tier0 = a.tiers()[0].clone();
        let mut tried = Vec::new();
        for _ in 0..3 {
            let job = a.poll_announce(t0).unwrap();
            assert_eq!(job.event, Event::Started);
            assert!(a.poll_announce(t0).is_none(), "one at a time");
            tried.push(job.url);
            a.handle_failure(t0);
        }
        assert_eq!(tried, tier0, "the whole first tier in its shuffled order");
        let job = a.poll_announce(t0).unwrap();
        assert_eq!(job.url, "b1");
        a.handle_failure(t0);
        let job = a.poll_announce(t0).unwrap();
        assert_eq!(job.url, "c1");
        a.handle_success(t0, &ok(600));
        assert_eq!(a.tiers()[2][0], "c1");
        // The next announce, after the interval, starts again from the first tier.
        assert!(a.poll_announce(t0 + Duration::from_secs(599)).is_none());
        assert_eq!(a.poll_timeout(), Some(t0 + Duration::from_secs(600)));
        let job = a.poll_announce(t0 + Duration::from_secs(600)).unwrap();
        assert_eq!(
            (job.url.as_str(), job.event),
            (tier0[0].as_str(), Event::None)
        );
        // A tracker that answers moves to the front of its tier.
        a.handle_failure(t0 + Duration::from_secs(600));
        let job = a.poll_announce(t0 + Duration::from_secs(600)).unwrap();
        assert_eq!(job.url, tier0[1]);
        a.handle_success(t0 + Duration::from_secs(600), &ok(600));
        assert_eq!(
            a.tiers()[0],
            vec![tier0[1].clone(), tier0[0].clone(), tier0[2].clone()]
        );
    }

    #[test]
    fn backoff_doubles_when_every_tracker_fails_and_is_capped() {
        let mut now = Instant::now();
        let mut a = Announcer::new(vec![vec!["x".into()]], AnnouncerConfig::default(), 1);
        let mut delays = Vec::new();
        for _ in 0..10 {
            let job = a.poll_announce(now).unwrap();
            assert_eq!(
                job.event,
                Event::Started,
                "started until a tracker hears it"
            );
            a.handle_failure(now);
            let next = a.poll_timeout().unwrap();
            delays.push((next - now).as_secs());
            now = next;
        }
        assert_eq!(
            delays,
            vec![15, 30, 60, 120, 240, 480, 960, 1800, 1800, 1800]
        );
        a.poll_announce(now).unwrap();
        a.handle_success(now, &ok(100));
        assert_eq!(a.poll_timeout(), Some(now + Duration::from_secs(100)));
    }

    #[test]
    fn interval_min_interval_and_want_peers() {
        let t0 = Instant::now();
        let mut a = Announcer::new(vec![vec!["x".into()]], AnnouncerConfig::default(), 1);
        a.want_peers(t0);
        a.poll_announce(t0).unwrap();
        let resp = AnnounceResponse {
            min_interval: Some(Duration::from_secs(120)),
            ..ok(1800)
        };
        a.handle_success(t0, &resp);
        assert_eq!(a.poll_timeout(), Some(t0 + Duration::from_secs(1800)));
        a.want_peers(t0 + Duration::from_secs(10));
        assert_eq!(
            a.poll_timeout(),
            Some(t0 + Duration::from_secs(120)),
            "not before min interval"
        );
        a.want_peers(t0 + Duration::from_secs(500));
        assert_eq!(a.poll_timeout(), Some(t0 + Duration::from_secs(120)));
        // An interval below min interval (or zero) is raised.
        let job = a.poll_announce(t0 + Duration::from_secs(120)).unwrap();
        assert_eq!(job.event, Event::None);
        a.handle_success(
            t0 + Duration::from_secs(120),
            &AnnounceResponse {
                min_interval: Some(Duration::from_secs(120)),
                ..ok(0)
            },
        );
        assert_eq!(a.poll_timeout(), Some(t0 + Duration::from_secs(240)));
        // A failure round never retries sooner than min interval.
        let job = a.poll_announce(t0 + Duration::from_secs(240)).unwrap();
        assert_eq!(job.url, "x");
        a.handle_failure(t0 + Duration::from_secs(240));
        assert_eq!(a.poll_timeout(), Some(t0 + Duration::from_secs(360)));
    }

    #[test]
    fn events_started_completed_stopped_and_tracker_id() {
        let t0 = Instant::now();
        let mut a = Announcer::new(vec![vec!["x".into()]], AnnouncerConfig::default(), 1);
        let job = a.poll_announce(t0).unwrap();
        a.completed(t0); // finished while `started` is in flight
        a.handle_success(
            t0,
            &AnnounceResponse {
                tracker_id: Some(b"T".to_vec()),
                ..ok(1800)
            },
        );
        assert_eq!(job.event, Event::Started);
        let job = a.poll_announce(t0).unwrap();
        assert_eq!(
            (job.event, job.tracker_id.as_deref()),
            (Event::Completed, Some(&b"T"[..]))
        );
        a.handle_success(t0, &ok(1800));
        assert!(a.poll_announce(t0 + Duration::from_secs(1)).is_none());
        let job = a.poll_announce(t0 + Duration::from_secs(1800)).unwrap();
        assert_eq!(job.event, Event::None);
        a.stop(t0 + Duration::from_secs(1801));
        let job = a.poll_announce(t0 + Duration::from_secs(1801)).unwrap();
        assert_eq!(job.event, Event::Stopped);
        a.handle_failure(t0 + Duration::from_secs(1801));
        assert!(
            a.is_done(),
            "stopped is not retried after a full failed round"
        );
        assert!(a.poll_announce(t0 + Duration::from_secs(9999)).is_none());

        let mut b = Announcer::new(vec![vec!["x".into()]], AnnouncerConfig::default(), 1);
        b.stop(t0);
        assert!(
            b.is_done() && b.poll_announce(t0).is_none(),
            "nothing to stop if never started"
        );
    }
}
