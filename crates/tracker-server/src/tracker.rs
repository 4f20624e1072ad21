//! [`Tracker`]: the shared state behind the HTTP router and the UDP service (configuration, swarm
//! store, hosted torrents, counters), and the protocol logic both call. Part of the protocol
//! core: everything here takes the time as an argument and nothing touches a file; the methods
//! that read the clock or the disk (`load_dfile`, `save_dfile`, `rescan`, `publish`, `serve`)
//! live in the serving shell (`dfile_io.rs`, `allowed_dir.rs`, `serve.rs`).

use std::cell::RefCell;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Instant;

use crate::access_log::AccessLog;
use crate::config::Config;
use crate::config::StoreConfig;
use crate::dfile::{DfileError, Restored};
use crate::error::{Error, RequestError, TorrentError};
use crate::hosting::{Hosted, HostedTorrent, TorrentInfo};
use crate::redis::RedisStore;
use crate::reply::{self, Intervals};
use crate::stats::{Counters, RequestCounts};
use crate::store::{Announce, Store, StoreLimits};
use crate::swarm::{PeerList, SwarmStats};
use crate::udp::ConnectionIds;
use torrentkit_tracker_proto::{AnnounceRequest, InfoHash, ScrapeRequest};

/// A tracker: cheap to clone (all clones share one state), used as the router's state, by the
/// UDP service and by [`serve`](crate::serve).
#[derive(Clone, Debug)]
pub struct Tracker {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) config: Config,
    pub(crate) store: Store,
    pub(crate) ids: ConnectionIds,
    pub(crate) hosted: RwLock<Hosted>,
    pub(crate) counters: Counters,
    pub(crate) log: OnceLock<AccessLog>,
    pub(crate) notices: OnceLock<Notices>,
    pub(crate) dfile_status: Mutex<DfileStatus>,
    /// The shared store, when [`Config::store`] names one; `store` is then unused.
    pub(crate) redis: Option<RedisStore>,
}

/// What happened to the dfile when the tracker started.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum DfileStatus {
    /// No dfile configured, or not loaded yet.
    #[default]
    None,
    /// The file did not exist; an empty one was written.
    Created,
    /// The file was read.
    Loaded(Restored),
    /// The file was corrupt; it was renamed and the tracker started empty.
    MovedAside {
        /// Why it could not be used.
        error: DfileError,
        /// Its new name.
        to: std::path::PathBuf,
    },
}

/// Something an operator should hear about that happened in the background of
/// [`Tracker::serve`]: the tracker keeps running and retries at the next period.
#[derive(Debug)]
#[non_exhaustive]
pub enum Notice {
    /// A periodic dfile save failed.
    SaveFailed(Error),
    /// A periodic rescan of the allowed directory failed.
    RescanFailed(Error),
    /// The shared store stopped answering: announces fail with a `failure reason` until it is
    /// back (told once per outage).
    StoreUnavailable(crate::StoreError),
    /// The shared store answers again after [`Notice::StoreUnavailable`].
    StoreRecovered,
    /// A rescan found a `.torrent` file it cannot read; it is not tracked.
    BadTorrent {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        reason: String,
    },
}

impl std::fmt::Display for Notice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Notice::SaveFailed(e) => write!(f, "saving the dfile failed: {e}"),
            Notice::RescanFailed(e) => write!(f, "rescanning the allowed directory failed: {e}"),
            Notice::StoreUnavailable(e) => write!(f, "{e}; announces fail until it is back"),
            Notice::StoreRecovered => f.write_str("the swarm store answers again"),
            Notice::BadTorrent { path, reason } => {
                write!(f, "skipping {}: {reason}", path.display())
            }
        }
    }
}

/// Receives [`Notice`]s; see [`Tracker::set_notice_handler`].
pub type NoticeHandler = Box<dyn Fn(&Notice) + Send + Sync>;

/// The handler, in a type that can be `Debug`.
pub(crate) struct Notices(NoticeHandler);

impl std::fmt::Debug for Notices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Notices(..)")
    }
}

/// Why a published `.torrent` was refused.
#[derive(Debug)]
#[non_exhaustive]
pub enum PublishError {
    /// Publishing is off (no token configured).
    Disabled,
    /// The token is missing or wrong.
    Unauthorized,
    /// The file is not a usable torrent.
    Torrent(TorrentError),
    /// It could not be saved into the allowed directory.
    Io(Error),
}

impl std::fmt::Display for PublishError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PublishError::Disabled => f.write_str("publishing is off on this tracker"),
            PublishError::Unauthorized => f.write_str("missing or wrong publish token"),
            PublishError::Torrent(e) => e.fmt(f),
            PublishError::Io(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for PublishError {}

thread_local! {
    /// One peer list per thread, reused by every announce to avoid allocating.
    static PEERS: RefCell<PeerList> = RefCell::new(PeerList::default());
}

/// An IPv4 address that arrived as IPv4-mapped IPv6 (on a dual-stack socket) counts as IPv4.
pub(crate) fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

impl Tracker {
    /// A tracker with empty state, started at `now` (the time every later `now` is counted
    /// from). Nothing is read from disk: see [`Tracker::load_dfile`] and [`Tracker::rescan`].
    pub fn new(config: Config, now: Instant) -> Tracker {
        let limits = StoreLimits {
            peer_timeout: config.peer_timeout,
            max_peers_per_torrent: config.max_peers_per_torrent,
            max_torrents: config.max_torrents,
            shards: config.shards,
        };
        let redis = match &config.store {
            StoreConfig::Memory => None,
            StoreConfig::Redis(r) => Some(RedisStore::new(
                r.clone(),
                config.peer_timeout,
                config.max_peers_per_torrent,
            )),
        };
        let ids = match &config.udp_secret {
            Some(secret) => ConnectionIds::from_secret(secret),
            None => ConnectionIds::random(),
        };
        Tracker {
            inner: Arc::new(Inner {
                store: Store::new(limits, now),
                config,
                ids,
                redis,
                hosted: RwLock::new(Hosted::default()),
                counters: Counters::default(),
                log: OnceLock::new(),
                notices: OnceLock::new(),
                dfile_status: Mutex::new(DfileStatus::None),
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The in-memory swarm store (empty and unused when [`Config::store`] is Redis: see
    /// [`Tracker::totals`] and [`Tracker::for_each_swarm`], which read whichever store is in use).
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Request counters since start.
    pub fn counts(&self) -> RequestCounts {
        self.inner.counters.snapshot()
    }

    /// Logs every HTTP request through `log` from now on. Only the first call has an effect; it
    /// returns the log back if one was already set.
    pub fn set_access_log(&self, log: AccessLog) -> Result<(), AccessLog> {
        self.inner.log.set(log)
    }

    /// Sends background [`Notice`]s (failed periodic saves and rescans, unreadable torrent files)
    /// to `handler`; without one they are only counted in `/metrics`. Only the first call has an
    /// effect; it returns the handler back if one was already set.
    pub fn set_notice_handler(&self, handler: NoticeHandler) -> Result<(), NoticeHandler> {
        self.inner.notices.set(Notices(handler)).map_err(|n| n.0)
    }

    pub(crate) fn notify(&self, notice: Notice) {
        if matches!(notice, Notice::SaveFailed(_) | Notice::RescanFailed(_)) {
            Counters::bump(&self.inner.counters.background_failures);
        }
        if let Some(Notices(handler)) = self.inner.notices.get() {
            handler(&notice);
        }
    }

    pub(crate) fn access_log(&self) -> Option<&AccessLog> {
        self.inner.log.get()
    }

    /// What happened to the dfile at start.
    pub fn dfile_status(&self) -> DfileStatus {
        self.inner
            .dfile_status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) fn intervals(&self) -> Intervals {
        Intervals {
            interval: self.inner.config.interval,
            min_interval: self.inner.config.min_interval,
        }
    }

    /// Whether announces for `hash` are accepted: always without an allowed directory, else only
    /// for hosted torrents.
    pub fn is_allowed(&self, hash: &InfoHash) -> bool {
        self.inner.config.allowed_dir.is_none() || self.hosted(hash).is_some()
    }

    /// A hosted torrent by info-hash.
    pub fn hosted(&self, hash: &InfoHash) -> Option<Arc<HostedTorrent>> {
        self.read_hosted().by_hash.get(hash).cloned()
    }

    /// Every hosted torrent.
    pub fn hosted_torrents(&self) -> Vec<Arc<HostedTorrent>> {
        self.read_hosted().by_hash.values().cloned().collect()
    }

    pub(crate) fn set_dfile_status(&self, status: DfileStatus) {
        *self
            .inner
            .dfile_status
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = status;
    }

    pub(crate) fn read_hosted(&self) -> std::sync::RwLockReadGuard<'_, Hosted> {
        self.inner.hosted.read().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn write_hosted(&self) -> std::sync::RwLockWriteGuard<'_, Hosted> {
        self.inner.hosted.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The store's view of an announce from `client`: the peer's address is `client` with the
    /// announced port, or the `ip=` address when the configuration trusts it; `numwant` capped.
    pub(crate) fn prepare<'a>(
        &self,
        req: &'a AnnounceRequest,
        client: IpAddr,
        both_families: bool,
    ) -> Result<Announce<'a>, RequestError> {
        if !self.is_allowed(&req.info_hash) {
            return Err(RequestError::NotAllowed);
        }
        let cfg = &self.inner.config;
        let ip = match req.ip {
            Some(ip) if cfg.trust_ip_param => ip,
            _ => client,
        };
        let numwant = req
            .numwant
            .map_or(cfg.default_numwant, |n| n as usize)
            .min(cfg.max_numwant);
        Ok(Announce {
            request: req,
            addr: SocketAddr::new(canonical(ip), req.port),
            numwant,
            both_families,
            with_ids: !req.compact,
        })
    }

    /// Records an announce from a client at `client` and chooses peers for it into `out`, in
    /// the in-memory store (see [`Tracker::announce_shared`] for whichever store is in use).
    ///
    /// The peer's address is `client` with the announced port, or the `ip=` address when the
    /// configuration trusts it. `both_families` gives IPv6 peers to IPv4 clients and the reverse
    /// (HTTP, BEP 7); UDP replies carry only the packet's family.
    pub fn announce(
        &self,
        req: &AnnounceRequest,
        client: IpAddr,
        now: Instant,
        both_families: bool,
        out: &mut PeerList,
    ) -> Result<SwarmStats, RequestError> {
        let a = self.prepare(req, client, both_families)?;
        self.inner.store.announce(&a, now, out)
    }

    /// Parses an HTTP announce query and settles the client's address.
    pub(crate) fn parse_http_announce(
        &self,
        query: &[u8],
        client: Option<IpAddr>,
    ) -> Result<(AnnounceRequest, IpAddr), RequestError> {
        let req = AnnounceRequest::parse(query, self.inner.config.max_query_len)?;
        let client = match (client, req.ip) {
            (Some(ip), _) => ip,
            (None, Some(ip)) if self.inner.config.trust_ip_param => ip,
            (None, _) => return Err(RequestError::NoClientAddress),
        };
        Ok((req, client))
    }

    /// Writes an HTTP announce reply, compact or with dictionaries as the request asked.
    pub(crate) fn write_http_announce(
        &self,
        req: &AnnounceRequest,
        stats: &SwarmStats,
        peers: &PeerList,
        out: &mut Vec<u8>,
    ) {
        if req.compact {
            reply::write_compact(out, stats, &self.intervals(), peers);
        } else {
            reply::write_dictionary(out, stats, &self.intervals(), peers, req.no_peer_id);
        }
    }

    /// Counts an HTTP failure and writes its `failure reason` into `out` (cleared first).
    pub(crate) fn http_failure(&self, reason: &str, out: &mut Vec<u8>) {
        Counters::bump(&self.inner.counters.http_failures);
        out.clear();
        reply::write_failure(out, reason);
    }

    /// Answers an HTTP announce: parses the raw query, records the announce and writes the
    /// bencoded reply (peers, or a `failure reason`) into `out`. `client` is the address the
    /// request came from (`None` when unknown, which fails unless `ip=` is trusted and given).
    /// In-memory store only; [`Tracker::http_announce_shared`] serves either.
    pub fn http_announce(
        &self,
        query: &[u8],
        client: Option<IpAddr>,
        now: Instant,
        out: &mut Vec<u8>,
    ) -> Result<(), RequestError> {
        Counters::bump(&self.inner.counters.http_announces);
        let result: Result<(), RequestError> = PEERS.with(|peers| {
            let mut peers = peers.borrow_mut();
            peers.clear();
            let (req, client) = self.parse_http_announce(query, client)?;
            let stats = self.announce(&req, client, now, true, &mut peers)?;
            self.write_http_announce(&req, &stats, &peers, out);
            Ok(())
        });
        if let Err(e) = &result {
            self.http_failure(&e.to_string(), out);
        }
        result
    }

    /// Answers an HTTP scrape from its raw query, writing the bencoded reply (or a
    /// `failure reason`) into `out`. Torrents that are not tracked are reported with zeros;
    /// with an allowed directory, torrents not allowed are left out.
    pub fn http_scrape(&self, query: &[u8], out: &mut Vec<u8>) -> Result<(), RequestError> {
        let hashes = self.parse_http_scrape(query, out)?;
        let files: Vec<_> = hashes
            .into_iter()
            .map(|h| (h, self.inner.store.scrape(&h)))
            .collect();
        reply::write_scrape(out, &files);
        Ok(())
    }

    /// Counts an HTTP scrape and parses its query into the info-hashes to report (those allowed);
    /// a bad query is answered with its `failure reason` into `out`.
    pub(crate) fn parse_http_scrape(
        &self,
        query: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<Vec<InfoHash>, RequestError> {
        Counters::bump(&self.inner.counters.http_scrapes);
        let cfg = &self.inner.config;
        match ScrapeRequest::parse(query, cfg.max_query_len, cfg.max_scrape_hashes) {
            Ok(req) => Ok(req
                .info_hashes
                .iter()
                .filter(|h| self.is_allowed(h))
                .copied()
                .collect()),
            Err(e) => {
                self.http_failure(&e.to_string(), out);
                Err(e)
            }
        }
    }

    /// Drops peers not heard from within the peer timeout and empty swarms; returns
    /// (peers dropped, torrents dropped).
    pub fn expire(&self, now: Instant) -> (usize, usize) {
        self.inner.store.expire(now)
    }

    /// Checks a publish token against the configured one (in constant time).
    pub fn check_publish_token(&self, token: Option<&str>) -> Result<(), PublishError> {
        let Some(want) = &self.inner.config.publish_token else {
            return Err(PublishError::Disabled);
        };
        let got = token.ok_or(PublishError::Unauthorized)?;
        let (a, b) = (want.as_bytes(), got.as_bytes());
        let diff = a
            .iter()
            .zip(b)
            .fold(u8::from(a.len() != b.len()), |acc, (x, y)| acc | (x ^ y));
        if diff != 0 {
            return Err(PublishError::Unauthorized);
        }
        Ok(())
    }

    /// Checks `token` and reads `bytes` as a torrent this tracker may host, without storing
    /// anything: the first half of [`Tracker::publish`].
    pub fn check_publish(
        &self,
        token: Option<&str>,
        bytes: &[u8],
    ) -> Result<TorrentInfo, PublishError> {
        self.check_publish_token(token)?;
        let max = self.inner.config.max_publish_size;
        if bytes.len() > max {
            return Err(PublishError::Torrent(TorrentError::TooLarge {
                len: bytes.len(),
                max,
            }));
        }
        TorrentInfo::parse(bytes).map_err(PublishError::Torrent)
    }

    /// Hosts a published torrent (checked by [`Tracker::check_publish`]) and counts it.
    pub(crate) fn add_published(&self, torrent: HostedTorrent) {
        self.write_hosted().insert(torrent);
        Counters::bump(&self.inner.counters.published);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn tracker() -> Tracker {
        let config = Config {
            publish_token: Some("s3cret".into()),
            max_publish_size: 1000,
            ..Config::default()
        };
        Tracker::new(config, Instant::now())
    }

    #[test]
    fn http_announce_writes_peers_or_failure() {
        let t = tracker();
        let now = Instant::now();
        let ip: IpAddr = "10.1.1.1".parse().unwrap();
        let mut out = Vec::new();
        let q =
            b"info_hash=aaaaaaaaaaaaaaaaaaaa&peer_id=bbbbbbbbbbbbbbbbbbbb&port=7&left=0&compact=1";
        t.http_announce(q, Some(ip), now, &mut out).unwrap();
        assert!(out.starts_with(b"d8:completei1e"), "{}", out.escape_ascii());
        out.clear();
        let q =
            b"info_hash=aaaaaaaaaaaaaaaaaaaa&peer_id=cccccccccccccccccccc&port=8&left=5&compact=1";
        t.http_announce(q, Some(ip), now, &mut out).unwrap();
        assert!(
            out.ends_with(b"5:peers6:\x0a\x01\x01\x01\x00\x07e"),
            "{}",
            out.escape_ascii()
        );
        out.clear();
        assert_eq!(
            t.http_announce(b"port=1", Some(ip), now, &mut out),
            Err(RequestError::Missing("info_hash"))
        );
        assert_eq!(out, b"d14:failure reason17:missing info_hashe");
        out.clear();
        assert_eq!(
            t.http_announce(q, None, now, &mut out),
            Err(RequestError::NoClientAddress)
        );
        let c = t.counts();
        assert_eq!((c.http_announces, c.http_failures), (4, 2));
    }

    #[test]
    fn publish_token_checks() {
        let t = tracker();
        assert!(matches!(
            t.check_publish_token(None),
            Err(PublishError::Unauthorized)
        ));
        assert!(matches!(
            t.check_publish_token(Some("s3cre")),
            Err(PublishError::Unauthorized)
        ));
        assert!(t.check_publish_token(Some("s3cret")).is_ok());
        let off = Tracker::new(Config::default(), Instant::now());
        assert!(matches!(
            off.check_publish_token(Some("x")),
            Err(PublishError::Disabled)
        ));
    }

    #[test]
    fn check_publish_reads_the_torrent_and_stores_nothing() {
        let t = tracker();
        let good = crate::hosting::tests::torrent("a.txt", 5);
        let info = t.check_publish(Some("s3cret"), &good).unwrap();
        assert_eq!((info.name.as_str(), info.total_size), ("a.txt", 5));
        assert!(t.hosted_torrents().is_empty());
        assert!(matches!(
            t.check_publish(Some("s3cret"), b"d3:fooi1ee"),
            Err(PublishError::Torrent(TorrentError::NoInfo))
        ));
        assert_eq!(
            t.check_publish(Some("s3cret"), &[b'd'; 1001])
                .unwrap_err()
                .to_string(),
            "torrent file too large (1001 bytes, limit 1000)"
        );
        assert!(matches!(
            t.check_publish(None, &good),
            Err(PublishError::Unauthorized)
        ));
        t.add_published(HostedTorrent {
            info: info.clone(),
            bytes: Bytes::from(good),
            path: None,
        });
        assert!(t.hosted(&info.info_hash).is_some());
        assert_eq!(t.counts().published, 1);
    }
}
