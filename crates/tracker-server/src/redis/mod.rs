//! The Redis swarm store ([`Config::store`](crate::Config::store) set to
//! [`StoreConfig::Redis`](crate::StoreConfig::Redis)): several trackers on one Redis share every
//! swarm. Part of the serving shell (it does network I/O); the key layout and the records are in
//! `layout.rs`, the atomic per-swarm logic in the Lua scripts beside this file.
//!
//! One announce is one round trip: a pipeline of the announce script (`EVALSHA`; loaded with
//! `SCRIPT LOAD` once per Redis start, when Redis answers `NOSCRIPT`), the `ZRANGE` reads of the
//! peers to give (planned in `draw.rs`) and, now and then, the index touch (`memo.rs` says when).
//! A scrape of many info-hashes is one pipeline too. Every call is bounded by
//! [`RedisConfig::timeout`]; the connection is a `redis` `ConnectionManager`, which reconnects by
//! itself after Redis comes back.

mod draw;
mod layout;
mod memo;

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Pipeline, Script, Value};
use tokio::sync::Mutex;

use crate::store::Announce;
use crate::swarm::{PeerList, SwarmStats};
use torrentkit_tracker_proto::{Event, InfoHash, RequestError};

pub(crate) use layout::INDEX;

/// How to reach the Redis that holds the swarms.
#[derive(Clone)]
pub struct RedisConfig {
    url: String,
    client: redis::Client,
    /// How long one store call (an announce, a scrape, a page's counts) may take before the
    /// request fails with a `failure reason` (2 s). Connecting counts toward it.
    pub timeout: Duration,
}

impl std::fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &self.url)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl RedisConfig {
    /// Reads a `redis://HOST:PORT/DB` URL (also `rediss://` is refused: no TLS support built in,
    /// and `redis+unix:///PATH`); nothing is connected yet.
    pub fn new(url: &str) -> Result<RedisConfig, StoreError> {
        let bad = |reason: String| StoreError::BadUrl {
            url: url.to_owned(),
            reason,
        };
        if !(url.starts_with("redis://") || url.starts_with("redis+unix://")) {
            return Err(bad("expected redis://HOST:PORT/DB".into()));
        }
        let client = redis::Client::open(url).map_err(|e| bad(e.to_string()))?;
        Ok(RedisConfig {
            url: url.to_owned(),
            client,
            timeout: Duration::from_secs(2),
        })
    }

    /// The URL, as given.
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// Why the swarm store could not answer.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreError {
    /// The store URL cannot be used.
    BadUrl {
        /// The URL.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Redis did not answer within the timeout (down, unreachable or overloaded).
    Timeout(Duration),
    /// Redis refused the connection or the command, or the connection broke.
    Unavailable(String),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::BadUrl { url, reason } => write!(f, "bad store URL `{url}`: {reason}"),
            StoreError::Timeout(t) => {
                write!(f, "swarm store did not answer within {} ms", t.as_millis())
            }
            StoreError::Unavailable(why) => write!(f, "swarm store unavailable: {why}"),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<redis::RedisError> for StoreError {
    fn from(e: redis::RedisError) -> Self {
        StoreError::Unavailable(e.to_string())
    }
}

/// One script: its source (for `SCRIPT LOAD`) and its SHA-1 (what `EVALSHA` names).
struct Lua {
    code: &'static str,
    hash: String,
}

impl Lua {
    fn new(code: &'static str) -> Lua {
        Lua {
            code,
            hash: Script::new(code).get_hash().to_owned(),
        }
    }
}

/// The scripts, hashed once.
struct Scripts {
    announce: Lua,
    scrape: Lua,
    forget: Lua,
    touch: Lua,
}

impl Scripts {
    fn new() -> Scripts {
        Scripts {
            announce: Lua::new(include_str!("announce.lua")),
            scrape: Lua::new(include_str!("scrape.lua")),
            forget: Lua::new(include_str!("forget.lua")),
            touch: Lua::new(include_str!("touch.lua")),
        }
    }

    fn all(&self) -> [&Lua; 4] {
        [&self.announce, &self.scrape, &self.forget, &self.touch]
    }
}

/// How long the pages' view of every swarm is reused: `/metrics` scraped every second by several
/// collectors reads Redis once.
const SNAPSHOT_TTL: Duration = Duration::from_secs(1);
/// Swarms read per pipeline by the pages and the sweep.
const CHUNK: usize = 1000;
/// Expired peers dropped per swarm and sorted set by one sweep call.
const SWEEP_LIMIT: usize = 10_000;
/// Expired peers dropped per sorted set by a scrape.
const SCRAPE_LIMIT: usize = 64;

/// How often this tracker has a swarm's expired peers dropped by an announce: the score test of
/// every announce cost Redis more than the rest of a small announce.
const EXPIRE_EVERY: Duration = Duration::from_secs(1);

/// Every swarm and its counts, as the pages show them.
pub(crate) type Snapshot = Arc<Vec<(InfoHash, SwarmStats)>>;

/// The swarms in Redis.
pub(crate) struct RedisStore {
    config: RedisConfig,
    peer_timeout: u64,
    max_peers: usize,
    conn: OnceLock<ConnectionManager>,
    scripts: Scripts,
    snapshot: Mutex<Option<(Instant, Snapshot)>>,
    /// The counts last seen per swarm and when its upkeep was last done.
    memo: memo::Memo,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("config", &self.config)
            .finish()
    }
}

fn int(v: &Value) -> i64 {
    match v {
        Value::Int(n) => *n,
        Value::BulkString(b) => std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0),
        _ => 0,
    }
}

fn stats(seeders: &Value, leechers: &Value, completed: &Value) -> SwarmStats {
    SwarmStats {
        seeders: u32::try_from(int(seeders)).unwrap_or(0),
        leechers: u32::try_from(int(leechers)).unwrap_or(0),
        completed: u64::try_from(int(completed)).unwrap_or(0),
    }
}

fn array(v: Value) -> Result<Vec<Value>, StoreError> {
    match v {
        Value::Array(items) => Ok(items),
        other => Err(StoreError::Unavailable(format!(
            "unexpected reply {other:?} from a tracker script"
        ))),
    }
}

impl RedisStore {
    pub(crate) fn new(config: RedisConfig, peer_timeout: Duration, max_peers: usize) -> Self {
        RedisStore {
            config,
            peer_timeout: peer_timeout.as_secs().max(1),
            max_peers,
            conn: OnceLock::new(),
            scripts: Scripts::new(),
            snapshot: Mutex::new(None),
            // The index only has to know that a swarm was announced within the peer timeout
            // (the sweep forgets swarms silent for a whole timeout), so each tracker touches a
            // swarm at most once per quarter timeout.
            memo: memo::Memo::new(peer_timeout / 4, EXPIRE_EVERY),
        }
    }

    pub(crate) fn url(&self) -> &str {
        &self.config.url
    }

    /// The connection, created on first use (it needs the Tokio runtime) and then kept: the
    /// manager reconnects by itself when a command finds the connection broken.
    fn connection(&self) -> Result<ConnectionManager, StoreError> {
        if let Some(c) = self.conn.get() {
            return Ok(c.clone());
        }
        let t = self.config.timeout;
        let cfg = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(t))
            .set_response_timeout(Some(t))
            // Reconnection attempts back off from 50 ms to at most 1 s; each request is bounded
            // by the timeout anyway.
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_secs(1))
            .set_number_of_retries(3);
        let manager = ConnectionManager::new_lazy_with_config(self.config.client.clone(), cfg)?;
        Ok(self.conn.get_or_init(|| manager).clone())
    }

    /// Runs `pipe` as one round trip under the timeout; on `NOSCRIPT` (a fresh or restarted
    /// Redis) loads the scripts and runs it once more, and on a broken connection (Redis
    /// restarted since the last call) runs it once more on the manager's new connection.
    async fn query(&self, pipe: &Pipeline) -> Result<Vec<Value>, StoreError> {
        let run = async {
            let mut retried = false;
            loop {
                let mut con = self.connection()?;
                match pipe.query_async::<Vec<Value>>(&mut con).await {
                    Err(e) if e.code() == Some("NOSCRIPT") => {
                        let mut load = redis::pipe();
                        for s in self.scripts.all() {
                            load.cmd("SCRIPT").arg("LOAD").arg(s.code);
                        }
                        load.query_async::<Vec<Value>>(&mut con).await?;
                        return Ok(pipe.query_async::<Vec<Value>>(&mut con).await?);
                    }
                    Err(e) if !retried && (e.is_io_error() || e.is_unrecoverable_error()) => {
                        retried = true;
                    }
                    r => return Ok(r?),
                }
            }
        };
        match tokio::time::timeout(self.config.timeout, run).await {
            Ok(r) => r,
            Err(_) => Err(StoreError::Timeout(self.config.timeout)),
        }
    }

    /// Records an announce and chooses peers for it into `out`, in one round trip. The inner
    /// error is the request's fault (a key mismatch), the outer one the store's.
    pub(crate) async fn announce(
        &self,
        a: &Announce<'_>,
        no_seeds: bool,
        out: &mut PeerList,
    ) -> Result<Result<SwarmStats, RequestError>, StoreError> {
        let req = a.request;
        let keys = layout::swarm_keys(&req.info_hash);
        let event = match req.event {
            Event::Completed => "1",
            Event::Started => "2",
            Event::Stopped => "3",
            _ => "0",
        };
        let due = self.memo.due(&req.info_hash, Instant::now());
        let mut pipe = redis::pipe();
        pipe.cmd("EVALSHA")
            .arg(&self.scripts.announce.hash)
            .arg(keys.len())
            .arg(&keys[..])
            .arg(&req.peer_id.0[..])
            .arg(layout::record(a.addr, req.key))
            .arg(if req.left == Some(0) { "1" } else { "0" })
            .arg(event)
            .arg(self.peer_timeout)
            .arg(self.max_peers)
            .arg(if due.expire { "1" } else { "0" });
        // The peers are read after the script, so that the peers it expired are gone; the
        // requester may be among them and is skipped. A stopping peer is given none.
        let plan = if req.event == Event::Stopped {
            draw::Plan::default()
        } else {
            draw::plan(due.seen, a.numwant, no_seeds, fastrand::u64(..))
        };
        for (key, spans) in [(&keys[1], plan.leechers), (&keys[0], plan.seeders)] {
            for span in spans.iter() {
                pipe.cmd("ZRANGE").arg(key).arg(span.start).arg(span.stop);
            }
        }
        if req.event != Event::Stopped && due.touch {
            pipe.cmd("EVALSHA")
                .arg(&self.scripts.touch.hash)
                .arg(1)
                .arg(INDEX)
                .arg(req.info_hash.to_hex())
                .ignore();
        }
        let mut replies = self.query(&pipe).await?.into_iter();
        let reply = array(replies.next().unwrap_or(Value::Nil))?;
        if reply.first().map(int) == Some(-1) {
            return Ok(Err(RequestError::KeyMismatch));
        }
        let [_, seeders, leechers, completed] = &reply[..] else {
            return Err(StoreError::Unavailable(
                "short reply from the announce script".into(),
            ));
        };
        let counts = stats(seeders, leechers, completed);
        self.memo
            .saw(&req.info_hash, counts.seeders, counts.leechers);
        let mut read = |spans: draw::Spans| -> Result<Vec<Value>, StoreError> {
            let mut members = Vec::new();
            for _ in spans.iter() {
                let part = array(replies.next().unwrap_or(Value::Nil))?;
                if members.is_empty() {
                    members = part;
                } else {
                    members.extend(part);
                }
            }
            Ok(members)
        };
        let drawn_leechers = read(plan.leechers)?;
        let drawn_seeders = read(plan.seeders)?;
        // The split by the exact counts: leechers up to their share, then seeders, then more
        // leechers if the seeders ran short.
        let want = a.numwant;
        let leecher_share = want
            - draw::from_seeds(
                want,
                counts.seeders as usize,
                counts.leechers as usize,
                no_seeds,
            );
        let v6 = a.addr.is_ipv6();
        let mut given = 0;
        let mut give = |members: &[Value], limit: usize| -> usize {
            let mut used = 0;
            for m in members {
                if given >= limit {
                    break;
                }
                used += 1;
                if let Value::BulkString(m) = m {
                    if m.get(..20) != Some(&req.peer_id.0[..])
                        && layout::push_peer(out, m, v6, a.both_families, a.with_ids)
                    {
                        given += 1;
                    }
                }
            }
            used
        };
        let used = give(&drawn_leechers, leecher_share);
        give(&drawn_seeders, want);
        give(&drawn_leechers[used..], want);
        Ok(Ok(counts))
    }

    fn push_scrape(&self, pipe: &mut Pipeline, hash: &InfoHash, limit: usize, drop: bool) {
        let keys = layout::swarm_keys(hash);
        pipe.cmd("EVALSHA")
            .arg(&self.scripts.scrape.hash)
            .arg(keys.len())
            .arg(&keys[..])
            .arg(self.peer_timeout)
            .arg(limit)
            .arg(if drop { "1" } else { "0" });
    }

    fn read_scrapes(replies: Vec<Value>) -> Result<Vec<SwarmStats>, StoreError> {
        replies
            .into_iter()
            .map(|v| {
                let r = array(v)?;
                match r.as_slice() {
                    [s, l, d] => Ok(stats(s, l, d)),
                    _ => Err(StoreError::Unavailable(
                        "short reply from the scrape script".into(),
                    )),
                }
            })
            .collect()
    }

    /// The counts of each torrent in `hashes`, in one round trip.
    pub(crate) async fn scrape(&self, hashes: &[InfoHash]) -> Result<Vec<SwarmStats>, StoreError> {
        if hashes.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for h in hashes {
            self.push_scrape(&mut pipe, h, SCRAPE_LIMIT, false);
        }
        Self::read_scrapes(self.query(&pipe).await?)
    }

    /// Every swarm in the index, by info-hash.
    async fn swarms(&self) -> Result<Vec<InfoHash>, StoreError> {
        let mut pipe = redis::pipe();
        pipe.cmd("ZRANGE").arg(INDEX).arg(0).arg(-1);
        let reply = self.query(&pipe).await?.into_iter().next();
        let items = array(reply.unwrap_or(Value::Nil))?;
        Ok(items
            .iter()
            .filter_map(|v| match v {
                Value::BulkString(b) => std::str::from_utf8(b).ok(),
                _ => None,
            })
            .filter_map(|hex| InfoHash::from_hex(hex).ok())
            .collect())
    }

    /// Every swarm with peers and its counts, read at most once a second (one round trip per
    /// 1,000 swarms).
    pub(crate) async fn snapshot(&self) -> Result<Snapshot, StoreError> {
        let mut cached = self.snapshot.lock().await;
        if let Some((at, snap)) = &*cached {
            if at.elapsed() < SNAPSHOT_TTL {
                return Ok(snap.clone());
            }
        }
        let hashes = self.swarms().await?;
        let mut all = Vec::with_capacity(hashes.len());
        for chunk in hashes.chunks(CHUNK) {
            let mut pipe = redis::pipe();
            for h in chunk {
                self.push_scrape(&mut pipe, h, SCRAPE_LIMIT, false);
            }
            let counts = Self::read_scrapes(self.query(&pipe).await?)?;
            all.extend(
                chunk
                    .iter()
                    .zip(counts)
                    .filter(|(_, s)| s.seeders + s.leechers > 0),
            );
        }
        let snap: Snapshot = Arc::new(all.into_iter().map(|(h, s)| (*h, s)).collect());
        *cached = Some((Instant::now(), snap.clone()));
        Ok(snap)
    }

    /// Drops expired peers in every swarm, and the swarms left empty and silent for the peer
    /// timeout. Returns how many swarms were dropped. Any tracker on the Redis may run it; runs
    /// from several at once are harmless (each step is one atomic script).
    pub(crate) async fn sweep(&self) -> Result<usize, StoreError> {
        let hashes = self.swarms().await?;
        let mut dropped = 0;
        for chunk in hashes.chunks(CHUNK) {
            let mut pipe = redis::pipe();
            for h in chunk {
                self.push_scrape(&mut pipe, h, SWEEP_LIMIT, true);
            }
            let counts = Self::read_scrapes(self.query(&pipe).await?)?;
            let mut forget = redis::pipe();
            for (h, s) in chunk.iter().zip(counts) {
                if s.seeders + s.leechers == 0 {
                    forget
                        .cmd("EVALSHA")
                        .arg(&self.scripts.forget.hash)
                        .arg(1)
                        .arg(INDEX)
                        .arg(h.to_hex())
                        .arg(self.peer_timeout);
                }
            }
            if !forget.is_empty() {
                let removed = self.query(&forget).await?;
                dropped += removed.iter().filter(|v| int(v) == 1).count();
            }
        }
        Ok(dropped)
    }
}
