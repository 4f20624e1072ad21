//! The Redis rows of `cargo xtask bench tracker`: `bt tracker --store redis://` on one Redis
//! (Debian package redis-server), alone and as a pair with the wrk load split across the two
//! (each wrk process half the threads and connections, run at the same moment; requests/s
//! summed, the worse p99 kept), in the same alternating rounds, with the same script and pool, as
//! the opentracker row. Memory: Redis's `used_memory` growth per 100,000 peers held.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::bail;

use super::{check, median_round, parse_wrk, peers_bt, wrk, wrk_spawn, Round, ROUND};
use crate::interop::context::Ctx;
use crate::interop::net;
use crate::interop::process::Managed;
use crate::interop::redis::Redis;

/// One bt tracker on a Redis database.
struct OnRedis {
    _process: Managed,
    addr: SocketAddr,
}

fn start_bt(ctx: &Ctx, bt: &Path, name: &str, url: &str) -> anyhow::Result<OnRedis> {
    let port = net::free_port()?;
    let mut process = ctx
        .spawn(name, bt)
        .args(["tracker", "--bind", "127.0.0.1", "--port"])
        .arg(port.to_string())
        .args(["--store", url, "--udp-secret", "bench"])
        .start()?;
    let addr = net::loopback(port);
    process.wait_for_tcp(addr, ctx.deadline())?;
    Ok(OnRedis {
        _process: process,
        addr,
    })
}

/// The trackers on Redis and their rounds.
pub(super) struct RedisRows {
    redis: Redis,
    one: OnRedis,
    pair: [OnRedis; 2],
    memory_start: u64,
    pub(super) one_rounds: Vec<Round>,
    pub(super) pair_rounds: Vec<Round>,
}

/// The medians and the memory, for the report.
pub(super) struct RedisResult {
    pub(super) one: Round,
    pub(super) pair: Round,
    pub(super) peers: u64,
    pub(super) grown: u64,
    pub(super) per_100k_mib: f64,
}

impl RedisRows {
    /// Starts redis-server and three bt trackers: one on database 0, a pair on database 1.
    pub(super) fn start(ctx: &Ctx, bt: &Path) -> anyhow::Result<RedisRows> {
        let redis = Redis::start(ctx, "redis")?;
        let one = start_bt(ctx, bt, "bt-redis", &redis.url(0))?;
        let pair = [
            start_bt(ctx, bt, "bt-redis-a", &redis.url(1))?,
            start_bt(ctx, bt, "bt-redis-b", &redis.url(1))?,
        ];
        let memory_start = redis.used_memory()?;
        Ok(RedisRows {
            redis,
            one,
            pair,
            memory_start,
            one_rounds: vec![],
            pair_rounds: vec![],
        })
    }

    /// Checks that every tracker answers without failures.
    pub(super) fn check(&self, ctx: &Ctx, script: &Path, pool: &Path) -> anyhow::Result<()> {
        check(ctx, "bt-redis", self.one.addr, script, pool)?;
        for (i, t) in self.pair.iter().enumerate() {
            check(ctx, &format!("bt-redis-pair-{i}"), t.addr, script, pool)?;
        }
        Ok(())
    }

    /// One round of each row.
    pub(super) fn round(
        &mut self,
        ctx: &Ctx,
        script: &Path,
        pool: &Path,
        n: usize,
    ) -> anyhow::Result<()> {
        let out = wrk(
            ctx,
            "wrk-bt-redis",
            self.one.addr,
            script,
            pool,
            ROUND,
            false,
        )?;
        let r = parse_wrk(&out)?;
        println!(
            "bench tracker: HTTP round {n} {:<12} {:>9.0} req/s  p50 {:.2} ms  p99 {:.2} ms  errors {}",
            "bt on redis", r.rps, r.p50_ms, r.p99_ms, r.errors
        );
        if r.errors > 0 {
            bail!("bt tracker on Redis: wrk saw {} errors", r.errors);
        }
        self.one_rounds.push(Round {
            rps: r.rps,
            p50_ms: r.p50_ms,
            p90_ms: r.p90_ms,
            p99_ms: r.p99_ms,
        });

        // The same total load, half to each tracker, at the same moment.
        let mut running = Vec::new();
        for (i, t) in self.pair.iter().enumerate() {
            let spawn = wrk_spawn(
                ctx,
                &format!("wrk-bt-redis-pair-{i}"),
                t.addr,
                script,
                pool,
                ROUND,
                ("1", "25"),
                false,
            );
            running.push(spawn.start()?);
        }
        let mut sum = Round::default();
        for mut w in running {
            let status = w.wait_exit(ctx.deadline_in(ROUND + Duration::from_secs(60)))?;
            if !status.success() {
                bail!(
                    "wrk against a bt tracker of the pair failed ({status}){}",
                    w.stderr_tail()
                );
            }
            let r = parse_wrk(&String::from_utf8_lossy(&w.stdout()?))?;
            if r.errors > 0 {
                bail!("bt tracker pair on Redis: wrk saw {} errors", r.errors);
            }
            sum.rps += r.rps;
            sum.p50_ms = sum.p50_ms.max(r.p50_ms);
            sum.p90_ms = sum.p90_ms.max(r.p90_ms);
            sum.p99_ms = sum.p99_ms.max(r.p99_ms);
        }
        println!(
            "bench tracker: HTTP round {n} {:<12} {:>9.0} req/s  p50 {:.2} ms  p99 {:.2} ms (worse of the two)",
            "2 bt on redis", sum.rps, sum.p50_ms, sum.p99_ms
        );
        self.pair_rounds.push(sum);
        Ok(())
    }

    /// The medians, and Redis's memory per 100,000 peers it holds (both databases).
    pub(super) fn finish(&self, ctx: &Ctx) -> anyhow::Result<RedisResult> {
        let deadline = ctx.deadline_in(Duration::from_secs(30));
        let peers = peers_bt(self.one.addr, deadline)? + peers_bt(self.pair[0].addr, deadline)?;
        let grown = self.redis.used_memory()?.saturating_sub(self.memory_start);
        Ok(RedisResult {
            one: median_round(&self.one_rounds),
            pair: median_round(&self.pair_rounds),
            peers,
            grown,
            per_100k_mib: grown as f64 / peers.max(1) as f64 * 100_000.0 / (1 << 20) as f64,
        })
    }
}
