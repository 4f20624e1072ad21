//! The peers of the `bt seed`/`bt download` interop cases: a `bt tracker` with a short interval,
//! a libtorrent-made torrent of a few MiB, and ways to run `bt`, libtorrent, aria2c and
//! transmission-daemon as seeds or downloaders on loopback, checking copies byte for byte.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

use super::tracker_swarm::BtTracker;
use crate::interop::context::Ctx;
use crate::interop::process::{Managed, POLL};
use crate::interop::python::{libtorrent_v1_torrent, Snippet};
use crate::interop::{data, net, packages};

/// libtorrent as a tracker-only peer: `seed|download TORRENT DIR [--timeout S]`.
pub(super) const LT_PEER: Snippet = Snippet {
    file: "tracker_lt_peer.py",
    source: include_str!("tracker_lt_peer.py"),
};

/// A few MiB, with a tail so the last piece is short.
pub(super) const DATA_LEN: u64 = 4 * 1024 * 1024 + 12_345;
/// The file's name in the torrent.
pub(super) const FILE: &str = "payload.bin";

/// A tracker, the data in `seed_dir`, and its torrent.
pub(super) struct Swarm {
    pub(super) tracker: BtTracker,
    pub(super) seed_dir: PathBuf,
    pub(super) torrent: PathBuf,
    pub(super) hash: [u8; 20],
}

impl Swarm {
    /// Starts `bt tracker` (5 s interval) and makes the data and a libtorrent torrent for it.
    pub(super) fn new(ctx: &Ctx) -> anyhow::Result<Swarm> {
        let tracker = BtTracker::start(
            ctx,
            "bt-tracker",
            &["--interval", "5", "--min-interval", "1"],
        )?;
        let seed_dir = ctx.path("seed");
        let file = seed_dir.join(FILE);
        data::write_file(&file, DATA_LEN, 6)?;
        let torrent = ctx.path("payload.torrent");
        let url = format!("http://{}/announce", tracker.addr);
        let hash = libtorrent_v1_torrent(ctx, &file, &url, &torrent)?;
        Ok(Swarm {
            tracker,
            seed_dir,
            torrent,
            hash,
        })
    }

    /// Waits until the tracker counts `seeds` seeders.
    pub(super) fn wait_seeds(&self, ctx: &Ctx, seeds: i64, who: &str) -> anyhow::Result<()> {
        self.tracker
            .wait_counts(ctx, &self.hash, who, |(s, _)| s >= seeds, ctx.deadline())
    }

    /// Checks that `dir/payload.bin` equals the seed's data.
    pub(super) fn check_copy(&self, dir: &Path, who: &str) -> anyhow::Result<()> {
        let want = std::fs::read(self.seed_dir.join(FILE))?;
        let got = std::fs::read(dir.join(FILE))
            .with_context(|| format!("{who}: reading {}", dir.join(FILE).display()))?;
        if got != want {
            bail!(
                "{who}: {} differs from the seed's data ({} vs {} bytes)",
                dir.join(FILE).display(),
                got.len(),
                want.len()
            );
        }
        Ok(())
    }
}

/// `bt seed` of the swarm's data, ready once it listens.
pub(super) fn bt_seed(ctx: &Ctx, swarm: &Swarm) -> anyhow::Result<Managed> {
    bt_seed_with(ctx, swarm, &[])
}

/// [`bt_seed`] with `extra` arguments (`--encryption require`, say).
pub(super) fn bt_seed_with(ctx: &Ctx, swarm: &Swarm, extra: &[&str]) -> anyhow::Result<Managed> {
    let mut seed = ctx
        .spawn("bt-seed", ctx.bt()?)
        .arg("seed")
        .arg(&swarm.torrent)
        .arg(swarm.seed_dir.join(FILE))
        .args(["--port", "0", "--bind", "127.0.0.1", "--json"])
        .args(extra)
        .start()?;
    seed.wait_for_line("listening for peers", ctx.deadline())?;
    Ok(seed)
}

/// `bt download` into `dir`; `seed_secs` of seeding after completion (0: exit at once).
pub(super) fn bt_download(
    ctx: &Ctx,
    name: &str,
    swarm: &Swarm,
    dir: &Path,
    seed_secs: u32,
) -> anyhow::Result<Managed> {
    bt_download_with(ctx, name, swarm, dir, seed_secs, &[])
}

/// [`bt_download`] with `extra` arguments.
pub(super) fn bt_download_with(
    ctx: &Ctx,
    name: &str,
    swarm: &Swarm,
    dir: &Path,
    seed_secs: u32,
    extra: &[&str],
) -> anyhow::Result<Managed> {
    ctx.spawn(name, ctx.bt()?)
        .arg("download")
        .arg(&swarm.torrent)
        .arg("--output")
        .arg(dir)
        .args(["--port", "0", "--bind", "127.0.0.1", "--json"])
        .args(["--seed-ratio", "1000", "--seed-time"])
        .arg(seed_secs.to_string())
        .args(extra)
        .start()
}

/// `bt download` with `extra` until complete; checks the copy and that every piece came over
/// the wire.
pub(super) fn bt_download_checked(
    ctx: &Ctx,
    swarm: &Swarm,
    from: &str,
    extra: &[&str],
) -> anyhow::Result<()> {
    let dir = ctx.path("bt-download");
    let mut bt = bt_download_with(ctx, "bt-download", swarm, &dir, 0, extra)?;
    let summary = bt_finished(ctx, &mut bt)?;
    if summary["complete"] != true || summary["pieces_fetched"] != summary["pieces"] {
        bail!("bt download {extra:?} from {from} ended incomplete: {summary}");
    }
    swarm.check_copy(&dir, "bt download")?;
    ctx.note(format!(
        "bt download {extra:?} fetched {} pieces from {from} in {:.2} s, intact",
        summary["pieces"],
        summary["seconds"].as_f64().unwrap_or(0.0)
    ));
    Ok(())
}

/// Waits for a `bt download` to exit 0 and returns its `--json` summary.
pub(super) fn bt_finished(ctx: &Ctx, bt: &mut Managed) -> anyhow::Result<serde_json::Value> {
    let status = bt.wait_exit(ctx.deadline())?;
    if !status.success() {
        bail!("{} failed ({status}){}", bt.name(), bt.stderr_tail());
    }
    let out = bt.stdout()?;
    serde_json::from_slice(&out).with_context(|| {
        format!(
            "{}: --json printed {:?}",
            bt.name(),
            String::from_utf8_lossy(&out)
        )
    })
}

/// A libtorrent peer (tracker only: no DHT, LSD or PEX).
pub(super) fn libtorrent(
    ctx: &Ctx,
    name: &str,
    swarm: &Swarm,
    dir: &Path,
    seed: bool,
) -> anyhow::Result<Managed> {
    libtorrent_of(ctx, name, &[&swarm.torrent], dir, seed)
}

/// A libtorrent peer of several torrents in one session, their data all in `dir`; a seed is
/// ready (returned) once every torrent is checked and announced.
pub(super) fn libtorrent_of(
    ctx: &Ctx,
    name: &str,
    torrents: &[&Path],
    dir: &Path,
    seed: bool,
) -> anyhow::Result<Managed> {
    libtorrent_with(ctx, name, torrents, dir, seed, &[])
}

/// [`libtorrent_of`] with `extra` arguments of `tracker_lt_peer.py` (`--rc4`).
pub(super) fn libtorrent_with(
    ctx: &Ctx,
    name: &str,
    torrents: &[&Path],
    dir: &Path,
    seed: bool,
    extra: &[&str],
) -> anyhow::Result<Managed> {
    std::fs::create_dir_all(dir)?;
    let mode = if seed { "seed" } else { "download" };
    let mut args: Vec<&std::ffi::OsStr> = vec![mode.as_ref()];
    args.extend(torrents.iter().map(|t| t.as_os_str()));
    args.extend([dir.as_os_str(), "--timeout".as_ref(), "150".as_ref()]);
    args.extend(extra.iter().map(std::ffi::OsStr::new));
    let mut p = LT_PEER.spawn(ctx, name, args)?;
    if seed {
        p.wait_for_line("SEEDING", ctx.deadline())?;
    }
    Ok(p)
}

/// An aria2c peer (no DHT, LSD or PEX); a seed checks its data first and seeds 10 minutes.
pub(super) fn aria2(
    ctx: &Ctx,
    name: &str,
    swarm: &Swarm,
    dir: &Path,
    seed: bool,
) -> anyhow::Result<Managed> {
    aria2_of(ctx, name, &[&swarm.torrent], dir, seed)
}

/// An aria2c peer of several torrents at once (one listening port), their data all in `dir`.
pub(super) fn aria2_of(
    ctx: &Ctx,
    name: &str,
    torrents: &[&Path],
    dir: &Path,
    seed: bool,
) -> anyhow::Result<Managed> {
    aria2_with(ctx, name, torrents, dir, seed, &[])
}

/// [`aria2_of`] with `extra` aria2c options (`--bt-require-crypto=true`, say).
pub(super) fn aria2_with(
    ctx: &Ctx,
    name: &str,
    torrents: &[&Path],
    dir: &Path,
    seed: bool,
    extra: &[&str],
) -> anyhow::Result<Managed> {
    aria2_on(ctx, name, torrents, dir, seed, net::free_port()?, extra)
}

/// [`aria2_of`] listening on `port` with `extra` aria2c options; a torrent may also be a
/// magnet link.
pub(super) fn aria2_on(
    ctx: &Ctx,
    name: &str,
    torrents: &[&Path],
    dir: &Path,
    seed: bool,
    port: u16,
    extra: &[&str],
) -> anyhow::Result<Managed> {
    packages::require(&[("aria2c", "aria2")])?;
    std::fs::create_dir_all(dir)?;
    let spawn = ctx
        .spawn(name, "aria2c")
        .arg(format!("--dir={}", dir.display()))
        .args([
            "--enable-dht=false",
            "--enable-dht6=false",
            "--bt-enable-lpd=false",
            "--enable-peer-exchange=false",
            "--interface=127.0.0.1",
            "--bt-external-ip=127.0.0.1",
        ])
        .arg(format!("--listen-port={port}"))
        .args([
            "--no-conf=true",
            "--auto-save-interval=0",
            "--summary-interval=1",
            "--console-log-level=notice",
            "--bt-tracker-connect-timeout=5",
            "--bt-tracker-timeout=10",
        ])
        .arg(format!(
            "--max-concurrent-downloads={}",
            torrents.len().max(1)
        ));
    let spawn = if seed {
        spawn.args([
            "--check-integrity=true",
            "--seed-ratio=0.0",
            "--seed-time=10",
        ])
    } else {
        spawn.args([
            "--seed-time=0",
            "--file-allocation=none",
            "--bt-stop-timeout=120",
            "--allow-overwrite=true",
        ])
    };
    spawn.args(extra).args(torrents).start()
}

/// A private transmission-daemon on loopback, driven by transmission-remote.
pub(super) struct Transmission {
    _daemon: Managed,
    rpc: String,
    /// The port it accepts peers on.
    pub(super) peer_port: u16,
}

impl Transmission {
    /// Starts the daemon with `dir` as its download directory; returns once RPC answers.
    pub(super) fn start(ctx: &Ctx, name: &str, dir: &Path) -> anyhow::Result<Transmission> {
        Transmission::start_with(ctx, name, dir, 0)
    }

    /// [`Transmission::start`] with its `encryption` setting: 0 prefer plaintext, 1 prefer
    /// encryption, 2 require encryption.
    pub(super) fn start_with(
        ctx: &Ctx,
        name: &str,
        dir: &Path,
        encryption: u8,
    ) -> anyhow::Result<Transmission> {
        Transmission::start_opts(ctx, name, dir, encryption, false)
    }

    /// [`Transmission::start_with`], with uTP on when `utp`.
    pub(super) fn start_opts(
        ctx: &Ctx,
        name: &str,
        dir: &Path,
        encryption: u8,
        utp: bool,
    ) -> anyhow::Result<Transmission> {
        packages::require(&[
            ("transmission-daemon", "transmission-daemon"),
            ("transmission-remote", "transmission-cli"),
        ])?;
        let conf = ctx.path(format!("{name}-config"));
        std::fs::create_dir_all(&conf)?;
        std::fs::create_dir_all(dir)?;
        let (peer_port, rpc_port) = (net::free_port()?, net::free_port()?);
        let settings = serde_json::json!({
            "bind-address-ipv4": "127.0.0.1", "bind-address-ipv6": "::1",
            "rpc-bind-address": "127.0.0.1", "rpc-port": rpc_port,
            "rpc-authentication-required": false, "rpc-whitelist": "127.0.0.1,::1",
            "rpc-whitelist-enabled": true, "rpc-host-whitelist-enabled": false,
            "peer-port": peer_port, "peer-port-random-on-start": false,
            "port-forwarding-enabled": false, "dht-enabled": false, "lpd-enabled": false,
            "pex-enabled": false, "utp-enabled": utp, "encryption": encryption,
            "download-dir": dir, "incomplete-dir-enabled": false, "rename-partial-files": false,
            "speed-limit-down-enabled": false, "speed-limit-up-enabled": false,
            "alt-speed-enabled": false, "ratio-limit-enabled": false,
            "idle-seeding-limit-enabled": false, "download-queue-enabled": false,
            "seed-queue-enabled": false, "queue-stalled-enabled": false, "preallocation": 0,
            "start-added-torrents": true, "message-level": 2, "blocklist-enabled": false,
            "watch-dir-enabled": false,
        });
        std::fs::write(conf.join("settings.json"), settings.to_string())?;
        let daemon = ctx
            .spawn(name, "transmission-daemon")
            .arg("-f")
            .arg("-g")
            .arg(&conf)
            .start()?;
        let t = Transmission {
            _daemon: daemon,
            rpc: format!("127.0.0.1:{rpc_port}"),
            peer_port,
        };
        let deadline = ctx.deadline_in(Duration::from_secs(30));
        while t.remote(ctx, &["-si"]).is_err() {
            if Instant::now() >= deadline {
                bail!("transmission-daemon's RPC never answered on {}", t.rpc);
            }
            std::thread::sleep(POLL * 5);
        }
        Ok(t)
    }

    /// Runs `transmission-remote` (directly: polling must not leave a log file per call).
    pub(super) fn remote(&self, _ctx: &Ctx, args: &[&str]) -> anyhow::Result<String> {
        let out = std::process::Command::new("transmission-remote")
            .arg(&self.rpc)
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .context("running transmission-remote")?;
        if !out.status.success() {
            bail!(
                "transmission-remote {args:?} failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Adds a torrent whose data is (or goes) in `dir`.
    pub(super) fn add(&self, ctx: &Ctx, torrent: &Path, dir: &Path) -> anyhow::Result<()> {
        let (t, d) = (torrent.display().to_string(), dir.display().to_string());
        self.remote(ctx, &["-a", &t, "-w", &d]).map(drop)
    }

    /// `transmission-remote -t 1 -i`'s value for `field`.
    pub(super) fn field(&self, ctx: &Ctx, field: &str) -> anyhow::Result<String> {
        let info = self.remote(ctx, &["-t", "1", "-i"])?;
        Ok(info
            .lines()
            .find_map(|l| l.trim().strip_prefix(field)?.strip_prefix(':'))
            .unwrap_or_default()
            .trim()
            .to_owned())
    }

    /// Waits until the torrent is 100% done (verified or downloaded).
    pub(super) fn wait_done(&self, ctx: &Ctx, what: &str) -> anyhow::Result<()> {
        loop {
            if self.field(ctx, "Percent Done")? == "100%" {
                return Ok(());
            }
            if Instant::now() >= ctx.deadline() {
                let info = self.remote(ctx, &["-t", "1", "-i"]).unwrap_or_default();
                bail!("transmission never finished {what}:\n{info}");
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}
