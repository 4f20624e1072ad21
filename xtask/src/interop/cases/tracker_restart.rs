//! Case `tracker-restart`: `bt tracker` keeps its swarms across a crash. 1,000 peers announce over
//! 100 torrents, the tracker is killed with SIGKILL after a periodic dfile save, restarted on the
//! same dfile, and then scrapes show the same counts and announces return the old peers.

use std::time::{Duration, SystemTime};

use anyhow::{bail, Context as _};

use super::tracker_swarm::BtTracker;
use super::{Case, DEFAULT_TIMEOUT};
use crate::interop::announce::{self, Announce};
use crate::interop::context::Ctx;
use crate::interop::http;
use crate::interop::process::POLL;

pub(super) const CASE: Case = Case {
    name: "tracker-restart",
    about: "bt tracker: 1,000 peers over 100 torrents survive SIGKILL after a dfile save",
    timeout: DEFAULT_TIMEOUT,
    run,
};

const TORRENTS: u8 = 100;
const PEERS_PER_TORRENT: u16 = 10;
/// Peers `0..SEEDS` of each torrent are seeds.
const SEEDS: u16 = 3;

fn hash(t: u8) -> [u8; 20] {
    let mut h = [0x5a; 20];
    h[0] = t;
    h[19] = t.wrapping_mul(7);
    h
}

fn port(t: u8, p: u16) -> u16 {
    10_000 + u16::from(t) * 100 + p
}

fn peer(t: u8, p: u16) -> Announce {
    let mut a = Announce::new(
        hash(t),
        announce::peer_id(&format!("r{t:03}p{p:02}")),
        port(t, p),
        if p < SEEDS { 0 } else { 1000 },
    );
    a.event = Some("started");
    a
}

/// The compact `peers` string of an announce reply.
fn compact_peers(body: &[u8]) -> anyhow::Result<Vec<u16>> {
    let key = b"5:peers";
    let at = body
        .windows(key.len())
        .position(|w| w == key)
        .with_context(|| format!("no peers in {}", body.escape_ascii()))?
        + key.len();
    let colon = body[at..]
        .iter()
        .position(|&b| b == b':')
        .context("peers length")?
        + at;
    let len: usize = std::str::from_utf8(&body[at..colon])?.parse()?;
    let bytes = &body[colon + 1..colon + 1 + len];
    Ok(bytes
        .chunks(6)
        .map(|c| u16::from_be_bytes([c[4], c[5]]))
        .collect())
}

fn run(ctx: &Ctx) -> anyhow::Result<()> {
    let dfile = ctx.path("dstate");
    let dfile_arg = dfile.display().to_string();
    let args = [
        "--dfile",
        dfile_arg.as_str(),
        "--save-interval",
        "1",
        "--quiet",
    ];
    let mut first = BtTracker::start(ctx, "bt-tracker-1", &args)?;
    for t in 0..TORRENTS {
        for p in 0..PEERS_PER_TORRENT {
            let reply = http::get(first.addr, &peer(t, p).target(), ctx.deadline())?;
            if reply.body.windows(7).any(|w| w == b"failure") {
                bail!("announce refused: {}", reply.body.escape_ascii());
            }
        }
    }
    let last_announce = SystemTime::now();
    let mut before = Vec::new();
    for t in 0..TORRENTS {
        before.push(first.scrape(ctx, &hash(t))?);
    }
    if before
        .iter()
        .any(|&c| c != (i64::from(SEEDS), i64::from(PEERS_PER_TORRENT - SEEDS)))
    {
        bail!("before the restart the counts are already wrong: {before:?}");
    }
    // Wait for a periodic save that began after the last announce.
    loop {
        let saved = std::fs::metadata(&dfile).and_then(|m| m.modified());
        if saved.is_ok_and(|m| m > last_announce + Duration::from_millis(10)) {
            break;
        }
        if std::time::Instant::now() >= ctx.deadline() {
            bail!("{} was not saved after the announces", dfile.display());
        }
        std::thread::sleep(POLL);
    }
    first.process.signal("KILL")?;
    let status = first.process.wait_exit(ctx.deadline())?;
    ctx.note(format!(
        "1,000 peers announced, dfile saved, tracker killed ({status})"
    ));

    let mut second = BtTracker::start(ctx, "bt-tracker-2", &args)?;
    second
        .process
        .wait_for_line("loaded 1000 peers in 100 torrents", ctx.deadline())?;
    for t in 0..TORRENTS {
        let after = second.scrape(ctx, &hash(t))?;
        if after != before[usize::from(t)] {
            bail!(
                "torrent {t}: scrape {after:?} after the restart, {:?} before",
                before[usize::from(t)]
            );
        }
    }
    for t in 0..TORRENTS {
        let mut newcomer =
            Announce::new(hash(t), announce::peer_id(&format!("new{t:03}")), 9, 1000);
        newcomer.event = Some("started");
        let reply = http::get(second.addr, &newcomer.target(), ctx.deadline())?;
        let mut ports = compact_peers(&reply.body)?;
        ports.sort_unstable();
        let want: Vec<u16> = (0..PEERS_PER_TORRENT).map(|p| port(t, p)).collect();
        if ports != want {
            bail!("torrent {t}: announce after the restart gave peers {ports:?}, expected the old {want:?}");
        }
    }
    ctx.note("after the restart: same scrape counts for all 100 torrents, announces return the old peers");
    Ok(())
}
