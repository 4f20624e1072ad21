//! The protocol-encryption (MSE/PE) cases: real clients that require RC4 meet `bt seed` and
//! `bt download --encryption require` both ways, and `--encryption prefer` still fetches from an
//! aria2c seed that wants plaintext. Each copy must match byte for byte; a client that forces
//! RC4 refuses any plaintext connection, so a finished transfer proves the encryption.

use std::time::Duration;

use anyhow::bail;

use super::peer_clients::{
    aria2_with, bt_download_with, bt_finished, bt_seed_with, libtorrent_with, Swarm, Transmission,
};
use super::{Case, DEFAULT_TIMEOUT};
use crate::interop::context::Ctx;

pub(super) const BT_SEEDS_LIBTORRENT: Case = Case {
    name: "mse-bt-seed-libtorrent",
    about: "bt seed --encryption require -> libtorrent with RC4 forced, checksum",
    timeout: DEFAULT_TIMEOUT,
    run: bt_seeds_libtorrent,
};

pub(super) const LIBTORRENT_SEEDS_BT: Case = Case {
    name: "mse-libtorrent-seed-bt",
    about: "libtorrent with RC4 forced -> bt download --encryption require, checksum",
    timeout: DEFAULT_TIMEOUT,
    run: libtorrent_seeds_bt,
};

pub(super) const BT_SEEDS_TRANSMISSION: Case = Case {
    name: "mse-bt-seed-transmission",
    about:
        "bt seed --encryption require dials transmission-daemon with encryption required, checksum",
    timeout: Duration::from_secs(150),
    run: bt_seeds_transmission,
};

pub(super) const BT_SEEDS_ARIA2: Case = Case {
    name: "mse-bt-seed-aria2",
    about: "bt seed --encryption require -> aria2c --bt-require-crypto (arc4), checksum",
    timeout: DEFAULT_TIMEOUT,
    run: bt_seeds_aria2,
};

pub(super) const ARIA2_SEEDS_BT: Case = Case {
    name: "mse-aria2-seed-bt",
    about: "aria2c --bt-require-crypto (arc4) -> bt download --encryption require, checksum",
    timeout: DEFAULT_TIMEOUT,
    run: aria2_seeds_bt,
};

pub(super) const PREFER_FROM_PLAIN_ARIA2: Case = Case {
    name: "mse-prefer-aria2-plain-seed-bt",
    about: "aria2c seed that selects plaintext -> bt download --encryption prefer, checksum",
    timeout: DEFAULT_TIMEOUT,
    run: prefer_from_plain_aria2,
};

const REQUIRE: &[&str] = &["--encryption", "require"];
const ARIA2_RC4: &[&str] = &["--bt-require-crypto=true", "--bt-min-crypto-level=arc4"];

/// `bt download` with `extra` until complete; checks the copy.
fn download(ctx: &Ctx, swarm: &Swarm, from: &str, extra: &[&str]) -> anyhow::Result<()> {
    let dir = ctx.path("bt-download");
    let mut bt = bt_download_with(ctx, "bt-download", swarm, &dir, 0, extra)?;
    let summary = bt_finished(ctx, &mut bt)?;
    if summary["complete"] != true || summary["pieces_fetched"] != summary["pieces"] {
        bail!("bt download from {from} ended incomplete: {summary}");
    }
    swarm.check_copy(&dir, "bt download")?;
    ctx.note(format!(
        "bt download {extra:?} fetched {} pieces from {from} in {:.2} s, intact",
        summary["pieces"],
        summary["seconds"].as_f64().unwrap_or(0.0)
    ));
    Ok(())
}

fn bt_seeds_libtorrent(ctx: &Ctx) -> anyhow::Result<()> {
    let swarm = Swarm::new(ctx)?;
    let seed = bt_seed_with(ctx, &swarm, REQUIRE)?;
    swarm.wait_seeds(ctx, 1, "the bt seed")?;
    let dir = ctx.path("lt-download");
    let mut down = libtorrent_with(
        ctx,
        "lt-download",
        &[&swarm.torrent],
        &dir,
        false,
        &["--rc4"],
    )?;
    let status = down.wait_exit(ctx.deadline())?;
    if !status.success() {
        bail!(
            "libtorrent (RC4 forced) download failed ({status}){}",
            down.stderr_tail()
        );
    }
    swarm.check_copy(&dir, "libtorrent")?;
    ctx.note(
        "libtorrent with RC4 forced downloaded an intact copy from bt seed --encryption require",
    );
    drop(seed);
    Ok(())
}

fn libtorrent_seeds_bt(ctx: &Ctx) -> anyhow::Result<()> {
    let swarm = Swarm::new(ctx)?;
    let seed = libtorrent_with(
        ctx,
        "lt-seed",
        &[&swarm.torrent],
        &swarm.seed_dir,
        true,
        &["--rc4"],
    )?;
    swarm.wait_seeds(ctx, 1, "the libtorrent seed")?;
    download(ctx, &swarm, "libtorrent (RC4 forced)", REQUIRE)?;
    drop(seed);
    Ok(())
}

fn bt_seeds_transmission(ctx: &Ctx) -> anyhow::Result<()> {
    let swarm = Swarm::new(ctx)?;
    let seed = bt_seed_with(ctx, &swarm, REQUIRE)?;
    swarm.wait_seeds(ctx, 1, "the bt seed")?;
    let dir = ctx.path("tr-download");
    let tr = Transmission::start_with(ctx, "transmission", &dir, 2)?;
    tr.add(ctx, &swarm.torrent, &dir)?;
    // Transmission announces; bt seed hears of it at its next announce and dials it, with MSE.
    tr.wait_done(ctx, "downloading from bt seed")?;
    swarm.check_copy(&dir, "transmission")?;
    ctx.note("transmission with encryption required downloaded an intact copy from bt seed");
    drop(seed);
    Ok(())
}

fn bt_seeds_aria2(ctx: &Ctx) -> anyhow::Result<()> {
    let swarm = Swarm::new(ctx)?;
    let seed = bt_seed_with(ctx, &swarm, REQUIRE)?;
    swarm.wait_seeds(ctx, 1, "the bt seed")?;
    let dir = ctx.path("aria2-download");
    let mut down = aria2_with(
        ctx,
        "aria2-download",
        &[&swarm.torrent],
        &dir,
        false,
        ARIA2_RC4,
    )?;
    let status = down.wait_exit(ctx.deadline())?;
    if !status.success() {
        bail!(
            "aria2c (RC4 required) download failed ({status}){}",
            down.stderr_tail()
        );
    }
    swarm.check_copy(&dir, "aria2c")?;
    ctx.note(
        "aria2c with RC4 required downloaded an intact copy from bt seed --encryption require",
    );
    drop(seed);
    Ok(())
}

fn aria2_seeds_bt(ctx: &Ctx) -> anyhow::Result<()> {
    let swarm = Swarm::new(ctx)?;
    let seed = aria2_with(
        ctx,
        "aria2-seed",
        &[&swarm.torrent],
        &swarm.seed_dir,
        true,
        ARIA2_RC4,
    )?;
    swarm.wait_seeds(ctx, 1, "the aria2c seed")?;
    download(ctx, &swarm, "aria2c (RC4 required)", REQUIRE)?;
    drop(seed);
    Ok(())
}

fn prefer_from_plain_aria2(ctx: &Ctx) -> anyhow::Result<()> {
    let swarm = Swarm::new(ctx)?;
    let plain = ["--bt-require-crypto=false", "--bt-min-crypto-level=plain"];
    let seed = aria2_with(
        ctx,
        "aria2-seed",
        &[&swarm.torrent],
        &swarm.seed_dir,
        true,
        &plain,
    )?;
    swarm.wait_seeds(ctx, 1, "the aria2c seed")?;
    download(
        ctx,
        &swarm,
        "aria2c (plaintext)",
        &["--encryption", "prefer"],
    )?;
    drop(seed);
    Ok(())
}
