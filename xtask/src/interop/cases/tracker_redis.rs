//! Case `tracker-redis`: two `bt tracker` processes keep their swarms in one Redis
//! (`--store redis://...`, Debian package redis-server). libtorrent seeds through tracker A;
//! aria2c, given a torrent naming only tracker B, finds the seed there and downloads an identical
//! file: the trackers share one swarm view.

use anyhow::{bail, Context as _};

use super::tracker_swarm::{aria2, make_torrent, same_bytes, BtTracker, LT_PEER};
use super::{Case, DEFAULT_TIMEOUT};
use crate::interop::context::Ctx;
use crate::interop::packages;
use crate::interop::python::libtorrent_v1_torrent;
use crate::interop::redis::Redis;

pub(super) const CASE: Case = Case {
    name: "tracker-redis",
    about: "libtorrent seeds through bt tracker A, aria2c downloads through bt tracker B; both keep swarms in one Redis",
    timeout: DEFAULT_TIMEOUT,
    run,
};

fn run(ctx: &Ctx) -> anyhow::Result<()> {
    packages::require(&[("aria2c", "aria2")])?;
    let redis = Redis::start(ctx, "redis")?;
    let url = redis.url(0);
    let flags = [
        "--store",
        &url,
        "--udp-secret",
        "interop",
        "--interval",
        "5",
        "--min-interval",
        "1",
    ];
    let a = BtTracker::start(ctx, "bt-tracker-a", &flags)?;
    let b = BtTracker::start(ctx, "bt-tracker-b", &flags)?;
    let (seed_dir, torrent_a, hash) = make_torrent(ctx, &format!("http://{}/announce", a.addr))?;
    // The same data announced to tracker B only: the same info-hash, another announce URL.
    let torrent_b = ctx.path("payload-b.torrent");
    let hash_b = libtorrent_v1_torrent(
        ctx,
        &seed_dir.join("payload.bin"),
        &format!("http://{}/announce", b.addr),
        &torrent_b,
    )?;
    if hash_b != hash {
        bail!("the two torrents of one file have different info-hashes");
    }

    let mut seed = LT_PEER.spawn(
        ctx,
        "lt-seed",
        [
            "seed".as_ref(),
            torrent_a.as_os_str(),
            seed_dir.as_os_str(),
            "--timeout".as_ref(),
            "170".as_ref(),
        ],
    )?;
    seed.wait_for_line("SEEDING", ctx.deadline())?;
    // The seed announced to A only; B sees it through Redis.
    b.wait_counts(
        ctx,
        &hash,
        "the libtorrent seed (announced to tracker A)",
        |(s, _)| s == 1,
        ctx.deadline(),
    )?;
    ctx.note("libtorrent seeds through tracker A; tracker B's scrape shows it");

    let down_dir = ctx.path("aria2-download");
    let mut down = aria2(ctx, "aria2-download", &torrent_b, &down_dir, false, false)?;
    let status = down.wait_exit(ctx.deadline())?;
    if !status.success() {
        bail!(
            "aria2c download through tracker B failed ({status}){}",
            down.stderr_tail()
        );
    }
    same_bytes(&seed_dir.join("payload.bin"), &down_dir.join("payload.bin"))?;
    let (sa, sb) = (a.stats(ctx)?, b.stats(ctx)?);
    let announces = |s: &serde_json::Value| s["requests"]["http_announce"].as_u64().unwrap_or(0);
    if announces(&sa) == 0 || announces(&sb) == 0 {
        bail!("expected announces on both trackers: A {sa}, B {sb}");
    }
    if sa["store"]["kind"] != "redis" || sa["seeders"] != sb["seeders"] {
        bail!("the trackers disagree: A {sa}, B {sb}");
    }
    let seeders = sb["seeders"].as_u64().context("seeders in /stats.json")?;
    ctx.note(format!(
        "aria2c downloaded through tracker B, intact; both trackers report {seeders} seeders"
    ));
    drop(seed);
    drop(redis);
    Ok(())
}
