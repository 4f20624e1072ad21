//! Case `libtorrent-seed-bt-sqlite`: `bt download --storage sqlite:PATH` from a libtorrent seed
//! capped at 4 MiB/s keeps the pieces as blobs in an SQLite database; then `bt stream` over the
//! same database (hashed again on open, no peer) serves the file, which must equal the seed's.

use std::time::Duration;

use anyhow::{ensure, Context as _};

use super::peer_clients::{bt_download_with, bt_finished, libtorrent_with, Swarm, FILE};
use super::stream::{bt_stream, SEED_RATE};
use super::Case;
use crate::interop::context::Ctx;
use crate::interop::packages;

pub(super) const CASE: Case = Case {
    name: "libtorrent-seed-bt-sqlite",
    about: "bt download --storage sqlite:PATH from libtorrent, then the file read back through bt stream",
    timeout: Duration::from_secs(120),
    run,
};

fn run(ctx: &Ctx) -> anyhow::Result<()> {
    packages::require(&[("curl", "curl")])?;
    let swarm = Swarm::new(ctx)?;
    let rate = SEED_RATE.to_string();
    let seed = libtorrent_with(
        ctx,
        "lt-seed",
        &[&swarm.torrent],
        &swarm.seed_dir,
        true,
        &["--upload-rate", &rate],
    )?;
    swarm.wait_seeds(ctx, 1, "the libtorrent seed")?;
    let db = ctx.path("pieces.sqlite");
    let storage = format!("sqlite:{}", db.display());
    let dir = ctx.path("bt-download");
    let mut bt = bt_download_with(
        ctx,
        "bt-download",
        &swarm,
        &dir,
        0,
        &["--storage", &storage],
    )?;
    let summary = bt_finished(ctx, &mut bt)?;
    ensure!(
        summary["complete"] == true && summary["pieces_fetched"] == summary["pieces"],
        "bt download into SQLite ended incomplete: {summary}"
    );
    ensure!(
        !dir.join(FILE).exists(),
        "--storage sqlite wrote {} as a file too",
        dir.join(FILE).display()
    );
    drop(seed);
    // Read back through the engine's Reader: bt stream over the database, no peer.
    let (mut stream, base) = bt_stream(
        ctx,
        &swarm.torrent,
        &ctx.path("bt-stream"),
        &["--storage", &storage],
    )?;
    let url = format!("{base}files/0/{FILE}");
    let got = ctx
        .spawn("curl-full", "curl")
        .args(["-s", "-S", "-f", "--max-time", "30"])
        .arg(&url)
        .run(ctx.deadline())?;
    let want = std::fs::read(swarm.seed_dir.join(FILE)).context("reading the seed's data")?;
    ensure!(
        got == want,
        "the file read back from SQLite differs ({} of {} bytes)",
        got.len(),
        want.len()
    );
    stream.signal("INT")?;
    stream.wait_exit(ctx.deadline())?;
    ctx.note(format!(
        "{} pieces into SQLite in {:.2} s, read back intact",
        summary["pieces"],
        summary["seconds"].as_f64().unwrap_or(0.0)
    ));
    Ok(())
}
