//! The request paths that serve whichever store [`Config::store`](crate::Config::store) names:
//! answered at once from memory, or over the network from Redis. Part of the serving shell (a
//! Redis call is I/O; Unix time is read here for connection ids shared between processes). The
//! protocol work (parsing, checks, reply bytes) is the core's, in `tracker.rs` and
//! `udp/handler.rs`; this file only puts the store call between them.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::redis::{RedisStore, StoreError};
use crate::reply;
use crate::stats::Counters;
use crate::store::{gets_no_seeds, Totals};
use crate::swarm::{PeerList, SwarmStats};
use crate::tracker::{canonical, Notice, Tracker};
use crate::udp::handler::{write_udp_scrape, UdpStep};
use torrentkit_tracker_proto::{AnnounceRequest, InfoHash, RequestError};

/// Why an announce or scrape failed: the request, or the shared store.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AnnounceError {
    /// The request was refused (what the in-memory store would say too).
    Request(RequestError),
    /// The swarm store did not answer; the client should retry later.
    Store(StoreError),
}

impl std::fmt::Display for AnnounceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AnnounceError::Request(e) => e.fmt(f),
            AnnounceError::Store(e) => write!(f, "{e}; try again later"),
        }
    }
}

impl std::error::Error for AnnounceError {}

impl From<RequestError> for AnnounceError {
    fn from(e: RequestError) -> Self {
        AnnounceError::Request(e)
    }
}

/// Seconds since 1970: the connection ids' clock when trackers share a secret.
fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Tracker {
    fn redis(&self) -> Option<&RedisStore> {
        self.inner.redis.as_ref()
    }

    /// Whether the swarms live in a store shared with other trackers (Redis).
    pub fn is_shared(&self) -> bool {
        self.inner.redis.is_some()
    }

    /// Counts a store failure and tells the operator when the store goes away (once per outage).
    fn store_failed(&self, e: &StoreError) {
        Counters::bump(&self.inner.counters.store_errors);
        if !self.inner.counters.store_down.swap(true, Ordering::Relaxed) {
            self.notify(Notice::StoreUnavailable(e.clone()));
        }
    }

    /// Notes a store success, telling the operator when it follows an outage.
    fn store_ok(&self) {
        if self.inner.counters.store_down.load(Ordering::Relaxed)
            && self
                .inner
                .counters
                .store_down
                .swap(false, Ordering::Relaxed)
        {
            self.notify(Notice::StoreRecovered);
        }
    }

    fn track<T>(&self, r: Result<T, StoreError>) -> Result<T, StoreError> {
        match &r {
            Ok(_) => self.store_ok(),
            Err(e) => self.store_failed(e),
        }
        r
    }

    /// [`Tracker::announce`] against whichever store is in use.
    pub async fn announce_shared(
        &self,
        req: &AnnounceRequest,
        client: IpAddr,
        now: Instant,
        both_families: bool,
        out: &mut PeerList,
    ) -> Result<SwarmStats, AnnounceError> {
        let Some(redis) = self.redis() else {
            return Ok(self.announce(req, client, now, both_families, out)?);
        };
        let a = self.prepare(req, client, both_families)?;
        match self.track(redis.announce(&a, gets_no_seeds(req), out).await) {
            Ok(r) => Ok(r?),
            Err(e) => Err(AnnounceError::Store(e)),
        }
    }

    /// [`Tracker::http_announce`] against whichever store is in use: a store that does not
    /// answer within its timeout gives a `failure reason` saying so.
    pub async fn http_announce_shared(
        &self,
        query: &[u8],
        client: Option<IpAddr>,
        now: Instant,
        out: &mut Vec<u8>,
    ) -> Result<(), AnnounceError> {
        if !self.is_shared() {
            return Ok(self.http_announce(query, client, now, out)?);
        }
        Counters::bump(&self.inner.counters.http_announces);
        let mut peers = PeerList::default();
        let result: Result<(), AnnounceError> = async {
            let (req, client) = self.parse_http_announce(query, client)?;
            let stats = self
                .announce_shared(&req, client, now, true, &mut peers)
                .await?;
            self.write_http_announce(&req, &stats, &peers, out);
            Ok(())
        }
        .await;
        if let Err(e) = &result {
            self.http_failure(&e.to_string(), out);
        }
        result
    }

    /// The counts of each torrent in `hashes`, from whichever store is in use (one round trip
    /// with Redis).
    pub async fn scrape_shared(&self, hashes: &[InfoHash]) -> Result<Vec<SwarmStats>, StoreError> {
        match self.redis() {
            None => Ok(hashes.iter().map(|h| self.store().scrape(h)).collect()),
            Some(redis) => self.track(redis.scrape(hashes).await),
        }
    }

    /// [`Tracker::http_scrape`] against whichever store is in use.
    pub async fn http_scrape_shared(
        &self,
        query: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), AnnounceError> {
        if !self.is_shared() {
            return Ok(self.http_scrape(query, out)?);
        }
        let hashes = self.parse_http_scrape(query, out)?;
        match self.scrape_shared(&hashes).await {
            Ok(stats) => {
                let files: Vec<_> = hashes.into_iter().zip(stats).collect();
                reply::write_scrape(out, &files);
                Ok(())
            }
            Err(e) => {
                let e = AnnounceError::Store(e);
                self.http_failure(&e.to_string(), out);
                Err(e)
            }
        }
    }

    /// [`Tracker::handle_udp`] against whichever store is in use. With a
    /// [`Config::udp_secret`](crate::Config::udp_secret), connection ids follow Unix time, so
    /// that every tracker with the secret accepts every other's ids.
    pub async fn handle_udp_shared(
        &self,
        packet: &[u8],
        from: SocketAddr,
        now: Instant,
        out: &mut Vec<u8>,
    ) -> bool {
        let id_secs = self.id_secs(now);
        if !self.is_shared() {
            return self.handle_udp_at(packet, from, now, id_secs, out);
        }
        let ip = canonical(from.ip());
        match self.udp_step(packet, ip, id_secs, out) {
            UdpStep::Done(send) => send,
            UdpStep::Announce {
                transaction_id,
                request,
            } => {
                let mut peers = PeerList::default();
                let stats = self
                    .announce_shared(&request, ip, now, false, &mut peers)
                    .await
                    .map_err(|e| e.to_string());
                self.write_udp_announce(transaction_id, ip, stats, &peers, out);
                true
            }
            UdpStep::Scrape {
                transaction_id,
                hashes,
            } => {
                let allowed: Vec<InfoHash> =
                    hashes.iter().filter(|(_, a)| *a).map(|(h, _)| *h).collect();
                match self.scrape_shared(&allowed).await {
                    Ok(found) => {
                        let mut found = found.into_iter();
                        let stats: Vec<SwarmStats> = hashes
                            .iter()
                            .map(|(_, a)| {
                                if *a {
                                    found.next().unwrap_or_default()
                                } else {
                                    SwarmStats::default()
                                }
                            })
                            .collect();
                        write_udp_scrape(transaction_id, &hashes, &stats, out);
                    }
                    Err(e) => {
                        let e = AnnounceError::Store(e).to_string();
                        self.write_udp_announce(
                            transaction_id,
                            ip,
                            Err(e),
                            &PeerList::default(),
                            out,
                        );
                    }
                }
                true
            }
        }
    }

    /// The connection ids' clock: Unix time when the ids are shared, else the store's clock.
    pub(crate) fn id_secs(&self, now: Instant) -> u64 {
        if self.config().udp_secret.is_some() {
            unix_secs()
        } else {
            u64::from(self.store().secs(now))
        }
    }

    /// Totals over every swarm, from whichever store is in use (with Redis, read at most once a
    /// second and shared by every tracker on it).
    pub async fn totals(&self) -> Result<Totals, StoreError> {
        let Some(redis) = self.redis() else {
            return Ok(self.store().totals());
        };
        let snap = self.track(redis.snapshot().await)?;
        let mut t = Totals {
            torrents: snap.len(),
            ..Totals::default()
        };
        for (_, s) in snap.iter() {
            t.seeders += u64::from(s.seeders);
            t.leechers += u64::from(s.leechers);
            t.completed += s.completed;
        }
        Ok(t)
    }

    /// Calls `f` with every torrent that has peers and its counts, from whichever store is in
    /// use.
    pub async fn for_each_swarm(
        &self,
        mut f: impl FnMut(&InfoHash, SwarmStats),
    ) -> Result<(), StoreError> {
        match self.redis() {
            None => {
                self.store().for_each(f);
                Ok(())
            }
            Some(redis) => {
                let snap = self.track(redis.snapshot().await)?;
                for (h, s) in snap.iter() {
                    f(h, *s);
                }
                Ok(())
            }
        }
    }

    /// Drops expired peers and empty swarms in whichever store is in use; returns the torrents
    /// dropped. With Redis this sweeps every swarm (any tracker on it may, at any time).
    pub async fn expire_shared(&self, now: Instant) -> Result<usize, StoreError> {
        match self.redis() {
            None => Ok(self.expire(now).1),
            Some(redis) => self.track(redis.sweep().await),
        }
    }

    /// The store in use, for the pages: `memory`, or the Redis URL.
    pub fn store_name(&self) -> &str {
        self.redis().map_or("memory", RedisStore::url)
    }
}
