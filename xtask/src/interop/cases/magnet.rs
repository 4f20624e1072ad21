//! Magnet links and peer exchange against real clients (issue 14): `bt download MAGNET --peer`
//! from libtorrent, aria2c and Transmission seeds with no tracker in the link; libtorrent and
//! aria2c fetching the metadata from a `bt seed`; PEX into and out of bt with libtorrent; a
//! 10,000-file metadata fetch timed against libtorrent's own; a restart after SIGKILL.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

use super::peer_clients::{aria2_on, bt_seed, Swarm, Transmission, DATA_LEN, FILE};
use super::{Case, DEFAULT_TIMEOUT};
use crate::interop::context::Ctx;
use crate::interop::process::Managed;
use crate::interop::python::Snippet;
use crate::interop::{data, net};

/// libtorrent seeding, downloading or fetching a magnet with peers from `--peer` and PEX only.
pub(super) const LT_MAGNET: Snippet = Snippet {
    file: "lt_magnet.py",
    source: include_str!("../py/lt_magnet.py"),
};

pub(super) const FROM_LIBTORRENT: Case = Case {
    name: "magnet-libtorrent-seed-bt",
    about: "bt download MAGNET --peer from a libtorrent seed, no tracker: metadata, then data, checksum",
    timeout: DEFAULT_TIMEOUT,
    run: from_libtorrent,
};

pub(super) const FROM_ARIA2: Case = Case {
    name: "magnet-aria2-seed-bt",
    about: "bt download MAGNET --peer from an aria2c seed, no tracker: checksum",
    timeout: DEFAULT_TIMEOUT,
    run: from_aria2,
};

pub(super) const FROM_TRANSMISSION: Case = Case {
    name: "magnet-transmission-seed-bt",
    about: "bt download MAGNET --peer from a transmission-daemon seed, no tracker: checksum",
    timeout: DEFAULT_TIMEOUT,
    run: from_transmission,
};

pub(super) const TO_LIBTORRENT: Case = Case {
    name: "magnet-bt-seed-libtorrent",
    about:
        "libtorrent given the magnet and the bt seed's address fetches metadata and data from bt",
    timeout: DEFAULT_TIMEOUT,
    run: to_libtorrent,
};

pub(super) const TO_ARIA2: Case = Case {
    name: "magnet-bt-seed-aria2",
    about:
        "aria2c given a magnet whose tr= is the bt tracker fetches metadata and data from bt seed",
    timeout: DEFAULT_TIMEOUT,
    run: to_aria2,
};

pub(super) const PEX_IN: Case = Case {
    name: "pex-in-libtorrent",
    about: "bt given only libtorrent peer A learns the seed S through A's ut_pex and completes",
    timeout: DEFAULT_TIMEOUT,
    run: pex_in,
};

pub(super) const PEX_OUT: Case = Case {
    name: "pex-out-libtorrent",
    about:
        "libtorrent given only the bt downloader learns the seed S from bt's ut_pex (source pex)",
    timeout: DEFAULT_TIMEOUT,
    run: pex_out,
};

pub(super) const METADATA_TIMING: Case = Case {
    name: "magnet-metadata-10k-files",
    about: "a 10,000-file torrent's metadata (over 1 MiB) from a libtorrent seed: bt no slower than libtorrent",
    timeout: DEFAULT_TIMEOUT,
    run: metadata_timing,
};

pub(super) const RESTART: Case = Case {
    name: "magnet-restart-after-sigkill",
    about: "a magnet download killed with SIGKILL restarts without fetching the metadata again",
    timeout: DEFAULT_TIMEOUT,
    run: restart,
};

/// A few MiB in `seed/payload.bin` and a torrent of it naming no tracker.
pub(super) struct Payload {
    pub(super) seed_dir: PathBuf,
    pub(super) torrent: PathBuf,
    /// Its magnet link, without trackers.
    pub(super) magnet: String,
}

pub(super) fn payload(ctx: &Ctx) -> anyhow::Result<Payload> {
    let seed_dir = ctx.path("seed");
    data::write_file(&seed_dir.join(FILE), DATA_LEN, 14)?;
    let torrent = ctx.path("payload.torrent");
    make_torrent(ctx, &seed_dir.join(FILE), &torrent, &["-l", "64K"])?;
    let magnet = magnet_of(ctx, &torrent)?;
    Ok(Payload {
        seed_dir,
        torrent,
        magnet,
    })
}

pub(super) fn make_torrent(
    ctx: &Ctx,
    data: &Path,
    torrent: &Path,
    extra: &[&str],
) -> anyhow::Result<()> {
    ctx.spawn("bt-make", ctx.bt()?)
        .arg("make")
        .arg(data)
        .arg("-o")
        .arg(torrent)
        .args(["--force", "--no-date"])
        .args(extra)
        .run(ctx.deadline())?;
    Ok(())
}

pub(super) fn magnet_of(ctx: &Ctx, torrent: &Path) -> anyhow::Result<String> {
    let out = ctx
        .spawn("bt-magnet", ctx.bt()?)
        .arg("magnet")
        .arg(torrent)
        .arg("--no-trackers")
        .run(ctx.deadline())?;
    Ok(String::from_utf8(out)?.trim().to_owned())
}

/// A libtorrent seed of `torrent` over `dir`; returns it once seeding, with its port.
pub(super) fn lt_seed(
    ctx: &Ctx,
    name: &str,
    torrent: &Path,
    dir: &Path,
) -> anyhow::Result<(Managed, u16)> {
    let mut seed = LT_MAGNET.spawn(
        ctx,
        name,
        [
            "seed".as_ref(),
            torrent.as_os_str(),
            dir.as_os_str(),
            "--timeout".as_ref(),
            "170".as_ref(),
        ],
    )?;
    let line = seed.wait_for_line("SEEDING port=", ctx.deadline())?;
    Ok((seed, port_after(&line, "port=")?))
}

/// The number after `key` in `line`.
fn port_after(line: &str, key: &str) -> anyhow::Result<u16> {
    let rest = line
        .split_once(key)
        .with_context(|| format!("no {key} in {line:?}"))?
        .1;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits
        .parse()
        .with_context(|| format!("no port after {key} in {line:?}"))
}

/// `bt download SOURCE --peer ...` into `out`, exiting once complete, with `extra` flags.
pub(super) fn bt_download(
    ctx: &Ctx,
    name: &str,
    source: &str,
    out: &Path,
    peers: &[u16],
    extra: &[&str],
) -> anyhow::Result<Managed> {
    let mut spawn = ctx
        .spawn(name, ctx.bt()?)
        .arg("download")
        .arg(source)
        .arg("--output")
        .arg(out)
        .args(["--port", "0", "--bind", "127.0.0.1", "--json"])
        .args(["--seed-time", "0", "--status-interval", "0.5"]);
    for p in peers {
        spawn = spawn.arg("--peer").arg(format!("127.0.0.1:{p}"));
    }
    spawn.args(extra).start()
}

/// Waits for a `bt download` to exit 0 and returns its `--json` summary.
pub(super) fn bt_summary(ctx: &Ctx, bt: &mut Managed) -> anyhow::Result<serde_json::Value> {
    super::peer_clients::bt_finished(ctx, bt)
}

/// Checks `dir/payload.bin` against the seed's copy.
pub(super) fn check_copy(p: &Payload, dir: &Path, who: &str) -> anyhow::Result<()> {
    let want = std::fs::read(p.seed_dir.join(FILE))?;
    let got = std::fs::read(dir.join(FILE))
        .with_context(|| format!("{who}: reading {}", dir.join(FILE).display()))?;
    if got != want {
        bail!("{who}: the copy differs from the seed's data");
    }
    Ok(())
}

/// The magnet download by bt from a seed at `port`, checked.
fn magnet_from(ctx: &Ctx, p: &Payload, port: u16, from: &str) -> anyhow::Result<()> {
    let out = ctx.path("bt-download");
    let mut bt = bt_download(ctx, "bt-download", &p.magnet, &out, &[port], &[])?;
    let summary = bt_summary(ctx, &mut bt)?;
    if summary["complete"] != true {
        bail!("bt download of the magnet from {from} ended incomplete: {summary}");
    }
    check_copy(p, &out, "bt download")?;
    let stderr = String::from_utf8_lossy(&bt.stderr()?).into_owned();
    let fetched = stderr
        .lines()
        .find(|l| l.contains("metadata fetched"))
        .with_context(|| format!("bt never said it fetched the metadata:\n{stderr}"))?;
    ctx.note(format!(
        "bt: magnet from {from}: {fetched}; {} pieces in {:.2} s, intact",
        summary["pieces"],
        summary["seconds"].as_f64().unwrap_or(0.0)
    ));
    Ok(())
}

fn from_libtorrent(ctx: &Ctx) -> anyhow::Result<()> {
    let p = payload(ctx)?;
    let (seed, port) = lt_seed(ctx, "lt-seed", &p.torrent, &p.seed_dir)?;
    magnet_from(ctx, &p, port, "libtorrent")?;
    drop(seed);
    Ok(())
}

fn from_aria2(ctx: &Ctx) -> anyhow::Result<()> {
    let p = payload(ctx)?;
    let port = net::free_port()?;
    let mut seed = aria2_on(
        ctx,
        "aria2-seed",
        &[&p.torrent],
        &p.seed_dir,
        true,
        port,
        &[],
    )?;
    seed.wait_for_line("SEED(", ctx.deadline())?;
    magnet_from(ctx, &p, port, "aria2c")?;
    drop(seed);
    Ok(())
}

fn from_transmission(ctx: &Ctx) -> anyhow::Result<()> {
    let p = payload(ctx)?;
    let tr = Transmission::start(ctx, "transmission", &p.seed_dir)?;
    tr.add(ctx, &p.torrent, &p.seed_dir)?;
    tr.wait_done(ctx, "checking its data")?;
    magnet_from(ctx, &p, tr.peer_port, "transmission")?;
    drop(tr);
    Ok(())
}

/// `bt seed` of the payload on a free port; returns it once listening, with the port.
fn bt_seed_of(ctx: &Ctx, p: &Payload, extra: &[&str]) -> anyhow::Result<(Managed, u16)> {
    let mut seed = ctx
        .spawn("bt-seed", ctx.bt()?)
        .arg("seed")
        .arg(&p.torrent)
        .arg(p.seed_dir.join(FILE))
        .args(["--port", "0", "--bind", "127.0.0.1"])
        .args(extra)
        .start()?;
    let line = seed.wait_for_line("listening for peers on", ctx.deadline())?;
    Ok((seed, port_after(&line, "127.0.0.1:")?))
}

fn to_libtorrent(ctx: &Ctx) -> anyhow::Result<()> {
    let p = payload(ctx)?;
    let (seed, port) = bt_seed_of(ctx, &p, &[])?;
    let out = ctx.path("lt-download");
    std::fs::create_dir_all(&out)?;
    let stdout = LT_MAGNET.run(
        ctx,
        "lt-fetch",
        [
            "fetch".as_ref(),
            p.magnet.as_ref(),
            out.as_os_str(),
            "--peer".as_ref(),
            format!("127.0.0.1:{port}").as_ref(),
            "--timeout".as_ref(),
            "120".as_ref(),
        ],
    )?;
    let (Some(meta), true) = (
        stdout.lines().find(|l| l.starts_with("METADATA")),
        stdout.contains("COMPLETE"),
    ) else {
        bail!("libtorrent did not get the metadata and data from bt:\n{stdout}");
    };
    check_copy(&p, &out, "libtorrent")?;
    ctx.note(format!(
        "libtorrent fetched the magnet from bt seed: {meta}, data intact"
    ));
    drop(seed);
    Ok(())
}

fn to_aria2(ctx: &Ctx) -> anyhow::Result<()> {
    // aria2c 1.36 ignores x.pe: it finds the bt seed through the bt tracker the seed announced to.
    let swarm = Swarm::new(ctx)?;
    let seed = bt_seed(ctx, &swarm)?;
    swarm.wait_seeds(ctx, 1, "the bt seed")?;
    let tr = format!("http://{}/announce", swarm.tracker.addr);
    let magnet = format!(
        "{}&tr={}",
        magnet_of(ctx, &swarm.torrent)?,
        torrentkit_metainfo::percent::encode(tr.as_bytes(), b"")
    );
    let out = ctx.path("aria2-download");
    let mut aria = aria2_on(
        ctx,
        "aria2-download",
        &[Path::new(&magnet)],
        &out,
        false,
        net::free_port()?,
        &[],
    )?;
    let status = aria.wait_exit(ctx.deadline())?;
    if !status.success() {
        bail!(
            "aria2c failed on the magnet ({status}){}",
            aria.stderr_tail()
        );
    }
    swarm.check_copy(&out, "aria2c")?;
    ctx.note("aria2c fetched the metadata and the data from bt seed by magnet, intact");
    drop(seed);
    Ok(())
}

fn pex_in(ctx: &Ctx) -> anyhow::Result<()> {
    let p = payload(ctx)?;
    let (seed, s_port) = lt_seed(ctx, "lt-seed-S", &p.torrent, &p.seed_dir)?;
    // A downloads from S, with PEX on, and uploads slowly: bt must find S to finish in time.
    let a_dir = ctx.path("lt-A");
    std::fs::create_dir_all(&a_dir)?;
    let mut a = LT_MAGNET
        .command(ctx, "lt-A")?
        .args([
            "download".as_ref(),
            p.torrent.as_os_str(),
            a_dir.as_os_str(),
            "--peer".as_ref(),
            format!("127.0.0.1:{s_port}").as_ref(),
            "--pex".as_ref(),
            "--upload-limit".as_ref(),
            "20000".as_ref(),
            // A is still downloading from S (about 100 s) when its second ut_pex message,
            // a minute after the first, names S (libtorrent's first message to a new peer
            // comes before it counts S as sendable).
            "--download-limit".as_ref(),
            "40000".as_ref(),
            "--timeout".as_ref(),
            "170".as_ref(),
        ])
        .start()?;
    let a_addr = lt_listen_port(ctx, &mut a)?;
    let out = ctx.path("bt-download");
    let mut bt = bt_download(
        ctx,
        "bt-download",
        p.torrent.to_str().unwrap_or_default(),
        &out,
        &[a_addr],
        &[],
    )?;
    let summary = bt_summary(ctx, &mut bt)?;
    check_copy(&p, &out, "bt download")?;
    let s_addr = format!("127.0.0.1:{s_port}");
    let peers = summary["peers"].as_array().cloned().unwrap_or_default();
    let s_entry = peers.iter().find(|e| e["addr"] == s_addr.as_str());
    match s_entry {
        Some(e) if e["source"] == "pex" => {}
        other => bail!("bt's peer list has S ({s_addr}) as {other:?}, not from pex: {summary}"),
    }
    ctx.note(format!(
        "bt learnt the seed {s_addr} through libtorrent's PEX and completed in {:.2} s",
        summary["seconds"].as_f64().unwrap_or(0.0)
    ));
    drop(a);
    drop(seed);
    Ok(())
}

/// The listening port libtorrent printed (`LISTENING port=P`).
fn lt_listen_port(ctx: &Ctx, lt: &mut Managed) -> anyhow::Result<u16> {
    let line = lt.wait_for_line("LISTENING port=", ctx.deadline())?;
    port_after(&line, "port=")
}

fn pex_out(ctx: &Ctx) -> anyhow::Result<()> {
    let p = payload(ctx)?;
    let (seed, s_port) = lt_seed(ctx, "lt-seed-S", &p.torrent, &p.seed_dir)?;
    // bt downloads slowly from S, so it is still at it when libtorrent arrives.
    let out = ctx.path("bt-download");
    let mut bt = ctx
        .spawn("bt-download", ctx.bt()?)
        .arg("download")
        .arg(&p.torrent)
        .arg("--output")
        .arg(&out)
        .args(["--port", "0", "--bind", "127.0.0.1", "--json"])
        .args(["--seed-time", "0", "--max-download-rate", "300K"])
        .arg("--peer")
        .arg(format!("127.0.0.1:{s_port}"))
        .start()?;
    let line = bt.wait_for_line("listening for peers on", ctx.deadline())?;
    let bt_port = port_after(&line, "127.0.0.1:")?;
    let l_dir = ctx.path("lt-L");
    std::fs::create_dir_all(&l_dir)?;
    let stdout = LT_MAGNET.run(
        ctx,
        "lt-L",
        [
            "download".as_ref(),
            p.torrent.as_os_str(),
            l_dir.as_os_str(),
            "--peer".as_ref(),
            format!("127.0.0.1:{bt_port}").as_ref(),
            "--pex".as_ref(),
            "--watch-pex".as_ref(),
            format!("127.0.0.1:{s_port}").as_ref(),
            "--timeout".as_ref(),
            "60".as_ref(),
        ],
    )?;
    let Some(found) = stdout.lines().find(|l| l.starts_with("PEX_PEER")) else {
        bail!("libtorrent never listed S (port {s_port}) with the pex source:\n{stdout}");
    };
    ctx.note(format!("libtorrent learnt S from bt's PEX: {found}"));
    let summary = bt_summary(ctx, &mut bt)?;
    check_copy(&p, &out, "bt download")?;
    if summary["complete"] != true {
        bail!("bt download did not complete: {summary}");
    }
    drop(seed);
    Ok(())
}

fn metadata_timing(ctx: &Ctx) -> anyhow::Result<()> {
    // 10,000 small files with long names: over 1 MiB of `info` dictionary.
    let top = ctx.path("seed").join("many");
    std::fs::create_dir_all(&top)?;
    for i in 0..10_000u32 {
        let name = format!("{i:05}-a-file-name-long-enough-to-make-the-info-dictionary-larger-than-one-mebibyte-{i:05}.txt");
        std::fs::write(top.join(name), format!("file {i}\n"))?;
    }
    let torrent = ctx.path("many.torrent");
    make_torrent(ctx, &top, &torrent, &["-l", "16K"])?;
    let info_len = std::fs::metadata(&torrent)?.len();
    if info_len < 1 << 20 {
        bail!("the torrent is only {info_len} bytes: not over 1 MiB of metadata");
    }
    let magnet = magnet_of(ctx, &torrent)?;
    let (seed, port) = lt_seed(ctx, "lt-seed", &torrent, &ctx.path("seed"))?;
    let mut lt_times = Vec::new();
    let mut bt_times = Vec::new();
    for round in 0..3 {
        let dir = ctx.path(format!("lt-{round}"));
        std::fs::create_dir_all(&dir)?;
        let out = LT_MAGNET.run(
            ctx,
            &format!("lt-fetch-{round}"),
            [
                "fetch".as_ref(),
                magnet.as_ref(),
                dir.as_os_str(),
                "--peer".as_ref(),
                format!("127.0.0.1:{port}").as_ref(),
                "--metadata-only".as_ref(),
                "--timeout".as_ref(),
                "60".as_ref(),
            ],
        )?;
        let line = out
            .lines()
            .find(|l| l.starts_with("METADATA seconds="))
            .with_context(|| format!("libtorrent fetched no metadata:\n{out}"))?;
        lt_times.push(seconds_after(line, "seconds=")?);
        let dir = ctx.path(format!("bt-{round}"));
        // The seed has uTP off (lt_session): bt dials TCP at once, as libtorrent's fetch
        // with uTP off does, so both are timed the same way.
        let mut bt = bt_download(
            ctx,
            &format!("bt-fetch-{round}"),
            &magnet,
            &dir,
            &[port],
            &["--transport", "tcp"],
        )?;
        let line = bt.wait_for_line("metadata fetched", ctx.deadline())?;
        bt_times.push(seconds_after(&line, " in ")?);
        drop(bt);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (lt, bt) = (median(&mut lt_times), median(&mut bt_times));
    let report = format!(
        "{info_len}-byte torrent, 10,000 files: metadata in {bt:.3} s by bt, {lt:.3} s by libtorrent (medians of 3: bt {bt_times:?}, libtorrent {lt_times:?})"
    );
    if bt > lt {
        bail!("bt was slower than libtorrent: {report}");
    }
    ctx.note(report);
    drop(seed);
    Ok(())
}

/// The number of seconds after `key` in `line` (`0.123s` or `0.123`).
fn seconds_after(line: &str, key: &str) -> anyhow::Result<f64> {
    let rest = line
        .rsplit_once(key)
        .with_context(|| format!("no {key:?} in {line:?}"))?
        .1;
    let number: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    number
        .parse()
        .with_context(|| format!("no seconds after {key:?} in {line:?}"))
}

fn restart(ctx: &Ctx) -> anyhow::Result<()> {
    let p = payload(ctx)?;
    // The seed uploads slowly, so the first run is killed half way.
    let (seed, port) = bt_seed_of(ctx, &p, &["--max-upload-rate", "400K"])?;
    let out = ctx.path("bt-download");
    let mut first = bt_download(ctx, "bt-first", &p.magnet, &out, &[port], &[])?;
    first.wait_for_line("metadata fetched", ctx.deadline())?;
    // Let some pieces arrive (and a resume save happen) before the kill.
    let until = Instant::now() + Duration::from_secs(6);
    while Instant::now() < until && first.try_status()?.is_none() {
        std::thread::sleep(Duration::from_millis(100));
    }
    if first.try_status()?.is_some() {
        bail!(
            "the first run ended before it could be killed{}",
            first.stderr_tail()
        );
    }
    first.signal("KILL")?;
    first.wait_exit(ctx.deadline())?;
    let mut second = bt_download(ctx, "bt-second", &p.magnet, &out, &[port], &[])?;
    let summary = bt_summary(ctx, &mut second)?;
    check_copy(&p, &out, "bt download after the restart")?;
    let stderr = String::from_utf8_lossy(&second.stderr()?).into_owned();
    if stderr.contains("fetching metadata") || !stderr.contains("not fetched again") {
        bail!("the restart fetched the metadata again:\n{stderr}");
    }
    if summary["pieces_at_start"].as_u64().unwrap_or(0) == 0 {
        bail!("the restart kept no piece from the first run: {summary}");
    }
    ctx.note(format!(
        "restart after SIGKILL: metadata kept, {} of {} pieces from the first run",
        summary["pieces_at_start"], summary["pieces"]
    ));
    drop(seed);
    Ok(())
}
