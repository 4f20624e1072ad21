//! The uTP (BEP 29) cases: real clients with TCP off (libtorrent, with
//! `shared/interop/lt_forced.py utp`'s settings) or uTP on (Transmission 3.00) meet `bt seed`
//! and `bt download --transport utp` both ways. TCP is off on the other side, so a finished,
//! checksummed copy proves the bytes crossed uTP; each side's peer list must also say uTP.

use std::time::{Duration, Instant};

use anyhow::bail;

use super::peer_clients::{
    bt_download_with, bt_finished, bt_seed_with, libtorrent_with, Swarm, Transmission,
};
use super::{Case, DEFAULT_TIMEOUT};
use crate::interop::context::Ctx;
use crate::interop::process::Managed;

pub(super) const BT_SEEDS_LIBTORRENT: Case = Case {
    name: "utp-bt-seed-libtorrent",
    about: "bt seed --transport utp -> libtorrent with TCP off, checksum, the seed lists it as uTP",
    timeout: DEFAULT_TIMEOUT,
    run: bt_seeds_libtorrent,
};

pub(super) const LIBTORRENT_SEEDS_BT: Case = Case {
    name: "utp-libtorrent-seed-bt",
    about: "libtorrent with TCP off -> bt download --transport utp, checksum, peer list uTP",
    timeout: DEFAULT_TIMEOUT,
    run: libtorrent_seeds_bt,
};

pub(super) const BT_SEEDS_TRANSMISSION: Case = Case {
    name: "utp-bt-seed-transmission",
    about: "bt seed --transport utp dials transmission-daemon (uTP on) over uTP, checksum",
    timeout: Duration::from_secs(150),
    run: bt_seeds_transmission,
};

const UTP: &[&str] = &["--transport", "utp", "--no-dht"];

/// libtorrent's `PEER ip:port utp=1` line (printed by `tracker_lt_peer.py --utp`): it met a
/// peer over uTP.
fn libtorrent_saw_utp(ctx: &Ctx, lt: &mut Managed) -> anyhow::Result<()> {
    let line = lt.wait_for_line(
        "utp=1",
        ctx.deadline_in(Duration::from_secs(10)).min(ctx.deadline()),
    )?;
    ctx.note(format!("libtorrent's peer list: {line}"));
    Ok(())
}

/// Every peer in a `bt --json` summary ran over uTP (and there was one).
fn all_utp(summary: &serde_json::Value, who: &str) -> anyhow::Result<()> {
    let peers = summary["peers"].as_array().cloned().unwrap_or_default();
    if peers.is_empty() || peers.iter().any(|p| p["transport"] != "utp") {
        bail!(
            "{who}: the peer list does not show uTP: {}",
            summary["peers"]
        );
    }
    Ok(())
}

fn bt_seeds_libtorrent(ctx: &Ctx) -> anyhow::Result<()> {
    let swarm = Swarm::new(ctx)?;
    let mut seed = bt_seed_with(ctx, &swarm, UTP)?;
    swarm.wait_seeds(ctx, 1, "the bt seed")?;
    let dir = ctx.path("lt-download");
    let mut lt = libtorrent_with(
        ctx,
        "lt-download",
        &[&swarm.torrent],
        &dir,
        false,
        &["--utp"],
    )?;
    let status = lt.wait_exit(ctx.deadline())?;
    if !status.success() {
        bail!(
            "libtorrent (TCP off) download failed ({status}){}",
            lt.stderr_tail()
        );
    }
    swarm.check_copy(&dir, "libtorrent (TCP off)")?;
    // A 4 MiB copy over loopback may finish between two of libtorrent's peer-list samples:
    // the seed's own peer list (its `--json` summary on SIGTERM) is the check here;
    // libtorrent's view of uTP is checked in `utp-libtorrent-seed-bt`.
    seed.signal("TERM")?;
    let summary = bt_finished(ctx, &mut seed)?;
    all_utp(&summary, "bt seed")?;
    ctx.note(format!(
        "libtorrent with TCP off downloaded an intact copy from bt seed --transport utp; the seed's peers {}",
        summary["peers"]
    ));
    Ok(())
}

fn libtorrent_seeds_bt(ctx: &Ctx) -> anyhow::Result<()> {
    let swarm = Swarm::new(ctx)?;
    let mut lt = libtorrent_with(
        ctx,
        "lt-seed",
        &[&swarm.torrent],
        &swarm.seed_dir,
        true,
        &["--utp"],
    )?;
    swarm.wait_seeds(ctx, 1, "libtorrent (TCP off)")?;
    let dir = ctx.path("bt-download");
    let mut bt = bt_download_with(ctx, "bt-download", &swarm, &dir, 0, UTP)?;
    let summary = bt_finished(ctx, &mut bt)?;
    if summary["complete"] != true || summary["pieces_fetched"] != summary["pieces"] {
        bail!("bt download --transport utp from libtorrent ended incomplete: {summary}");
    }
    swarm.check_copy(&dir, "bt download --transport utp")?;
    all_utp(&summary, "bt download")?;
    libtorrent_saw_utp(ctx, &mut lt)?;
    ctx.note(format!(
        "bt download --transport utp fetched {} pieces from libtorrent (TCP off) in {:.2} s, intact; peers {}",
        summary["pieces"],
        summary["seconds"].as_f64().unwrap_or(0.0),
        summary["peers"]
    ));
    Ok(())
}

fn bt_seeds_transmission(ctx: &Ctx) -> anyhow::Result<()> {
    let swarm = Swarm::new(ctx)?;
    let dir = ctx.path("tr-download");
    let tr = Transmission::start_opts(ctx, "transmission", &dir, 1, true)?;
    tr.add(ctx, &swarm.torrent, &dir)?;
    // Transmission never dials 127.x: the seed dials it, over uTP only.
    let peer = format!("127.0.0.1:{}", tr.peer_port);
    let mut args = UTP.to_vec();
    args.extend(["--peer", &peer]);
    let seed = bt_seed_with(ctx, &swarm, &args)?;
    // Transmission's peer list marks a uTP peer with `T`; poll it while the copy comes in (two
    // seeds drop each other once it is done).
    let mut saw_utp = None;
    loop {
        if saw_utp.is_none() {
            let peers = tr.remote(ctx, &["-t", "1", "-pi"]).unwrap_or_default();
            saw_utp = peers
                .lines()
                .skip(1)
                .find(|l| l.split_whitespace().nth(1).is_some_and(|f| f.contains('T')))
                .map(str::to_owned);
        }
        if tr.field(ctx, "Percent Done")? == "100%" {
            break;
        }
        if Instant::now() >= ctx.deadline() {
            let info = tr.remote(ctx, &["-t", "1", "-i"]).unwrap_or_default();
            bail!("transmission never finished downloading from bt seed over uTP:\n{info}");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    swarm.check_copy(&dir, "transmission (uTP)")?;
    let Some(line) = saw_utp else {
        bail!("transmission's peer list never showed the bt seed as a uTP (T) peer");
    };
    ctx.note(format!(
        "transmission downloaded an intact copy from bt seed --transport utp; its peer list: {}",
        line.trim()
    ));
    drop(seed);
    Ok(())
}
