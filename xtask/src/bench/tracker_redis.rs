//! The Redis rows of `cargo xtask bench tracker`: `bt tracker --store redis://` on one Redis
//! (Debian package redis-server), alone and as a pair with the wrk load split across the two
//! (each wrk process half the threads and connections and its own random seed, run at the same
//! moment; requests/s summed, the worse p99 kept), in the same alternating rounds, with the same
//! script and pool, as the opentracker row. The pair's trackers run `--threads` = cores / 2 each,
//! as the tracker-server README advises for several trackers on one machine. Memory: Redis's
//! `used_memory` growth per 100,000 peers held. CPU: each process's user + system time per
//! announce over a round (from `/proc/PID/stat`), and the machine's busy time per announce
//! (`/proc/stat`: everything else, wrk and any other load, is the difference).

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context as _};

use super::{check, median_round, parse_wrk, peers_bt, wrk, wrk_spawn, Round, ROUND};
use crate::interop::context::Ctx;
use crate::interop::net;
use crate::interop::process::Managed;
use crate::interop::redis::Redis;

/// One bt tracker on a Redis database.
struct OnRedis {
    _process: Managed,
    addr: SocketAddr,
    pid: u32,
}

fn start_bt(
    ctx: &Ctx,
    bt: &Path,
    name: &str,
    url: &str,
    threads: Option<usize>,
) -> anyhow::Result<OnRedis> {
    let port = net::free_port()?;
    let mut spawn = ctx
        .spawn(name, bt)
        .args(["tracker", "--bind", "127.0.0.1", "--port"])
        .arg(port.to_string())
        .args(["--store", url, "--udp-secret", "bench"]);
    if let Some(n) = threads {
        spawn = spawn.args(["--threads", &n.to_string()]);
    }
    let mut process = spawn.start()?;
    let addr = net::loopback(port);
    process.wait_for_tcp(addr, ctx.deadline())?;
    let pid = process.program_pid(ctx.deadline())?;
    Ok(OnRedis {
        _process: process,
        addr,
        pid,
    })
}

/// User + system CPU time of process `pid` so far, in clock ticks (1/100 s).
fn cpu_ticks(pid: u32) -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    // After the command name in parentheses: state (field 3), ... utime (14), stime (15).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| -> anyhow::Result<u64> {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .with_context(|| format!("/proc/{pid}/stat field {}", i + 3))
    };
    Ok(tick(11)? + tick(12)?)
}

/// The machine's busy CPU time so far (all cores, everything but idle and iowait), in ticks.
fn machine_ticks() -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string("/proc/stat").context("reading /proc/stat")?;
    let line = stat.lines().next().unwrap_or("");
    let n: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    if n.len() < 5 {
        bail!("/proc/stat: no cpu line in {line:?}");
    }
    // user nice system idle iowait irq softirq steal ...; guest time is inside user already.
    Ok(n.iter().take(8).sum::<u64>() - n[3] - n[4])
}

/// The 1-minute load average, as `uptime` shows it.
pub(super) fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

/// CPU time of some processes and of the machine, at one moment.
struct Cpu(Vec<u64>, u64);

impl Cpu {
    fn now(pids: &[u32]) -> anyhow::Result<Cpu> {
        let each = pids
            .iter()
            .map(|&p| cpu_ticks(p))
            .collect::<anyhow::Result<_>>()?;
        Ok(Cpu(each, machine_ticks()?))
    }

    /// Microseconds of CPU per announce since `before`: each process's, then the machine's
    /// minus theirs (wrk and anything else running).
    fn per_announce(&self, before: &Cpu, announces: f64) -> Vec<f64> {
        let us = |ticks: u64| ticks as f64 * 10_000.0 / announces.max(1.0);
        let mut out: Vec<f64> = self
            .0
            .iter()
            .zip(&before.0)
            .map(|(a, b)| us(a.saturating_sub(*b)))
            .collect();
        let theirs: u64 = self.0.iter().zip(&before.0).map(|(a, b)| a - b).sum();
        out.push(us(self.1.saturating_sub(before.1).saturating_sub(theirs)));
        out
    }
}

fn show(names: &[&str], us: &[f64]) -> String {
    names
        .iter()
        .zip(us)
        .map(|(n, v)| format!("{n} {v:.1}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The trackers on Redis and their rounds.
pub(super) struct RedisRows {
    redis: Redis,
    redis_pid: u32,
    one: OnRedis,
    pair: [OnRedis; 2],
    memory_start: u64,
    pub(super) one_rounds: Vec<Round>,
    pub(super) pair_rounds: Vec<Round>,
    /// CPU us per announce per round: redis, bt, the rest (one); redis, bt a, bt b, the rest (pair).
    one_cpu: Vec<Vec<f64>>,
    pair_cpu: Vec<Vec<f64>>,
}

/// The medians and the memory, for the report.
pub(super) struct RedisResult {
    pub(super) one: Round,
    pub(super) pair: Round,
    pub(super) peers: u64,
    pub(super) grown: u64,
    pub(super) per_100k_mib: f64,
    /// CPU us per announce, the median of each process over the rounds, described.
    pub(super) one_cpu: String,
    pub(super) pair_cpu: String,
}

const ONE_NAMES: [&str; 3] = ["redis-server", "bt", "the rest (wrk, other load)"];
const PAIR_NAMES: [&str; 4] = ["redis-server", "bt a", "bt b", "the rest (wrk, other load)"];

fn median_cpu(rounds: &[Vec<f64>], names: &[&str]) -> String {
    let medians: Vec<f64> = (0..names.len())
        .map(|i| super::median(&mut rounds.iter().map(|r| r[i]).collect::<Vec<_>>()))
        .collect();
    show(names, &medians)
}

impl RedisRows {
    /// Starts redis-server and three bt trackers: one on database 0, a pair on database 1.
    pub(super) fn start(ctx: &Ctx, bt: &Path) -> anyhow::Result<RedisRows> {
        let mut redis = Redis::start(ctx, "redis")?;
        let redis_pid = redis.pid(ctx.deadline())?;
        let one = start_bt(ctx, bt, "bt-redis", &redis.url(0), None)?;
        // Two processes on the machine's cores: half the cores each, so that they do not
        // preempt each other's workers (the tracker-server README's advice).
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let half = Some((cores / 2).max(1));
        let pair = [
            start_bt(ctx, bt, "bt-redis-a", &redis.url(1), half)?,
            start_bt(ctx, bt, "bt-redis-b", &redis.url(1), half)?,
        ];
        let memory_start = redis.used_memory()?;
        Ok(RedisRows {
            redis,
            redis_pid,
            one_cpu: vec![],
            pair_cpu: vec![],
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
        let before = Cpu::now(&[self.redis_pid, self.one.pid])?;
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
        let cpu = Cpu::now(&[self.redis_pid, self.one.pid])?
            .per_announce(&before, r.rps * ROUND.as_secs_f64());
        println!(
            "bench tracker: CPU us per announce, round {n}, bt on redis: {} (load {})",
            show(&ONE_NAMES, &cpu),
            load()
        );
        self.one_cpu.push(cpu);
        self.one_rounds.push(Round {
            rps: r.rps,
            p50_ms: r.p50_ms,
            p90_ms: r.p90_ms,
            p99_ms: r.p99_ms,
        });

        // The same total load, half to each tracker, at the same moment.
        let pids = [self.redis_pid, self.pair[0].pid, self.pair[1].pid];
        let before = Cpu::now(&pids)?;
        let mut running = Vec::new();
        for (i, t) in self.pair.iter().enumerate() {
            // Each wrk its own seed: started in the same second with one thread each, they
            // would otherwise send the same announces (the script seeds from the time).
            let spawn = wrk_spawn(
                ctx,
                &format!("wrk-bt-redis-pair-{i}"),
                t.addr,
                script,
                pool,
                ROUND,
                ("1", "25"),
                false,
            )
            .env("WRK_SALT", (i + 1).to_string());
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
        let cpu = Cpu::now(&pids)?.per_announce(&before, sum.rps * ROUND.as_secs_f64());
        println!(
            "bench tracker: CPU us per announce, round {n}, 2 bt on redis: {} (load {})",
            show(&PAIR_NAMES, &cpu),
            load()
        );
        self.pair_cpu.push(cpu);
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
            one_cpu: median_cpu(&self.one_cpu, &ONE_NAMES),
            pair_cpu: median_cpu(&self.pair_cpu, &PAIR_NAMES),
        })
    }
}
