//! [`WebSeeds`]: what a torrent knows of each web seed (kind, fetches in flight, backoff,
//! strikes, bytes), and the rules for backing off and dropping one. Sans-IO: time comes in.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::storage::Layout;
use crate::ConnId;

/// A session's web seeds and what fetching from them needs to know of the torrent.
#[derive(Debug, Clone, Default)]
pub struct WebSeedConfig {
    /// BEP 19 `url-list` URLs (and magnet `ws=` ones).
    pub urls: Vec<String>,
    /// BEP 17 `httpseeds` URLs.
    pub http_seeds: Vec<String>,
    /// The torrent's files laid out (`None`: no web seeds can be used).
    pub layout: Option<Layout>,
    /// A torrent with a `files` list (its URLs name a directory).
    pub multi_file: bool,
}

impl WebSeedConfig {
    /// The web seeds `urls` and HTTP seeds `http_seeds` of the torrent whose `info` this is.
    /// [`SessionConfig::from_torrent`](crate::session::SessionConfig::from_torrent) uses it
    /// with the torrent's `url-list` and `httpseeds`; a magnet download uses it with the link's
    /// `ws=` URLs once the metadata is known.
    pub fn from_info(
        info: &torrentkit_metainfo::Info,
        urls: Vec<String>,
        http_seeds: Vec<String>,
    ) -> WebSeedConfig {
        WebSeedConfig {
            urls,
            http_seeds,
            layout: Layout::from_info(info).ok(),
            multi_file: info.is_multi_file(),
        }
    }
}

/// Which protocol a web seed speaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum WebSeedKind {
    /// BEP 19 `url-list`: a web server holding the files, asked for byte ranges.
    #[default]
    Url,
    /// BEP 17 `httpseeds`: a BitTornado-style script taking `info_hash`, `piece`, `ranges`.
    Http,
}

/// A fetch for the driver: `len` bytes at `offset` in `piece` from the seed `seed` (a whole
/// piece when the picker allows), reported with `Torrent::handle_web_data` or
/// `Torrent::handle_web_failed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebFetch {
    /// The web seed.
    pub seed: ConnId,
    /// Its URL.
    pub url: String,
    /// Its protocol.
    pub kind: WebSeedKind,
    /// Piece index.
    pub piece: u32,
    /// Offset in the piece.
    pub offset: u32,
    /// Bytes.
    pub len: u32,
}

/// What a display shows of one web seed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebSeedInfo {
    /// The URL.
    pub url: String,
    /// Its protocol.
    pub kind: WebSeedKind,
    /// Payload bytes received from it that were written.
    pub downloaded: u64,
    /// Pieces it sent that failed their hash check.
    pub hash_failures: u32,
    /// Fetches under way.
    pub in_flight: usize,
    /// Why its last fetch failed, until one succeeds.
    pub last_error: Option<String>,
    /// Why it was dropped, once it is.
    pub dropped: Option<String>,
}

/// Fetches under way per web seed: enough to keep a fast server busy across request latency.
pub(crate) const MAX_IN_FLIGHT: usize = 4;
/// Hash failures after which a web seed is dropped.
pub(crate) const MAX_STRIKES: u32 = 3;
/// First wait after a failed fetch; doubled per consecutive failure up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(2);
/// Longest wait between tries of a failing web seed.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

#[derive(Debug)]
struct Seed {
    info: WebSeedInfo,
    /// Consecutive failed fetches (reset by a good one).
    failures: u32,
    retry_at: Option<Instant>,
}

/// The torrent's web seeds by the [`ConnId`] each holds in the picker.
#[derive(Debug, Default)]
pub struct WebSeeds {
    seeds: BTreeMap<ConnId, Seed>,
}

impl WebSeeds {
    /// Registers a seed under `id`.
    pub fn add(&mut self, id: ConnId, url: String, kind: WebSeedKind) {
        let info = WebSeedInfo {
            url,
            kind,
            downloaded: 0,
            hash_failures: 0,
            in_flight: 0,
            last_error: None,
            dropped: None,
        };
        self.seeds.insert(
            id,
            Seed {
                info,
                failures: 0,
                retry_at: None,
            },
        );
    }

    /// Whether `id` is a web seed (dropped or not).
    pub fn contains(&self, id: ConnId) -> bool {
        self.seeds.contains_key(&id)
    }

    /// Seeds that may start a fetch at `now`.
    pub fn ready(&self, now: Instant) -> Vec<(ConnId, String, WebSeedKind)> {
        self.seeds
            .iter()
            .filter(|(_, s)| {
                s.info.dropped.is_none()
                    && s.info.in_flight < MAX_IN_FLIGHT
                    && s.retry_at.is_none_or(|t| t <= now)
            })
            .map(|(&id, s)| (id, s.info.url.clone(), s.info.kind))
            .collect()
    }

    /// When a backed-off seed may try again.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.seeds
            .values()
            .filter(|s| s.info.dropped.is_none())
            .filter_map(|s| s.retry_at)
            .min()
    }

    /// Ends the backoffs that are over at `now`, so that a due time is never reported twice.
    pub fn expire(&mut self, now: Instant) {
        for s in self.seeds.values_mut() {
            if s.retry_at.is_some_and(|t| t <= now) {
                s.retry_at = None;
            }
        }
    }

    /// A fetch was handed to the driver.
    pub fn started(&mut self, id: ConnId) {
        if let Some(s) = self.seeds.get_mut(&id) {
            s.info.in_flight += 1;
        }
    }

    /// A fetch brought `bytes`.
    pub fn succeeded(&mut self, id: ConnId, bytes: u64) {
        if let Some(s) = self.seeds.get_mut(&id) {
            s.info.in_flight = s.info.in_flight.saturating_sub(1);
            s.info.downloaded += bytes;
            s.failures = 0;
            s.retry_at = None;
            s.info.last_error = None;
        }
    }

    /// A fetch failed at `now` (an error status, a wrong range, a timeout): back off.
    pub fn failed(&mut self, id: ConnId, now: Instant, why: String) {
        if let Some(s) = self.seeds.get_mut(&id) {
            s.info.last_error = Some(why);
            s.info.in_flight = s.info.in_flight.saturating_sub(1);
            let wait = FIRST_BACKOFF.saturating_mul(1 << s.failures.min(5));
            s.failures += 1;
            s.retry_at = Some(now + wait.min(MAX_BACKOFF));
        }
    }

    /// A piece it sent failed its hash check: true when this drops it.
    pub fn strike(&mut self, id: ConnId, piece: u32) -> bool {
        let Some(s) = self.seeds.get_mut(&id) else {
            return false;
        };
        s.info.hash_failures += 1;
        if s.info.dropped.is_none() && s.info.hash_failures >= MAX_STRIKES {
            s.info.dropped = Some(format!(
                "{} pieces failed their hash check (the last: piece {piece})",
                s.info.hash_failures
            ));
            return true;
        }
        false
    }

    /// Bytes received from every web seed.
    pub fn downloaded(&self) -> u64 {
        self.seeds.values().map(|s| s.info.downloaded).sum()
    }

    /// Every web seed, for display.
    pub fn infos(&self) -> Vec<WebSeedInfo> {
        self.seeds.values().map(|s| s.info.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_back_off_and_hash_failures_drop() {
        let mut w = WebSeeds::default();
        let now = Instant::now();
        let id = ConnId(7);
        w.add(id, "http://h/f".into(), WebSeedKind::Url);
        assert_eq!(w.ready(now).len(), 1);
        w.started(id);
        w.failed(id, now, "404".into());
        assert!(w.ready(now).is_empty(), "backed off");
        assert_eq!(w.poll_timeout(), Some(now + FIRST_BACKOFF));
        assert_eq!(w.ready(now + FIRST_BACKOFF).len(), 1);
        w.started(id);
        w.failed(id, now, "404".into());
        assert_eq!(w.poll_timeout(), Some(now + 2 * FIRST_BACKOFF), "doubled");
        w.started(id);
        w.succeeded(id, 100);
        assert_eq!(w.ready(now).len(), 1, "a good fetch ends the backoff");
        assert!(!w.strike(id, 1) && !w.strike(id, 2));
        assert!(w.strike(id, 3));
        assert!(w.ready(now).is_empty());
        let info = &w.infos()[0];
        assert_eq!(info.downloaded, 100);
        assert!(info.dropped.as_deref().unwrap().contains("piece 3"));
    }
}
