//! Case `tracker-slow-clients`: `bt tracker` under `prlimit --nofile=1024` while 1,100
//! connections from 127.0.0.3 each hold half a request line. Announces from 127.0.0.1 are answered
//! within 1 s every time, every held connection is closed within the header timeout (those over
//! the per-address cap at once), `/metrics` counts both, and no peer is lost from the swarms.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use rustix::net::{AddressFamily, SocketType};

use super::tracker_swarm::BtTracker;
use super::{Case, DEFAULT_TIMEOUT};
use crate::interop::announce::{self, Announce};
use crate::interop::context::Ctx;
use crate::interop::{http, net, packages};

pub(super) const CASE: Case = Case {
    name: "tracker-slow-clients",
    about:
        "bt tracker at 1,024 open files: 1,100 half-sent requests from one address lock nobody out",
    timeout: DEFAULT_TIMEOUT,
    run,
};

const HELD: usize = 1_100;
const HEADER_TIMEOUT: Duration = Duration::from_secs(3);
/// What one announce from the good address may take.
const ANSWER_WITHIN: Duration = Duration::from_secs(1);
/// How late a close may be observed: the reads below are sequential.
const SLACK: Duration = Duration::from_millis(500);
const PEERS: u16 = 50;
const HASH: [u8; 20] = [0x51; 20];

/// A TCP connection from `source` (any loopback address) to `to`.
fn connect_from(source: [u8; 4], to: SocketAddr) -> anyhow::Result<TcpStream> {
    let fd = rustix::net::socket(AddressFamily::INET, SocketType::STREAM, None)?;
    rustix::net::bind(&fd, &SocketAddr::from((source, 0)))
        .with_context(|| format!("binding {source:?}"))?;
    rustix::net::connect(&fd, &to).with_context(|| format!("connecting to {to}"))?;
    Ok(TcpStream::from(fd))
}

/// Raises this process's soft open-file limit to the hard one: the harness holds 1,100 sockets.
fn raise_own_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut lim = getrlimit(Resource::Nofile);
    lim.current = lim.maximum;
    let _ = setrlimit(Resource::Nofile, lim);
}

fn announce_ok(tracker: &BtTracker, a: &Announce) -> anyhow::Result<Duration> {
    let t0 = Instant::now();
    let reply = http::get(tracker.addr, &a.target(), t0 + ANSWER_WITHIN)
        .context("announce from 127.0.0.1 while the slow connections are held")?;
    if reply.status != 200 || reply.body.windows(7).any(|w| w == b"failure") {
        bail!("announce refused: {}", reply.body.escape_ascii());
    }
    Ok(t0.elapsed())
}

/// The value of one `/metrics` line, e.g. `tracker_http_connections_closed_total{reason="x"}`.
fn metric(tracker: &BtTracker, ctx: &Ctx, line: &str) -> anyhow::Result<u64> {
    let m = http::get(tracker.addr, "/metrics", ctx.deadline())?;
    let text = String::from_utf8_lossy(&m.body).into_owned();
    text.lines()
        .find_map(|l| l.strip_prefix(line)?.trim().parse().ok())
        .with_context(|| format!("no `{line}` in /metrics:\n{text}"))
}

fn run(ctx: &Ctx) -> anyhow::Result<()> {
    packages::require(&[("prlimit", "util-linux")])?;
    raise_own_limit();
    let timeout = format!("{}s", HEADER_TIMEOUT.as_secs());
    let port = net::free_port()?;
    let bt = ctx.bt()?.display().to_string();
    let mut process = ctx
        .spawn("bt-tracker", "prlimit")
        .args([
            "--nofile=1024",
            "--",
            bt.as_str(),
            "tracker",
            "--bind",
            "127.0.0.1",
        ])
        .args(["--port", &port.to_string(), "--no-udp", "--quiet"])
        .args(["--header-timeout", &timeout])
        .start()?;
    let addr = net::loopback(port);
    process.wait_for_tcp(addr, ctx.deadline())?;
    let tracker = BtTracker { process, addr };

    let peer = |p: u16| Announce::new(HASH, announce::peer_id(&format!("slow{p:04}")), 7000 + p, 1);
    for p in 0..PEERS {
        announce_ok(&tracker, &peer(p))?;
    }
    let before = tracker.scrape(ctx, &HASH)?;

    // 1,100 connections from 127.0.0.3, each with half a request line sent.
    let mut held = Vec::with_capacity(HELD);
    let start = Instant::now();
    for i in 0..HELD {
        let mut s =
            connect_from([127, 0, 0, 3], addr).with_context(|| format!("slow connection {i}"))?;
        // The server may already have closed it (over the cap): a failed write is fine.
        let _ = s.write_all(b"GET /announce?info_hash=%51%51");
        held.push((s, Instant::now()));
    }
    let opened = Instant::now();
    ctx.note(format!(
        "{HELD} connections from 127.0.0.3 opened in {:.2} s, each holding half a request line",
        start.elapsed().as_secs_f64()
    ));

    // Announces from 127.0.0.1, every 100 ms until the header timeout has passed.
    let mut tries = 0;
    let mut slowest = Duration::ZERO;
    while opened.elapsed() < HEADER_TIMEOUT {
        let took = announce_ok(&tracker, &peer(u16::try_from(tries % usize::from(PEERS))?))
            .with_context(|| format!("try {tries}"))?;
        slowest = slowest.max(took);
        tries += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    ctx.note(format!(
        "{tries} announces from 127.0.0.1 answered meanwhile, the slowest in {:.1} ms",
        slowest.as_secs_f64() * 1e3
    ));

    // Every held connection is closed by the tracker within the header timeout.
    let mut buf = [0u8; 64];
    for (i, (s, at)) in held.iter_mut().enumerate() {
        let by = *at + HEADER_TIMEOUT + SLACK;
        let wait = by
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        s.set_read_timeout(Some(wait))?;
        match s.read(&mut buf) {
            Ok(0) => {}
            Err(e)
                if e.kind() != std::io::ErrorKind::WouldBlock
                    && e.kind() != std::io::ErrorKind::TimedOut => {}
            Ok(n) => {
                // A 408 or 400 before the close is fine; the close must follow.
                let _ = n;
                let mut rest = Vec::new();
                s.set_read_timeout(Some(
                    by.saturating_duration_since(Instant::now())
                        .max(Duration::from_millis(1)),
                ))?;
                if s.read_to_end(&mut rest).is_err() {
                    bail!(
                        "held connection {i} got a reply but stayed open past the header timeout"
                    );
                }
            }
            Err(_) => bail!(
                "held connection {i} still open {:.1} s after it was opened (header timeout {}s)",
                at.elapsed().as_secs_f64(),
                HEADER_TIMEOUT.as_secs()
            ),
        }
    }
    drop(held);
    let timed_out = metric(
        &tracker,
        ctx,
        "tracker_http_connections_closed_total{reason=\"header_timeout\"}",
    )?;
    let capped = metric(
        &tracker,
        ctx,
        "tracker_http_connections_closed_total{reason=\"per_address_cap\"}",
    )?;
    if timed_out + capped < HELD as u64 || capped == 0 || timed_out == 0 {
        bail!("/metrics counts {timed_out} header timeouts and {capped} over the per-address cap for {HELD} slow connections");
    }
    ctx.note(format!(
        "all closed within the {HEADER_TIMEOUT:?} header timeout: /metrics counts {capped} over the per-address cap, {timed_out} header timeouts"
    ));
    let after = tracker.scrape(ctx, &HASH)?;
    if after != before {
        bail!("the swarm changed while held: scrape {after:?}, before {before:?}");
    }
    ctx.note(format!("swarm intact: scrape {after:?}"));
    Ok(())
}
