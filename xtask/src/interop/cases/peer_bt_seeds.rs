//! Cases `bt-seed-libtorrent`, `bt-seed-aria2` and `bt-seed-transmission`: `bt seed` serves a
//! few MiB, found through `bt tracker`, to each real client; the copy must match byte for byte.

use std::time::Duration;

use anyhow::bail;

use super::peer_clients::{aria2, bt_seed, libtorrent, Swarm, Transmission};
use super::{Case, DEFAULT_TIMEOUT};
use crate::interop::context::Ctx;

pub(super) const LIBTORRENT: Case = Case {
    name: "bt-seed-libtorrent",
    about: "bt seed -> libtorrent download through bt tracker, checksum; SIGTERM announces stopped",
    timeout: DEFAULT_TIMEOUT,
    run: to_libtorrent,
};

pub(super) const ARIA2: Case = Case {
    name: "bt-seed-aria2",
    about: "bt seed -> aria2c download through bt tracker, checksum",
    timeout: DEFAULT_TIMEOUT,
    run: to_aria2,
};

pub(super) const TRANSMISSION: Case = Case {
    name: "bt-seed-transmission",
    about: "bt seed -> transmission-daemon download (bt dials it: it never dials 127.x), checksum",
    timeout: Duration::from_secs(150),
    run: to_transmission,
};

fn seeded(ctx: &Ctx) -> anyhow::Result<(Swarm, crate::interop::process::Managed)> {
    let swarm = Swarm::new(ctx)?;
    let seed = bt_seed(ctx, &swarm)?;
    swarm.wait_seeds(ctx, 1, "the bt seed")?;
    ctx.note("bt seed verified its data and announced");
    Ok((swarm, seed))
}

fn to_libtorrent(ctx: &Ctx) -> anyhow::Result<()> {
    let (swarm, mut seed) = seeded(ctx)?;
    // SIGTERM: the seed announces `stopped` (the tracker forgets it) and exits 0.
    seed.signal("TERM")?;
    let status = seed.wait_exit(ctx.deadline())?;
    if !status.success() {
        bail!(
            "bt seed exited with {status} on SIGTERM{}",
            seed.stderr_tail()
        );
    }
    swarm.tracker.wait_counts(
        ctx,
        &swarm.hash,
        "bt seed's `stopped`",
        |(s, _)| s == 0,
        ctx.deadline(),
    )?;
    ctx.note("bt seed announced `stopped` on SIGTERM and exited 0");
    let seed = bt_seed(ctx, &swarm)?;
    swarm.wait_seeds(ctx, 1, "the bt seed, again")?;
    let dir = ctx.path("lt-download");
    let mut down = libtorrent(ctx, "lt-download", &swarm, &dir, false)?;
    let status = down.wait_exit(ctx.deadline())?;
    if !status.success() {
        bail!(
            "libtorrent download failed ({status}){}",
            down.stderr_tail()
        );
    }
    swarm.check_copy(&dir, "libtorrent")?;
    ctx.note("libtorrent downloaded an intact copy from bt seed");
    drop(seed);
    Ok(())
}

fn to_aria2(ctx: &Ctx) -> anyhow::Result<()> {
    let (swarm, seed) = seeded(ctx)?;
    let dir = ctx.path("aria2-download");
    let mut down = aria2(ctx, "aria2-download", &swarm, &dir, false)?;
    let status = down.wait_exit(ctx.deadline())?;
    if !status.success() {
        bail!("aria2c download failed ({status}){}", down.stderr_tail());
    }
    swarm.check_copy(&dir, "aria2c")?;
    ctx.note("aria2c downloaded an intact copy from bt seed");
    drop(seed);
    Ok(())
}

fn to_transmission(ctx: &Ctx) -> anyhow::Result<()> {
    let (swarm, seed) = seeded(ctx)?;
    let dir = ctx.path("tr-download");
    let tr = Transmission::start(ctx, "transmission", &dir)?;
    tr.add(ctx, &swarm.torrent, &dir)?;
    // Transmission announces; bt seed hears of it at its next announce and connects.
    tr.wait_done(ctx, "downloading from bt seed")?;
    swarm.check_copy(&dir, "transmission")?;
    ctx.note("transmission downloaded an intact copy from bt seed");
    drop(seed);
    Ok(())
}
