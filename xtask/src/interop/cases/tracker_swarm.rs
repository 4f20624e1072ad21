//! Cases `tracker-http` and `tracker-udp`: aria2c and libtorrent, with DHT, local discovery and
//! peer exchange out of the way, find each other only through `bt tracker` and complete a
//! transfer; over HTTP (libtorrent seeds, aria2c downloads) and over UDP (aria2c seeds,
//! libtorrent downloads).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};

use super::{Case, DEFAULT_TIMEOUT};
use crate::interop::context::Ctx;
use crate::interop::process::{Managed, POLL};
use crate::interop::python::{libtorrent_v1_torrent, Snippet};
use crate::interop::{data, http, net, packages};

pub(super) const HTTP: Case = Case {
    name: "tracker-http",
    about: "libtorrent seeds, aria2c finds it through bt tracker over HTTP and downloads",
    timeout: DEFAULT_TIMEOUT,
    run: run_http,
};

pub(super) const UDP: Case = Case {
    name: "tracker-udp",
    about: "aria2c seeds, libtorrent finds it through bt tracker over UDP (BEP 15) and downloads",
    timeout: DEFAULT_TIMEOUT,
    run: run_udp,
};

pub(super) const LT_PEER: Snippet = Snippet {
    file: "tracker_lt_peer.py",
    source: include_str!("tracker_lt_peer.py"),
};

const DATA_LEN: u64 = 6 * 1024 * 1024 + 12_345;

/// A `bt tracker` on a free loopback port (HTTP and UDP), logging into the case directory.
pub(super) struct BtTracker {
    pub(super) process: Managed,
    pub(super) addr: SocketAddr,
}

impl BtTracker {
    pub(super) fn start(ctx: &Ctx, name: &str, extra: &[&str]) -> anyhow::Result<BtTracker> {
        let port = net::free_port()?;
        let mut process = ctx
            .spawn(name, ctx.bt()?)
            .args(["tracker", "--bind", "127.0.0.1", "--port"])
            .arg(port.to_string())
            .args(extra)
            .start()?;
        let addr = net::loopback(port);
        process.wait_for_tcp(addr, ctx.deadline())?;
        Ok(BtTracker { process, addr })
    }

    /// `/stats.json`, parsed.
    pub(super) fn stats(&self, ctx: &Ctx) -> anyhow::Result<serde_json::Value> {
        let reply = http::get(self.addr, "/stats.json", ctx.deadline())?;
        serde_json::from_slice(&reply.body).context("bt tracker /stats.json is not JSON")
    }

    /// (seeders, leechers) of one torrent, by HTTP scrape.
    pub(super) fn scrape(&self, ctx: &Ctx, hash: &[u8; 20]) -> anyhow::Result<(i64, i64)> {
        let target = format!("/scrape?info_hash={}", http::percent_encode(hash));
        let reply = http::get(self.addr, &target, ctx.deadline())?;
        let text = String::from_utf8_lossy(&reply.body).into_owned();
        let number = |key: &str| -> anyhow::Result<i64> {
            let at = text
                .find(key)
                .with_context(|| format!("no `{key}` in scrape reply {text:?}"))?;
            let rest = &text[at + key.len()..];
            rest.strip_prefix('i')
                .and_then(|r| r.split('e').next())
                .and_then(|n| n.parse().ok())
                .with_context(|| format!("bad `{key}` in scrape reply {text:?}"))
        };
        Ok((number("8:complete")?, number("10:incomplete")?))
    }

    /// Polls the scrape until `ready` holds for the torrent's counts.
    pub(super) fn wait_counts(
        &self,
        ctx: &Ctx,
        hash: &[u8; 20],
        what: &str,
        ready: impl Fn((i64, i64)) -> bool,
        deadline: std::time::Instant,
    ) -> anyhow::Result<()> {
        loop {
            let counts = self.scrape(ctx, hash)?;
            if ready(counts) {
                return Ok(());
            }
            if std::time::Instant::now() >= deadline {
                bail!(
                    "bt tracker never showed {what}: scrape says {counts:?}{}",
                    self.process.stderr_tail()
                );
            }
            std::thread::sleep(POLL);
        }
    }
}

/// The data file, a torrent for it announcing to `url`, and its info-hash.
pub(super) fn make_torrent(ctx: &Ctx, url: &str) -> anyhow::Result<(PathBuf, PathBuf, [u8; 20])> {
    let seed_dir = ctx.path("seed");
    let file = seed_dir.join("payload.bin");
    data::write_file(&file, DATA_LEN, 42)?;
    let torrent = ctx.path("payload.torrent");
    let hash = libtorrent_v1_torrent(ctx, &file, url, &torrent)?;
    Ok((seed_dir, torrent, hash))
}

/// aria2c with DHT on only when `udp` (aria2 speaks UDP trackers only with DHT on; with no
/// bootstrap node and a private DHT file it finds nobody that way), never LPD or PEX.
pub(super) fn aria2(
    ctx: &Ctx,
    name: &str,
    torrent: &Path,
    dir: &Path,
    seed: bool,
    udp: bool,
) -> anyhow::Result<Managed> {
    let port = net::free_port()?;
    let dht_port = net::free_port()?;
    let mut spawn = ctx
        .spawn(name, "aria2c")
        .arg(format!("--dir={}", dir.display()))
        .arg(format!("--enable-dht={udp}"))
        .args([
            "--enable-dht6=false",
            "--bt-enable-lpd=false",
            "--enable-peer-exchange=false",
        ])
        .arg(format!("--dht-listen-port={dht_port}"))
        .arg(format!(
            "--dht-file-path={}",
            ctx.path(format!("{name}-dht.dat")).display()
        ))
        .args(["--interface=127.0.0.1", "--bt-external-ip=127.0.0.1"])
        .arg(format!("--listen-port={port}"))
        .args([
            "--no-conf=true",
            "--auto-save-interval=0",
            "--summary-interval=1",
            "--console-log-level=notice",
        ])
        .args(["--bt-tracker-connect-timeout=5", "--bt-tracker-timeout=10"]);
    spawn = if seed {
        spawn.args([
            "--check-integrity=true",
            "--seed-ratio=0.0",
            "--seed-time=10",
        ])
    } else {
        std::fs::create_dir_all(dir)?;
        spawn.args([
            "--seed-time=0",
            "--file-allocation=none",
            "--bt-stop-timeout=120",
            "--allow-overwrite=true",
        ])
    };
    spawn.arg(torrent).start()
}

pub(super) fn same_bytes(a: &Path, b: &Path) -> anyhow::Result<()> {
    let x = std::fs::read(a).with_context(|| format!("reading {}", a.display()))?;
    let y = std::fs::read(b).with_context(|| format!("reading {}", b.display()))?;
    if x != y {
        bail!(
            "{} differs from {} ({} vs {} bytes)",
            b.display(),
            a.display(),
            y.len(),
            x.len()
        );
    }
    Ok(())
}

fn run_http(ctx: &Ctx) -> anyhow::Result<()> {
    packages::require(&[("aria2c", "aria2")])?;
    let tracker = BtTracker::start(
        ctx,
        "bt-tracker",
        &["--interval", "5", "--min-interval", "1"],
    )?;
    let (seed_dir, torrent, hash) =
        make_torrent(ctx, &format!("http://{}/announce", tracker.addr))?;

    let mut seed = LT_PEER.spawn(
        ctx,
        "lt-seed",
        [
            "seed".as_ref(),
            torrent.as_os_str(),
            seed_dir.as_os_str(),
            "--timeout".as_ref(),
            "170".as_ref(),
        ],
    )?;
    seed.wait_for_line("SEEDING", ctx.deadline())?;
    tracker.wait_counts(
        ctx,
        &hash,
        "the libtorrent seed",
        |(s, _)| s == 1,
        ctx.deadline(),
    )?;
    ctx.note("libtorrent seeds and announced over HTTP");

    let down_dir = ctx.path("aria2-download");
    let mut down = aria2(ctx, "aria2-download", &torrent, &down_dir, false, false)?;
    let status = down.wait_exit(ctx.deadline())?;
    if !status.success() {
        bail!("aria2c download failed ({status}){}", down.stderr_tail());
    }
    same_bytes(&seed_dir.join("payload.bin"), &down_dir.join("payload.bin"))?;
    let stats = tracker.stats(ctx)?;
    let http_announces = stats["requests"]["http_announce"].as_u64().unwrap_or(0);
    if http_announces < 2 {
        bail!("bt tracker saw {http_announces} HTTP announces; expected both peers'");
    }
    ctx.note(format!("aria2c downloaded {DATA_LEN} bytes intact; tracker answered {http_announces} HTTP announces"));
    drop(seed);
    Ok(())
}

fn run_udp(ctx: &Ctx) -> anyhow::Result<()> {
    packages::require(&[("aria2c", "aria2")])?;
    let tracker = BtTracker::start(
        ctx,
        "bt-tracker",
        &["--interval", "5", "--min-interval", "1"],
    )?;
    let (seed_dir, torrent, hash) = make_torrent(ctx, &format!("udp://{}/announce", tracker.addr))?;

    let mut seed = aria2(ctx, "aria2-seed", &torrent, &seed_dir, true, true)?;
    tracker.wait_counts(
        ctx,
        &hash,
        "the aria2c seed",
        |(s, _)| s == 1,
        ctx.deadline(),
    )?;
    ctx.note("aria2c seeds and announced over UDP");

    let down_dir = ctx.path("lt-download");
    std::fs::create_dir_all(&down_dir)?;
    let mut down = LT_PEER.spawn(
        ctx,
        "lt-download",
        [
            "download".as_ref(),
            torrent.as_os_str(),
            down_dir.as_os_str(),
            "--timeout".as_ref(),
            "150".as_ref(),
        ],
    )?;
    let status = down.wait_exit(ctx.deadline())?;
    if !status.success() {
        bail!(
            "libtorrent download failed ({status}){}",
            down.stderr_tail()
        );
    }
    same_bytes(&seed_dir.join("payload.bin"), &down_dir.join("payload.bin"))?;
    let stats = tracker.stats(ctx)?;
    let udp = stats["requests"]["udp_announce"].as_u64().unwrap_or(0);
    let http = stats["requests"]["http_announce"].as_u64().unwrap_or(0);
    if udp < 2 || http != 0 {
        bail!(
            "bt tracker saw {udp} UDP and {http} HTTP announces; expected both peers over UDP only"
        );
    }
    if seed.try_status()?.is_some() {
        bail!("the aria2c seed exited early{}", seed.stderr_tail());
    }
    ctx.note(format!(
        "libtorrent downloaded {DATA_LEN} bytes intact; tracker answered {udp} UDP announces"
    ));
    Ok(())
}
