//! `cargo xtask bench tracker`: `bt tracker` against aquatic_udp and aquatic_http 0.9 (see
//! [`super::aquatic`]) and opentracker (Debian package) in the same run.
//!
//! Also `bt tracker --store redis://` alone and as a pair on one Redis ([`on_redis`]), in the same
//! HTTP rounds: targets 0.7x and 1.0x opentracker's requests/s. `cargo xtask bench tracker --
//! --redis-only` runs just those rows and opentracker's HTTP row.
//!
//! HTTP: wrk with a Lua script (written into the scratch directory) sending random announces over
//! a pool of 10,000 info-hashes (compact=1, numwant=50, a fresh random peer id each time), the same
//! threads and connections for both trackers, in alternating rounds; the median round counts.
//! UDP: the load generator in [`super::udp_load`], same rounds. Memory: resident set growth per
//! 100,000 peers held, over the large UDP pool (1,000,000 torrents, 2,000,000 peers with distinct
//! ids, as aquatic's own load test). Targets: UDP announces/s on the large pool at least 1.2x
//! aquatic_udp's with a lower p99; HTTP requests/s at least 2x aquatic_http's and 1.5x
//! opentracker's with a lower p99 than opentracker; memory per 100,000 peers no more than
//! aquatic_udp's.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

use super::aquatic;
#[path = "tracker_redis.rs"]
mod on_redis;
use super::udp_load::{self, UdpLoad};
use super::Outcome;
use crate::interop::context::Ctx;
use crate::interop::opentracker::Opentracker;
use crate::interop::process::{Groups, Managed};
use crate::interop::{bt, hex, http, net, packages};

const TORRENTS: usize = 10_000;
const WRK_THREADS: &str = "2";
const WRK_CONNECTIONS: &str = "50";
const ROUND: Duration = Duration::from_secs(10);
const ROUNDS: usize = 5;
const UDP_ROUND: Duration = Duration::from_secs(8);
const UDP_ROUNDS: usize = 3;
/// bt over opentracker, HTTP requests/s.
const HTTP_TARGET: f64 = 1.5;
/// One bt tracker on Redis over opentracker, HTTP requests/s.
const REDIS_ONE_TARGET: f64 = 0.7;
/// Two bt trackers on one Redis (wrk split across them) over opentracker, HTTP requests/s.
const REDIS_PAIR_TARGET: f64 = 1.0;
/// bt over aquatic_http, HTTP requests/s.
const HTTP_VS_AQUATIC: f64 = 2.0;
/// bt over aquatic_udp, UDP announces/s on the large pool.
const UDP_VS_AQUATIC: f64 = 1.2;
/// aquatic's load-test pool: torrents and peers.
const LARGE_TORRENTS: usize = 1_000_000;
const LARGE_PEERS: usize = 2_000_000;
/// Peers asked for per announce (and the most aquatic gives).
const NUMWANT: usize = 50;

const LUA: &str = r#"-- Random announces over a pool of info-hashes (written by cargo xtask bench tracker).
-- usage: wrk ... -s announce.lua URL -- POOLFILE [check]
local pool = {}
local counter = 0
local threads = {}
local hex = {}
for i = 0, 255 do hex[i] = string.format("%%%02X", i) end

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  table.insert(threads, thread)
end

function init(args)
  -- WRK_SALT tells apart wrk processes started in the same second with the same thread ids.
  local salt = tonumber(os.getenv("WRK_SALT") or "0") or 0
  math.randomseed(os.time() * 1000 + (tid or 0) * 7919 + salt * 104729)
  for line in io.lines(args[1]) do
    pool[#pool + 1] = (line:gsub("(%x%x)", "%%%1"))
  end
  fails, oks = 0, 0
  if args[2] == "check" then
    response = function(status, headers, body)
      if status ~= 200 or body:find("failure reason", 1, true) then fails = fails + 1 else oks = oks + 1 end
    end
  end
end

local function random_id()
  local t = {}
  for i = 1, 20 do t[i] = hex[math.random(0, 255)] end
  return table.concat(t)
end

function request()
  return wrk.format("GET", "/announce?info_hash=" .. pool[math.random(1, #pool)] ..
    "&peer_id=" .. random_id() .. "&port=" .. math.random(1025, 65535) ..
    "&uploaded=0&downloaded=0&left=" .. math.random(1, 1000000) ..
    "&compact=1&numwant=50&event=started")
end

function done(summary, latency, requests)
  local f, o = 0, 0
  for _, t in ipairs(threads) do f = f + (t:get("fails") or 0); o = o + (t:get("oks") or 0) end
  io.write(string.format("check: ok=%d failure=%d\n", o, f))
end
"#;

/// One wrk run's numbers.
#[derive(Clone, Debug, Default)]
struct HttpRound {
    rps: f64,
    p50_ms: f64,
    p90_ms: f64,
    p99_ms: f64,
    errors: u64,
}

/// One load round's numbers, HTTP or UDP.
#[derive(Clone, Debug, Default)]
struct Round {
    rps: f64,
    p50_ms: f64,
    p90_ms: f64,
    p99_ms: f64,
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    if values.is_empty() {
        f64::NAN
    } else {
        values[values.len() / 2]
    }
}

fn median_round(rounds: &[Round]) -> Round {
    let pick = |f: fn(&Round) -> f64| median(&mut rounds.iter().map(f).collect::<Vec<_>>());
    Round {
        rps: pick(|r| r.rps),
        p50_ms: pick(|r| r.p50_ms),
        p90_ms: pick(|r| r.p90_ms),
        p99_ms: pick(|r| r.p99_ms),
    }
}

/// `531.00us`, `2.22ms`, `1.05s` in milliseconds.
fn parse_ms(text: &str) -> Option<f64> {
    let (num, factor) = if let Some(n) = text.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000.0)
    } else {
        return None;
    };
    num.parse::<f64>().ok().map(|v| v * factor)
}

fn parse_wrk(out: &str) -> anyhow::Result<HttpRound> {
    let mut r = HttpRound::default();
    for line in out.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", n] => r.rps = n.parse().context("wrk Requests/sec")?,
            ["50%", t] => r.p50_ms = parse_ms(t).context("wrk 50%")?,
            ["90%", t] => r.p90_ms = parse_ms(t).context("wrk 90%")?,
            ["99%", t] => r.p99_ms = parse_ms(t).context("wrk 99%")?,
            ["Non-2xx", "or", "3xx", "responses:", n] => r.errors += n.parse::<u64>().unwrap_or(0),
            // `read` errors count connections the server closed after replying, which opentracker
            // does after every reply (no keep-alive); the others are real failures.
            ["Socket", "errors:", "connect", c, "read", _, "write", w, "timeout", t] => {
                r.errors += [c, w, t]
                    .iter()
                    .filter_map(|n| n.trim_end_matches(',').parse::<u64>().ok())
                    .sum::<u64>()
            }
            _ => {}
        }
    }
    if r.rps == 0.0 {
        bail!("wrk printed no Requests/sec:\n{out}");
    }
    Ok(r)
}

/// A wrk command with the bench's script and pool, `threads` and `connections` (the bench's
/// settings, or a share of them when the load is split over several trackers).
#[allow(clippy::too_many_arguments)]
fn wrk_spawn(
    ctx: &Ctx,
    name: &str,
    addr: SocketAddr,
    script: &Path,
    pool: &Path,
    duration: Duration,
    (threads, connections): (&str, &str),
    check: bool,
) -> crate::interop::process::Spawn {
    let mut spawn = ctx
        .spawn(name, "wrk")
        .args(["-t", threads, "-c", connections])
        .arg(format!("-d{}s", duration.as_secs()))
        .arg("--latency")
        .arg("-s")
        .arg(script)
        .arg(format!("http://{addr}"))
        .arg("--")
        .arg(pool);
    if check {
        spawn = spawn.arg("check");
    }
    spawn
}

fn wrk(
    ctx: &Ctx,
    name: &str,
    addr: SocketAddr,
    script: &Path,
    pool: &Path,
    duration: Duration,
    check: bool,
) -> anyhow::Result<String> {
    let spawn = wrk_spawn(
        ctx,
        name,
        addr,
        script,
        pool,
        duration,
        (WRK_THREADS, WRK_CONNECTIONS),
        check,
    );
    let out = spawn.run(ctx.deadline_in(duration + Duration::from_secs(60)))?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Checks with a short run that every reply is a success: a bench of failure replies would
/// measure nothing.
fn check(ctx: &Ctx, who: &str, addr: SocketAddr, script: &Path, pool: &Path) -> anyhow::Result<()> {
    let out = wrk(
        ctx,
        &format!("wrk-check-{who}"),
        addr,
        script,
        pool,
        Duration::from_secs(2),
        true,
    )?;
    let line = out.lines().find(|l| l.starts_with("check:")).unwrap_or("");
    let failures: u64 = line
        .split("failure=")
        .nth(1)
        .and_then(|n| n.trim().parse().ok())
        .with_context(|| format!("no check line in wrk output for {who}:\n{out}"))?;
    if failures > 0 {
        bail!("{who} answered {failures} announces with a failure during the check run ({line})");
    }
    Ok(())
}

/// Resident memory of the process under `pid` (the program started by `timeout`), in bytes.
fn rss(pid: u32) -> anyhow::Result<u64> {
    let children =
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    let target = children
        .split_whitespace()
        .next()
        .and_then(|c| c.parse::<u32>().ok())
        .unwrap_or(pid);
    let status = std::fs::read_to_string(format!("/proc/{target}/status"))
        .with_context(|| format!("reading /proc/{target}/status"))?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .context("no VmRSS")?;
    Ok(kb * 1024)
}

/// One tracker under test, on one protocol.
struct Subject {
    name: &'static str,
    addr: SocketAddr,
    pid: u32,
    rss_start: u64,
    rounds: Vec<Round>,
    errors: u64,
    first_error: Option<String>,
    /// Peers seen by the load generator over the large pool (a bit per pool peer).
    seen: Vec<u64>,
}

impl Subject {
    fn new(name: &'static str, addr: SocketAddr, pid: u32) -> anyhow::Result<Subject> {
        Ok(Subject {
            name,
            addr,
            pid,
            rss_start: rss(pid)?,
            rounds: vec![],
            errors: 0,
            first_error: None,
            seen: vec![],
        })
    }
}

/// `n` deterministic info-hashes from `seed` (xorshift).
fn hashes(n: usize, seed: u64) -> Vec<[u8; 20]> {
    let mut state = seed;
    (0..n)
        .map(|_| {
            let mut h = [0u8; 20];
            for b in &mut h {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                *b = state as u8;
            }
            h
        })
        .collect()
}

/// Runs `rounds` alternating UDP rounds of `load` against every subject.
fn udp_rounds(subjects: &mut [Subject], load: &UdpLoad, label: &str) -> anyhow::Result<()> {
    for round in 0..UDP_ROUNDS {
        for s in subjects.iter_mut() {
            let r = udp_load::run(s.addr, load)?;
            let row = Round {
                rps: r.rate(),
                p50_ms: udp_load::percentile_ms(&r.latencies_us, 50.0),
                p90_ms: udp_load::percentile_ms(&r.latencies_us, 90.0),
                p99_ms: udp_load::percentile_ms(&r.latencies_us, 99.0),
            };
            println!(
                "bench tracker: UDP {label} round {} {:<12} {:>9.0} announces/s  p50 {:.2} ms  p99 {:.2} ms  errors {} lost {}",
                round + 1, s.name, row.rps, row.p50_ms, row.p99_ms, r.errors, r.lost
            );
            s.errors += r.errors;
            s.first_error = s.first_error.take().or(r.first_error);
            s.rounds.push(row);
            if s.seen.is_empty() {
                s.seen = r.seen;
            } else {
                for (a, b) in s.seen.iter_mut().zip(&r.seen) {
                    *a |= b;
                }
            }
        }
    }
    Ok(())
}

fn peers_bt(addr: SocketAddr, deadline: Instant) -> anyhow::Result<u64> {
    let reply = http::get(addr, "/stats.json", deadline)?;
    let json: serde_json::Value = serde_json::from_slice(&reply.body).context("bt /stats.json")?;
    Ok(json["seeders"].as_u64().unwrap_or(0) + json["leechers"].as_u64().unwrap_or(0))
}

fn peers_opentracker(addr: SocketAddr, deadline: Instant) -> anyhow::Result<u64> {
    // Its plain /stats starts with the peer count, then the seed count.
    let reply = http::get(addr, "/stats", deadline)?;
    String::from_utf8_lossy(&reply.body)
        .lines()
        .next()
        .and_then(|l| l.trim().parse().ok())
        .context("opentracker /stats: no peer count")
}

/// The Redis rows' report lines (verdicts, CPU per announce) and their failures.
fn redis_report(
    md: &mut String,
    failures: &mut Vec<String>,
    redis: &on_redis::RedisResult,
    ot: &Round,
) {
    let one_vs_ot = redis.one.rps / ot.rps;
    let pair_vs_ot = redis.pair.rps / ot.rps;
    let one_pass = one_vs_ot >= REDIS_ONE_TARGET;
    let pair_pass = pair_vs_ot >= REDIS_PAIR_TARGET;
    let verdict = |p: bool| if p { "PASS" } else { "FAIL" };
    let _ = writeln!(
        md,
        "- HTTP, Redis store: one bt tracker / opentracker = **{one_vs_ot:.2}x** (target {REDIS_ONE_TARGET}x), p99 {:.2} ms: **{}**; \
         two bt trackers on one Redis / opentracker = **{pair_vs_ot:.2}x** (target {REDIS_PAIR_TARGET}x), p99 {:.2} ms: **{}**",
        redis.one.p99_ms,
        verdict(one_pass),
        redis.pair.p99_ms,
        verdict(pair_pass)
    );
    let _ = writeln!(
        md,
        "- CPU us per announce (median round): one bt tracker on Redis: {}; two on one Redis: {}",
        redis.one_cpu, redis.pair_cpu
    );
    if !one_pass {
        failures.push(format!(
            "HTTP, one bt tracker on Redis: {one_vs_ot:.2}x opentracker (target {REDIS_ONE_TARGET}x)"
        ));
    }
    if !pair_pass {
        failures.push(format!(
            "HTTP, two bt trackers on one Redis: {pair_vs_ot:.2}x opentracker (target {REDIS_PAIR_TARGET}x)"
        ));
    }
}

/// `cargo xtask bench tracker -- --redis-only`: opentracker's HTTP row and the Redis rows alone,
/// in the same alternating rounds as the full run: a quicker look at the Redis store.
fn run_redis_only(
    ctx: &Ctx,
    bt: &Path,
    script: &Path,
    pool_file: &Path,
    pool: &[[u8; 20]],
) -> anyhow::Result<Outcome> {
    let ot = Opentracker::start(ctx, pool)?;
    check(ctx, "opentracker", ot.addr(), script, pool_file)?;
    let mut on_redis = on_redis::RedisRows::start(ctx, bt)?;
    on_redis.check(ctx, script, pool_file)?;
    let load_start = on_redis::load();
    let mut rounds = Vec::new();
    for round in 0..ROUNDS {
        let out = wrk(
            ctx,
            "wrk-opentracker",
            ot.addr(),
            script,
            pool_file,
            ROUND,
            false,
        )?;
        let r = parse_wrk(&out)?;
        println!(
            "bench tracker: HTTP round {} {:<12} {:>9.0} req/s  p50 {:.2} ms  p99 {:.2} ms  errors {}",
            round + 1, "opentracker", r.rps, r.p50_ms, r.p99_ms, r.errors
        );
        if r.errors > 0 {
            bail!("opentracker: wrk saw {} errors", r.errors);
        }
        rounds.push(Round {
            rps: r.rps,
            p50_ms: r.p50_ms,
            p90_ms: r.p90_ms,
            p99_ms: r.p99_ms,
        });
        on_redis.round(ctx, script, pool_file, round + 1)?;
    }
    let ot_row = median_round(&rounds);
    let redis = on_redis.finish(ctx)?;
    let mut md = String::new();
    let _ = writeln!(
        md,
        "## tracker (Redis rows only): `bt tracker --store redis://` vs opentracker\n\n\
         HTTP: wrk -t{WRK_THREADS} -c{WRK_CONNECTIONS} as in the full run, {ROUNDS} alternating rounds of {} s, \
         median shown; load average {load_start} at the start, {} at the end.\n\n\
         | tracker | requests/s | p50 ms | p90 ms | p99 ms |\n|---|---:|---:|---:|---:|",
        ROUND.as_secs(),
        on_redis::load()
    );
    for (name, r) in [
        ("opentracker", &ot_row),
        ("bt tracker, Redis store", &redis.one),
        (
            "2 bt trackers, one Redis (wrk split; worse p99)",
            &redis.pair,
        ),
    ] {
        let _ = writeln!(
            md,
            "| {name} | {:.0} | {:.2} | {:.2} | {:.2} |",
            r.rps, r.p50_ms, r.p90_ms, r.p99_ms
        );
    }
    let _ = writeln!(
        md,
        "\nRedis `used_memory`: {:.1} MiB for {} peers, {:.1} MiB per 100,000 peers.\n",
        redis.grown as f64 / (1 << 20) as f64,
        redis.peers,
        redis.per_100k_mib
    );
    let mut failures = Vec::new();
    redis_report(&mut md, &mut failures, &redis, &ot_row);
    let _ = writeln!(
        md,
        "- Pair rounds (req/s): {}",
        on_redis
            .pair_rounds
            .iter()
            .map(|r| format!("{:.0}", r.rps))
            .collect::<Vec<_>>()
            .join(", ")
    );
    drop(on_redis);
    drop(ot);
    Ok(Outcome {
        markdown: md,
        failures,
    })
}

pub(super) fn run(root: &Path, passthrough: &[String]) -> anyhow::Result<Outcome> {
    packages::require(&[("wrk", "wrk"), ("opentracker", "opentracker")])?;
    let redis_only = match passthrough {
        [] => false,
        [flag] if flag == "--redis-only" => true,
        other => bail!("unknown options {other:?} for the tracker bench; known: --redis-only"),
    };
    let bt = bt::path()?;
    let tools = root.join("target").join("bench").join("tools");
    if !redis_only {
        aquatic::binary(&tools, "aquatic_udp")?;
        aquatic::binary(&tools, "aquatic_http")?;
    }
    let dir = root.join("target").join("bench").join("tracker");
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("wiping {}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir)?;
    let groups = Arc::new(Groups::default());
    let ctx = Ctx::new(
        "tracker",
        dir.clone(),
        Instant::now() + Duration::from_secs(20 * 60),
        groups.clone(),
    );

    // The pools of info-hashes, deterministic.
    let pool = hashes(TORRENTS, 0x243f_6a88_85a3_08d3);
    let large = hashes(LARGE_TORRENTS, 0x1319_8a2e_0370_7344);
    let pool_file = dir.join("pool.txt");
    std::fs::write(
        &pool_file,
        pool.iter()
            .map(|h| hex::encode(h) + "\n")
            .collect::<String>(),
    )?;
    let script = dir.join("announce.lua");
    std::fs::write(&script, LUA)?;
    if redis_only {
        let outcome = run_redis_only(&ctx, bt, &script, &pool_file, &pool);
        groups.kill_all();
        return outcome;
    }
    let load_start = on_redis::load();

    println!("bench tracker: starting opentracker, aquatic_udp, aquatic_http and bt tracker");
    let whitelist: Vec<[u8; 20]> = pool.iter().chain(&large).copied().collect();
    let mut ot = Opentracker::start(&ctx, &whitelist)?;
    let aq_udp = aquatic::start_udp(&ctx, &tools, NUMWANT)?;
    let aq_http = aquatic::start_http(&ctx, &tools, NUMWANT)?;
    let port = net::free_port()?;
    let mut bt_proc: Managed = ctx
        .spawn("bt-tracker", bt)
        .args(["tracker", "--bind", "127.0.0.1", "--port"])
        .arg(port.to_string())
        .start()?;
    let bt_addr = net::loopback(port);
    bt_proc.wait_for_tcp(bt_addr, ctx.deadline())?;
    // The access log goes to a file, as an operator's would.

    let ot_pid = ot.process().pid();
    let mut udp = [
        Subject::new("opentracker", ot.addr(), ot_pid)?,
        Subject::new("aquatic_udp", aq_udp.addr, aq_udp.process.pid())?,
        Subject::new("bt tracker", bt_addr, bt_proc.pid())?,
    ];

    // UDP over the large pool first, so the memory each server grew by is for those peers alone.
    // Four sockets (as aquatic's load test uses), so that the kernel's spreading of flows over
    // SO_REUSEPORT sockets has more than two flows to spread.
    let large_load = UdpLoad {
        threads: 4,
        window: 32,
        duration: UDP_ROUND,
        pool: Arc::new(large),
        numwant: NUMWANT as i32,
        peers: LARGE_PEERS,
    };
    udp_rounds(&mut udp, &large_load, "large")?;
    let mut mem = Vec::new();
    for s in &udp {
        let peers: u64 = s.seen.iter().map(|w| u64::from(w.count_ones())).sum();
        let grown = rss(s.pid)?.saturating_sub(s.rss_start);
        mem.push((
            peers,
            grown,
            grown as f64 / peers.max(1) as f64 * 100_000.0 / (1 << 20) as f64,
        ));
    }
    let large_rows: Vec<Round> = udp.iter().map(|s| median_round(&s.rounds)).collect();
    let large_errors: Vec<(u64, Option<String>)> = udp
        .iter_mut()
        .map(|s| {
            s.rounds.clear();
            (std::mem::take(&mut s.errors), s.first_error.take())
        })
        .collect();

    let small_load = UdpLoad {
        pool: Arc::new(pool.clone()),
        peers: 0,
        ..large_load.clone()
    };
    udp_rounds(&mut udp, &small_load, "small")?;
    let small_rows: Vec<Round> = udp.iter().map(|s| median_round(&s.rounds)).collect();

    let mut http = [
        Subject::new("opentracker", ot.addr(), ot_pid)?,
        Subject::new("aquatic_http", aq_http.addr, aq_http.process.pid())?,
        Subject::new("bt tracker", bt_addr, bt_proc.pid())?,
    ];
    for s in &http {
        check(&ctx, &s.name.replace(' ', "-"), s.addr, &script, &pool_file)?;
    }
    let mut on_redis = on_redis::RedisRows::start(&ctx, bt)?;
    on_redis.check(&ctx, &script, &pool_file)?;
    // The in-memory store's growth over the same HTTP load, beside Redis's.
    let bt_rss_before_http = rss(bt_proc.pid())?;
    let bt_peers_before_http = peers_bt(bt_addr, ctx.deadline_in(Duration::from_secs(10)))?;
    for round in 0..ROUNDS {
        for s in &mut http {
            let out = wrk(
                &ctx,
                &format!("wrk-{}", s.name.replace(' ', "-")),
                s.addr,
                &script,
                &pool_file,
                ROUND,
                false,
            )?;
            let r = parse_wrk(&out)?;
            println!(
                "bench tracker: HTTP round {} {:<12} {:>9.0} req/s  p50 {:.2} ms  p99 {:.2} ms  errors {}",
                round + 1, s.name, r.rps, r.p50_ms, r.p99_ms, r.errors
            );
            if r.errors > 0 {
                bail!(
                    "{}: wrk saw {} errors (non-2xx replies or socket errors)",
                    s.name,
                    r.errors
                );
            }
            s.rounds.push(Round {
                rps: r.rps,
                p50_ms: r.p50_ms,
                p90_ms: r.p90_ms,
                p99_ms: r.p99_ms,
            });
        }
        on_redis.round(&ctx, &script, &pool_file, round + 1)?;
    }
    let http_rows: Vec<Round> = http.iter().map(|s| median_round(&s.rounds)).collect();
    let bt_peers_now = peers_bt(bt_addr, ctx.deadline_in(Duration::from_secs(10)))?;
    let ot_peers_now = peers_opentracker(ot.addr(), ctx.deadline_in(Duration::from_secs(10)))?;
    let bt_http_peers = bt_peers_now.saturating_sub(bt_peers_before_http);
    let bt_http_grown = rss(bt_proc.pid())?.saturating_sub(bt_rss_before_http);
    let bt_http_per_100k =
        bt_http_grown as f64 / bt_http_peers.max(1) as f64 * 100_000.0 / (1 << 20) as f64;
    let redis = on_redis.finish(&ctx)?;

    // Indices: 0 opentracker, 1 aquatic, 2 bt.
    let (ot_h, aq_h, bt_h) = (&http_rows[0], &http_rows[1], &http_rows[2]);
    let (aq_u, bt_u) = (&large_rows[1], &large_rows[2]);
    let http_vs_aq = bt_h.rps / aq_h.rps;
    let http_vs_ot = bt_h.rps / ot_h.rps;
    let udp_vs_aq = bt_u.rps / aq_u.rps;
    let udp_vs_ot_small = small_rows[2].rps / small_rows[0].rps;
    let http_pass =
        http_vs_aq >= HTTP_VS_AQUATIC && http_vs_ot >= HTTP_TARGET && bt_h.p99_ms < ot_h.p99_ms;
    let udp_pass = udp_vs_aq >= UDP_VS_AQUATIC
        && bt_u.p99_ms < aq_u.p99_ms
        && large_errors[2].0 == 0
        && udp[2].errors == 0;
    let mem_pass = mem[2].2 <= mem[1].2;

    let mut md = String::new();
    let _ = writeln!(
        md,
        "## tracker: `bt tracker` vs aquatic 0.9 and opentracker\n"
    );
    let _ = writeln!(
        md,
        "HTTP: wrk -t{WRK_THREADS} -c{WRK_CONNECTIONS}, random announces over {TORRENTS} info-hashes (compact=1, \
         numwant={NUMWANT}, a new peer id each), {ROUNDS} alternating rounds of {} s, median shown. UDP: our load \
         generator, {} threads x {} in flight, {UDP_ROUNDS} alternating rounds of {} s per pool: *large* = \
         {LARGE_PEERS} peers with distinct ids over {LARGE_TORRENTS} torrents announcing again and again (aquatic's \
         pool), *small* = a new peer id per announce over {TORRENTS} torrents. aquatic_udp and aquatic_http run one \
         socket worker (aquatic_http: and one swarm worker), built from crates.io 0.9.0. Every server on 127.0.0.1, \
         sharing the machine's cores with the load generator; `bt tracker` logs every request to a file.\n",
        ROUND.as_secs(), large_load.threads, large_load.window, UDP_ROUND.as_secs()
    );
    let _ = writeln!(
        md,
        "| protocol | pool | tracker | requests/s | p50 ms | p90 ms | p99 ms |"
    );
    let _ = writeln!(md, "|---|---|---|---:|---:|---:|---:|");
    let mut row = |proto: &str, pool: &str, name: &str, r: &Round| {
        let _ = writeln!(
            md,
            "| {proto} | {pool} | {name} | {:.0} | {:.2} | {:.2} | {:.2} |",
            r.rps, r.p50_ms, r.p90_ms, r.p99_ms
        );
    };
    for (s, r) in http.iter().zip(&http_rows) {
        row("HTTP", "10,000 torrents", s.name, r);
    }
    row(
        "HTTP",
        "10,000 torrents",
        "bt tracker, Redis store",
        &redis.one,
    );
    row(
        "HTTP",
        "10,000 torrents",
        "2 bt trackers, one Redis (wrk split; worse p99)",
        &redis.pair,
    );
    for (s, r) in udp.iter().zip(&large_rows) {
        row("UDP", "large", s.name, r);
    }
    for (s, r) in udp.iter().zip(&small_rows) {
        row("UDP", "small", s.name, r);
    }
    let _ = writeln!(
        md,
        "\n| memory (UDP, large pool) | peers announced | RSS growth | per 100,000 peers |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|");
    for (s, (peers, grown, per)) in udp.iter().zip(&mem) {
        let _ = writeln!(
            md,
            "| {} | {peers} | {:.1} MiB | {per:.1} MiB |",
            s.name,
            *grown as f64 / (1 << 20) as f64
        );
    }
    let _ = writeln!(
        md,
        "\n| memory (HTTP load above) | peers held | growth | per 100,000 peers |\n|---|---:|---:|---:|\n\
         | bt tracker, in-memory store (RSS) | {bt_http_peers} | {:.1} MiB | {bt_http_per_100k:.1} MiB |\n\
         | Redis behind the bt trackers (`used_memory`) | {} | {:.1} MiB | {:.1} MiB |",
        bt_http_grown as f64 / (1 << 20) as f64,
        redis.peers,
        redis.grown as f64 / (1 << 20) as f64,
        redis.per_100k_mib
    );
    let _ = writeln!(
        md,
        "\nAt the end bt tracker held {bt_peers_now} peers and opentracker {ot_peers_now} (all pools and protocols).\n"
    );
    let verdict = |p: bool| if p { "PASS" } else { "FAIL" };
    let _ = writeln!(
        md,
        "- UDP, large pool: bt/aquatic_udp announces/s = **{udp_vs_aq:.2}x** (target {UDP_VS_AQUATIC}x), p99 {:.2} ms vs {:.2} ms: **{}**",
        bt_u.p99_ms, aq_u.p99_ms, verdict(udp_pass)
    );
    let _ = writeln!(
        md,
        "- HTTP: bt/aquatic_http = **{http_vs_aq:.2}x** (target {HTTP_VS_AQUATIC}x), bt/opentracker = **{http_vs_ot:.2}x** (target {HTTP_TARGET}x), p99 {:.2} ms vs opentracker's {:.2} ms: **{}**",
        bt_h.p99_ms, ot_h.p99_ms, verdict(http_pass)
    );
    let _ = writeln!(
        md,
        "- Memory per 100,000 peers: bt {:.1} MiB, aquatic_udp {:.1} MiB: **{}**",
        mem[2].2,
        mem[1].2,
        verdict(mem_pass)
    );
    let _ = writeln!(
        md,
        "- UDP, small pool: bt/opentracker = {udp_vs_ot_small:.2}x, bt/aquatic_udp = {:.2}x",
        small_rows[2].rps / small_rows[1].rps
    );
    for (s, (n, e)) in udp.iter().zip(&large_errors) {
        let total = n + s.errors;
        if let Some(e) = e.as_ref().or(s.first_error.as_ref()) {
            let _ = writeln!(md, "- {} UDP errors: {total} (first: {e})", s.name);
        }
    }
    let mut failures = Vec::new();
    if !udp_pass {
        failures.push(format!(
            "UDP large pool {udp_vs_aq:.2}x aquatic_udp (target {UDP_VS_AQUATIC}x), p99 {:.2} vs {:.2} ms",
            bt_u.p99_ms, aq_u.p99_ms
        ));
    }
    if !http_pass {
        failures.push(format!(
            "HTTP {http_vs_aq:.2}x aquatic_http (target {HTTP_VS_AQUATIC}x), {http_vs_ot:.2}x opentracker (target {HTTP_TARGET}x), p99 {:.2} vs {:.2} ms",
            bt_h.p99_ms, ot_h.p99_ms
        ));
    }
    if !mem_pass {
        failures.push(format!(
            "memory {:.1} MiB per 100,000 peers vs aquatic_udp's {:.1}",
            mem[2].2, mem[1].2
        ));
    }
    redis_report(&mut md, &mut failures, &redis, &http_rows[0]);
    let _ = writeln!(
        md,
        "- Pair rounds (req/s): {}; load average {load_start} at the start, {} at the end",
        on_redis
            .pair_rounds
            .iter()
            .map(|r| format!("{:.0}", r.rps))
            .collect::<Vec<_>>()
            .join(", "),
        on_redis::load()
    );
    drop(on_redis);
    drop(bt_proc);
    drop(aq_udp);
    drop(aq_http);
    drop(ot);
    groups.kill_all();
    Ok(Outcome {
        markdown: md,
        failures,
    })
}
