//! [`Tracker`]: the shared state behind the HTTP router and the UDP service (configuration, swarm
//! store, hosted torrents, counters), and the protocol logic both call. Everything here takes the
//! time as an argument; only the dfile and hosting methods touch the file system.

use std::cell::RefCell;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use crate::access_log::AccessLog;
use crate::config::Config;
use crate::dfile::{self, DfileError, Restored};
use crate::error::{Error, RequestError, TorrentError};
use crate::hosting::{Hosted, HostedTorrent, ScanReport, TorrentInfo};
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

pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// An IPv4 address that arrived as IPv4-mapped IPv6 (on a dual-stack socket) counts as IPv4.
pub(crate) fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

impl Tracker {
    /// A tracker with empty state. Nothing is read from disk: see [`Tracker::load_dfile`] and
    /// [`Tracker::rescan`].
    pub fn new(config: Config) -> Tracker {
        let limits = StoreLimits {
            peer_timeout: config.peer_timeout,
            max_peers_per_torrent: config.max_peers_per_torrent,
            max_torrents: config.max_torrents,
            shards: config.shards,
        };
        Tracker {
            inner: Arc::new(Inner {
                store: Store::new(limits, Instant::now()),
                config,
                ids: ConnectionIds::random(),
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

    /// The swarm store.
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

    fn read_hosted(&self) -> std::sync::RwLockReadGuard<'_, Hosted> {
        self.inner.hosted.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_hosted(&self) -> std::sync::RwLockWriteGuard<'_, Hosted> {
        self.inner.hosted.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Records an announce from a client at `client` and chooses peers for it into `out`.
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
        let a = Announce {
            request: req,
            addr: SocketAddr::new(canonical(ip), req.port),
            numwant,
            both_families,
            with_ids: !req.compact,
        };
        self.inner.store.announce(&a, now, out)
    }

    /// Answers an HTTP announce: parses the raw query, records the announce and writes the
    /// bencoded reply (peers, or a `failure reason`) into `out`. `client` is the address the
    /// request came from (`None` when unknown, which fails unless `ip=` is trusted and given).
    pub fn http_announce(
        &self,
        query: &[u8],
        client: Option<IpAddr>,
        now: Instant,
        out: &mut Vec<u8>,
    ) -> Result<(), RequestError> {
        Counters::bump(&self.inner.counters.http_announces);
        let result = PEERS.with(|peers| {
            let mut peers = peers.borrow_mut();
            peers.clear();
            let req = AnnounceRequest::parse(query, self.inner.config.max_query_len)?;
            let client = match (client, req.ip) {
                (Some(ip), _) => ip,
                (None, Some(ip)) if self.inner.config.trust_ip_param => ip,
                (None, _) => return Err(RequestError::NoClientAddress),
            };
            let stats = self.announce(&req, client, now, true, &mut peers)?;
            if req.compact {
                reply::write_compact(out, &stats, &self.intervals(), &peers);
            } else {
                reply::write_dictionary(out, &stats, &self.intervals(), &peers, req.no_peer_id);
            }
            Ok(())
        });
        if let Err(e) = &result {
            Counters::bump(&self.inner.counters.http_failures);
            out.clear();
            reply::write_failure(out, &e.to_string());
        }
        result
    }

    /// Answers an HTTP scrape from its raw query, writing the bencoded reply (or a
    /// `failure reason`) into `out`. Torrents that are not tracked are reported with zeros;
    /// with an allowed directory, torrents not allowed are left out.
    pub fn http_scrape(&self, query: &[u8], out: &mut Vec<u8>) -> Result<(), RequestError> {
        Counters::bump(&self.inner.counters.http_scrapes);
        let cfg = &self.inner.config;
        match ScrapeRequest::parse(query, cfg.max_query_len, cfg.max_scrape_hashes) {
            Ok(req) => {
                let files: Vec<_> = req
                    .info_hashes
                    .iter()
                    .filter(|h| self.is_allowed(h))
                    .map(|h| (*h, self.inner.store.scrape(h)))
                    .collect();
                reply::write_scrape(out, &files);
                Ok(())
            }
            Err(e) => {
                Counters::bump(&self.inner.counters.http_failures);
                reply::write_failure(out, &e.to_string());
                Err(e)
            }
        }
    }

    /// Drops peers not heard from within the peer timeout and empty swarms; returns
    /// (peers dropped, torrents dropped).
    pub fn expire(&self, now: Instant) -> (usize, usize) {
        self.inner.store.expire(now)
    }

    /// Reads the configured dfile into the store. A missing file is created (empty); a corrupt
    /// one is renamed to `PATH.corrupt-UNIXTIME` and the tracker starts empty; both are reported
    /// in the returned status (also kept for [`Tracker::dfile_status`]). Errors are I/O failures.
    pub fn load_dfile(&self) -> Result<DfileStatus, Error> {
        let Some(path) = self.inner.config.dfile.clone() else {
            return Ok(DfileStatus::None);
        };
        let now = unix_now();
        let status = match dfile::read(&path)? {
            None => {
                self.save_dfile()?;
                DfileStatus::Created
            }
            Some(bytes) => match dfile::restore(&self.inner.store, &bytes, Instant::now(), now) {
                Ok(restored) => DfileStatus::Loaded(restored),
                Err(error) => {
                    let to = dfile::move_aside(&path, now)?;
                    DfileStatus::MovedAside { error, to }
                }
            },
        };
        *self
            .inner
            .dfile_status
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = status.clone();
        Ok(status)
    }

    /// Writes the store to the configured dfile atomically (nothing without a dfile).
    pub fn save_dfile(&self) -> Result<(), Error> {
        let Some(path) = &self.inner.config.dfile else {
            return Ok(());
        };
        let bytes = dfile::snapshot(&self.inner.store, Instant::now(), unix_now());
        dfile::write_atomic(path, &bytes)
    }

    /// Rescans the allowed directory (nothing without one).
    pub fn rescan(&self) -> Result<ScanReport, Error> {
        let Some(dir) = &self.inner.config.allowed_dir else {
            return Ok(ScanReport::default());
        };
        // Read the files without holding the lock for long: scan a copy, then swap it in.
        let mut copy = self.read_hosted().clone();
        let report = copy.scan(dir, self.inner.config.max_publish_size)?;
        let mut hosted = self.write_hosted();
        // Keep what was published while the directory was being read.
        for (hash, t) in &hosted.by_hash {
            if !copy.by_hash.contains_key(hash) && t.path.as_ref().is_some_and(|p| p.exists()) {
                copy.by_hash.insert(*hash, t.clone());
            }
        }
        *hosted = copy;
        Ok(report)
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

    /// Adds a `.torrent` to the hosted set, after checking `token`. With an allowed directory the
    /// file is also written there (atomically, as `INFOHASH.torrent`) so it survives restarts.
    pub fn publish(&self, token: Option<&str>, bytes: Bytes) -> Result<TorrentInfo, PublishError> {
        self.check_publish_token(token)?;
        let max = self.inner.config.max_publish_size;
        if bytes.len() > max {
            return Err(PublishError::Torrent(TorrentError::TooLarge {
                len: bytes.len(),
                max,
            }));
        }
        let info = TorrentInfo::parse(&bytes).map_err(PublishError::Torrent)?;
        let path = match &self.inner.config.allowed_dir {
            Some(dir) => {
                let path = dir.join(format!("{}.torrent", info.info_hash.to_hex()));
                dfile::write_atomic(&path, &bytes).map_err(PublishError::Io)?;
                Some(path)
            }
            None => None,
        };
        self.write_hosted().insert(HostedTorrent {
            info: info.clone(),
            bytes,
            path,
        });
        Counters::bump(&self.inner.counters.published);
        Ok(info)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracker() -> Tracker {
        Tracker::new(Config {
            publish_token: Some("s3cret".into()),
            ..Config::default()
        })
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
        let off = Tracker::new(Config::default());
        assert!(matches!(
            off.check_publish_token(Some("x")),
            Err(PublishError::Disabled)
        ));
    }
}
