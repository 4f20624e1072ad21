//! `cargo xtask bench tracker`: `bt tracker` against opentracker (Debian package) in the same run.
//!
//! HTTP: wrk with a Lua script (written into the scratch directory) sending random announces over
//! a pool of 10,000 info-hashes (compact=1, numwant=50, a fresh random peer id each time), the same
//! threads and connections for both trackers, in alternating rounds; the median round counts.
//! UDP: the load generator in [`super::udp_load`], same rounds. Memory: resident set growth per
//! 100,000 peers held. Targets: HTTP requests/s at least 1.5x opentracker's with a lower p99; UDP
//! rate at least opentracker's.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

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
const HTTP_TARGET: f64 = 1.5;
const UDP_TARGET: f64 = 1.0;

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
  math.randomseed(os.time() * 1000 + (tid or 0) * 7919)
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

fn wrk(
    ctx: &Ctx,
    name: &str,
    addr: SocketAddr,
    script: &Path,
    pool: &Path,
    duration: Duration,
    check: bool,
) -> anyhow::Result<String> {
    let mut spawn = ctx
        .spawn(name, "wrk")
        .args(["-t", WRK_THREADS, "-c", WRK_CONNECTIONS])
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

struct Subject {
    name: &'static str,
    addr: SocketAddr,
    pid: u32,
    rss_start: u64,
    http: Vec<Round>,
    udp: Vec<Round>,
    udp_errors: u64,
    udp_first_error: Option<String>,
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

pub(super) fn run(root: &Path, _passthrough: &[String]) -> anyhow::Result<Outcome> {
    packages::require(&[("wrk", "wrk"), ("opentracker", "opentracker")])?;
    let bt = bt::path()?;
    let dir = root.join("target").join("bench").join("tracker");
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("wiping {}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir)?;
    let groups = Arc::new(Groups::default());
    let ctx = Ctx::new(
        "tracker",
        dir.clone(),
        Instant::now() + Duration::from_secs(15 * 60),
        groups.clone(),
    );

    // The pool of info-hashes, deterministic.
    let mut state = 0x243f_6a88_85a3_08d3u64;
    let pool: Vec<[u8; 20]> = (0..TORRENTS)
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
        .collect();
    let pool_file = dir.join("pool.txt");
    std::fs::write(
        &pool_file,
        pool.iter()
            .map(|h| hex::encode(h) + "\n")
            .collect::<String>(),
    )?;
    let script = dir.join("announce.lua");
    std::fs::write(&script, LUA)?;

    println!("bench tracker: starting opentracker and bt tracker");
    let mut ot = Opentracker::start(&ctx, &pool)?;
    let port = net::free_port()?;
    let mut bt_proc: Managed = ctx
        .spawn("bt-tracker", bt)
        .args(["tracker", "--bind", "127.0.0.1", "--port"])
        .arg(port.to_string())
        .start()?;
    let bt_addr = net::loopback(port);
    bt_proc.wait_for_tcp(bt_addr, ctx.deadline())?;
    // The access log goes to a file, as an operator's would.

    let mut subjects = [
        Subject {
            name: "opentracker",
            addr: ot.addr(),
            pid: 0,
            rss_start: 0,
            http: vec![],
            udp: vec![],
            udp_errors: 0,
            udp_first_error: None,
        },
        Subject {
            name: "bt tracker",
            addr: bt_addr,
            pid: bt_proc.pid(),
            rss_start: 0,
            http: vec![],
            udp: vec![],
            udp_errors: 0,
            udp_first_error: None,
        },
    ];
    subjects[0].pid = ot.process().pid();
    for s in &mut subjects {
        s.rss_start = rss(s.pid)?;
        check(&ctx, &s.name.replace(' ', "-"), s.addr, &script, &pool_file)?;
    }

    for round in 0..ROUNDS {
        for s in &mut subjects {
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
            s.http.push(Round {
                rps: r.rps,
                p50_ms: r.p50_ms,
                p90_ms: r.p90_ms,
                p99_ms: r.p99_ms,
            });
        }
    }

    let load = UdpLoad {
        threads: 2,
        window: 64,
        duration: UDP_ROUND,
        pool: Arc::new(pool.clone()),
        numwant: 50,
    };
    for round in 0..UDP_ROUNDS {
        for s in &mut subjects {
            let r = udp_load::run(s.addr, &load)?;
            let row = Round {
                rps: r.rate(),
                p50_ms: udp_load::percentile_ms(&r.latencies_us, 50.0),
                p90_ms: udp_load::percentile_ms(&r.latencies_us, 90.0),
                p99_ms: udp_load::percentile_ms(&r.latencies_us, 99.0),
            };
            println!(
                "bench tracker: UDP round {} {:<12} {:>9.0} announces/s  p50 {:.2} ms  p99 {:.2} ms  errors {} lost {}",
                round + 1, s.name, row.rps, row.p50_ms, row.p99_ms, r.errors, r.lost
            );
            s.udp_errors += r.errors;
            s.udp_first_error = s.udp_first_error.take().or(r.first_error);
            s.udp.push(row);
        }
    }

    let deadline = ctx.deadline_in(Duration::from_secs(10));
    let mut mem = Vec::new();
    for s in &subjects {
        let peers = if s.name == "opentracker" {
            peers_opentracker(s.addr, deadline)?
        } else {
            peers_bt(s.addr, deadline)?
        };
        let grown = rss(s.pid)?.saturating_sub(s.rss_start);
        mem.push((
            peers,
            grown,
            grown as f64 / peers.max(1) as f64 * 100_000.0 / (1 << 20) as f64,
        ));
    }

    let (ot_h, bt_h) = (
        median_round(&subjects[0].http),
        median_round(&subjects[1].http),
    );
    let (ot_u, bt_u) = (
        median_round(&subjects[0].udp),
        median_round(&subjects[1].udp),
    );
    let http_ratio = bt_h.rps / ot_h.rps;
    let udp_ratio = bt_u.rps / ot_u.rps;
    let http_pass = http_ratio >= HTTP_TARGET && bt_h.p99_ms < ot_h.p99_ms;
    let udp_pass = udp_ratio >= UDP_TARGET && subjects[1].udp_errors == 0;

    let mut md = String::new();
    let _ = writeln!(md, "## tracker: `bt tracker` vs opentracker\n");
    let _ = writeln!(
        md,
        "Random announces over {TORRENTS} info-hashes, compact=1, numwant=50, a new peer id each. HTTP: wrk \
         -t{WRK_THREADS} -c{WRK_CONNECTIONS}, {ROUNDS} alternating rounds of {} s, median shown; UDP: {} threads x {} \
         in flight, {UDP_ROUNDS} rounds of {} s. Both trackers on 127.0.0.1, sharing the machine's cores with the load \
         generator; `bt tracker` logs every request (Common Log Format) to a file.\n",
        ROUND.as_secs(), load.threads, load.window, UDP_ROUND.as_secs()
    );
    let _ = writeln!(
        md,
        "| protocol | tracker | requests/s | p50 ms | p90 ms | p99 ms |"
    );
    let _ = writeln!(md, "|---|---|---:|---:|---:|---:|");
    for (proto, rows) in [("HTTP", [&ot_h, &bt_h]), ("UDP", [&ot_u, &bt_u])] {
        for (s, r) in subjects.iter().zip(rows) {
            let _ = writeln!(
                md,
                "| {proto} | {} | {:.0} | {:.2} | {:.2} | {:.2} |",
                s.name, r.rps, r.p50_ms, r.p90_ms, r.p99_ms
            );
        }
    }
    let _ = writeln!(
        md,
        "\n| memory | peers held | RSS growth | per 100,000 peers |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|");
    for (s, (peers, grown, per)) in subjects.iter().zip(&mem) {
        let _ = writeln!(
            md,
            "| {} | {peers} | {:.1} MiB | {per:.1} MiB |",
            s.name,
            *grown as f64 / (1 << 20) as f64
        );
    }
    let _ = writeln!(
        md,
        "\n- HTTP: bt/opentracker requests/s = **{http_ratio:.2}x** (target {HTTP_TARGET}x), p99 {:.2} ms vs {:.2} ms: **{}**",
        bt_h.p99_ms, ot_h.p99_ms, if http_pass { "PASS" } else { "FAIL" }
    );
    let _ = writeln!(
        md,
        "- UDP: bt/opentracker announces/s = **{udp_ratio:.2}x** (target {UDP_TARGET}x): **{}**",
        if udp_pass { "PASS" } else { "FAIL" }
    );
    if let Some(e) = &subjects[1].udp_first_error {
        let _ = writeln!(
            md,
            "- bt tracker UDP errors: {} (first: {e})",
            subjects[1].udp_errors
        );
    }
    if let Some(e) = &subjects[0].udp_first_error {
        let _ = writeln!(
            md,
            "- opentracker UDP errors: {} (first: {e})",
            subjects[0].udp_errors
        );
    }
    let mut failures = Vec::new();
    if !http_pass {
        failures.push(format!(
            "HTTP {http_ratio:.2}x (target {HTTP_TARGET}x), p99 {:.2} vs {:.2} ms",
            bt_h.p99_ms, ot_h.p99_ms
        ));
    }
    if !udp_pass {
        failures.push(format!("UDP {udp_ratio:.2}x (target {UDP_TARGET}x)"));
    }
    drop(bt_proc);
    drop(ot);
    groups.kill_all();
    Ok(Outcome {
        markdown: md,
        failures,
    })
}
