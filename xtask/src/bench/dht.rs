//! `cargo xtask bench dht`: a flood of `get_peers` queries on loopback against `bt dht` and
//! libtorrent's DHT node (`lt_dht.py node --flood-ok`), in the same run. Each node is pinned to
//! core 0 (`taskset -c 0`); the flooder keeps a window of queries in flight from one socket,
//! each for a fresh random info-hash. Reported: answers per second, and each node's resident
//! memory before the flood and at its peak (VmHWM), which shows that memory stays bounded.
//! Both nodes have their per-address rate limit lifted (the flood comes from one address), and
//! libtorrent its DHT upload cap.

use std::fmt::Write as _;
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

use super::Outcome;
use crate::interop::context::Ctx;
use crate::interop::process::{Groups, Managed};
use crate::interop::python::LT_DHT;
use crate::interop::{bt, net, packages};

/// How long each node is flooded.
const FLOOD: Duration = Duration::from_secs(5);
/// Queries in flight.
const WINDOW: usize = 64;
/// A query unanswered this long is given up and another sent.
const RECV_TIMEOUT: Duration = Duration::from_millis(100);

/// One node's result.
struct Row {
    name: &'static str,
    answers: u64,
    lost: u64,
    elapsed: Duration,
    rss_before_kb: u64,
    peak_kb: u64,
}

pub(super) fn run(root: &Path, _passthrough: &[String]) -> anyhow::Result<Outcome> {
    packages::require(&[("taskset", "util-linux")])?;
    let bt = bt::path()?;
    let dir = root.join("target").join("bench").join("dht");
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("wiping {}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir)?;
    let ctx = Ctx::new(
        "dht",
        dir.clone(),
        Instant::now() + Duration::from_secs(5 * 60),
        Arc::new(Groups::default()),
    );

    let port = net::free_port()?;
    let mut bt_node = ctx
        .spawn("bt-dht", "taskset")
        .args(["-c", "0"])
        .arg(bt)
        .args([
            "dht",
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--no-state",
        ])
        .args([
            "--max-answers-per-ip",
            "4000000000",
            "--stats-interval",
            "3600",
        ])
        .start()?;
    bt_node.wait_for_line("on UDP", ctx.deadline())?;
    let ours = flood(&ctx, &mut bt_node, "bt dht", port)?;
    drop(bt_node);

    let lt_port = net::free_port()?;
    let script = LT_DHT.write(&ctx)?;
    let mut lt_node = ctx
        .spawn("lt-dht", "taskset")
        .args(["-c", "0", crate::interop::python::PYTHON, "-u"])
        .arg(script)
        .args([
            "node",
            "--port",
            &lt_port.to_string(),
            "--flood-ok",
            "--time",
            "120",
        ])
        .start()?;
    lt_node.wait_for_line("NODE port=", ctx.deadline())?;
    let theirs = flood(&ctx, &mut lt_node, "libtorrent", lt_port)?;
    drop(lt_node);

    let mut md = String::new();
    writeln!(
        md,
        "## dht: get_peers flood on loopback, node on one core\n"
    )?;
    writeln!(
        md,
        "| node | answers/s | answers | unanswered | RSS before | peak RSS |\n|---|---|---|---|---|---|"
    )?;
    for r in [&ours, &theirs] {
        writeln!(
            md,
            "| {} | {:.0} | {} | {} | {:.1} MiB | {:.1} MiB |",
            r.name,
            r.answers as f64 / r.elapsed.as_secs_f64(),
            r.answers,
            r.lost,
            r.rss_before_kb as f64 / 1024.0,
            r.peak_kb as f64 / 1024.0
        )?;
    }
    let ratio = (ours.answers as f64 / ours.elapsed.as_secs_f64())
        / (theirs.answers as f64 / theirs.elapsed.as_secs_f64()).max(1e-9);
    writeln!(
        md,
        "\nbt dht answers {ratio:.2}x libtorrent's rate. {WINDOW} queries in flight from one \
         socket, a fresh random info-hash each, {} s per node; the per-address rate limits \
         (bt 20/s, libtorrent `dht_block_ratelimit` 5/s) and libtorrent's \
         `dht_upload_rate_limit` (8 kB/s) are lifted for the run.",
        FLOOD.as_secs()
    )?;
    let mut failures = Vec::new();
    if ours.answers == 0 {
        failures.push("bt dht answered nothing".to_owned());
    }
    Ok(Outcome {
        markdown: md,
        failures,
    })
}

/// Floods the node at `port` with `get_peers` for [`FLOOD`]; the node's memory is read from
/// `/proc` before and after.
fn flood(ctx: &Ctx, node: &mut Managed, name: &'static str, port: u16) -> anyhow::Result<Row> {
    let pid = node.program_pid(ctx.deadline())?;
    let rss_before_kb = status_kb(pid, "VmRSS:")?;
    let socket = UdpSocket::bind("127.0.0.1:0")?;
    socket.set_read_timeout(Some(RECV_TIMEOUT))?;
    let to = SocketAddr::from(([127, 0, 0, 1], port));
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let id: [u8; 20] = std::array::from_fn(|i| (i as u8).wrapping_mul(37));
    let query = |t: u16, rand: &mut dyn FnMut() -> u64| {
        let mut q = b"d1:ad2:id20:".to_vec();
        q.extend_from_slice(&id);
        q.extend_from_slice(b"9:info_hash20:");
        for _ in 0..3 {
            q.extend_from_slice(&rand().to_le_bytes());
        }
        q.truncate(q.len() - 4);
        q.extend_from_slice(b"e1:q9:get_peers1:t2:");
        q.extend_from_slice(&t.to_be_bytes());
        q.extend_from_slice(b"1:y1:qe");
        q
    };
    let mut t = 0u16;
    for _ in 0..WINDOW {
        socket.send_to(&query(t, &mut next), to)?;
        t = t.wrapping_add(1);
    }
    let (mut answers, mut lost) = (0u64, 0u64);
    let mut buf = [0u8; 2048];
    let start = Instant::now();
    while start.elapsed() < FLOOD {
        match socket.recv_from(&mut buf) {
            Ok((len, _)) => {
                if buf[..len].windows(6).any(|w| w == b"1:y1:r") {
                    answers += 1;
                }
                socket.send_to(&query(t, &mut next), to)?;
                t = t.wrapping_add(1);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                // The whole window went unanswered: count it and refill it.
                lost += WINDOW as u64;
                for _ in 0..WINDOW {
                    socket.send_to(&query(t, &mut next), to)?;
                    t = t.wrapping_add(1);
                }
            }
            Err(e) => bail!("{name}: receiving: {e}"),
        }
    }
    let elapsed = start.elapsed();
    let peak_kb = status_kb(pid, "VmHWM:")?;
    println!(
        "bench dht: {name:<10} {:>8.0} answers/s, {lost} unanswered, RSS {:.1} -> peak {:.1} MiB",
        answers as f64 / elapsed.as_secs_f64(),
        rss_before_kb as f64 / 1024.0,
        peak_kb as f64 / 1024.0
    );
    Ok(Row {
        name,
        answers,
        lost,
        elapsed,
        rss_before_kb,
        peak_kb,
    })
}

/// A `/proc/PID/status` field in KiB.
fn status_kb(pid: u32, field: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("no {field} in /proc/{pid}/status"))
}
