//! Cases `libtorrent-seed-bt`, `aria2-seed-bt` and `transmission-seed-bt`: each real client
//! seeds a few MiB and `bt download` fetches it through `bt tracker`; the copy must match.

use std::time::Duration;

use super::peer_clients::{aria2, libtorrent, Swarm, Transmission};
use super::{Case, DEFAULT_TIMEOUT};
use crate::interop::context::Ctx;

pub(super) const LIBTORRENT: Case = Case {
    name: "libtorrent-seed-bt",
    about: "libtorrent seed -> bt download through bt tracker, checksum",
    timeout: DEFAULT_TIMEOUT,
    run: from_libtorrent,
};

pub(super) const ARIA2: Case = Case {
    name: "aria2-seed-bt",
    about: "aria2c seed -> bt download through bt tracker, checksum",
    timeout: DEFAULT_TIMEOUT,
    run: from_aria2,
};

pub(super) const TRANSMISSION: Case = Case {
    name: "transmission-seed-bt",
    about: "transmission-daemon seed -> bt download through bt tracker, checksum",
    timeout: Duration::from_secs(150),
    run: from_transmission,
};

/// `bt download` until complete; checks the copy and that every piece came over the wire.
fn download(ctx: &Ctx, swarm: &Swarm, from: &str) -> anyhow::Result<()> {
    super::peer_clients::bt_download_checked(ctx, swarm, from, &[])
}

fn from_libtorrent(ctx: &Ctx) -> anyhow::Result<()> {
    let swarm = Swarm::new(ctx)?;
    let seed = libtorrent(ctx, "lt-seed", &swarm, &swarm.seed_dir, true)?;
    swarm.wait_seeds(ctx, 1, "the libtorrent seed")?;
    download(ctx, &swarm, "libtorrent")?;
    drop(seed);
    Ok(())
}

fn from_aria2(ctx: &Ctx) -> anyhow::Result<()> {
    let swarm = Swarm::new(ctx)?;
    let seed = aria2(ctx, "aria2-seed", &swarm, &swarm.seed_dir, true)?;
    swarm.wait_seeds(ctx, 1, "the aria2c seed")?;
    download(ctx, &swarm, "aria2c")?;
    drop(seed);
    Ok(())
}

fn from_transmission(ctx: &Ctx) -> anyhow::Result<()> {
    let swarm = Swarm::new(ctx)?;
    let tr = Transmission::start(ctx, "transmission", &swarm.seed_dir)?;
    tr.add(ctx, &swarm.torrent, &swarm.seed_dir)?;
    tr.wait_done(ctx, "checking its data")?;
    swarm.wait_seeds(ctx, 1, "the transmission seed")?;
    download(ctx, &swarm, "transmission")?;
    drop(tr);
    Ok(())
}
