//! The protocol-encryption (MSE/PE) cases: real clients that require RC4 meet `bt seed` and
//! `bt download --encryption require` both ways, and `--encryption prefer` still fetches from an
//! aria2c seed that wants plaintext. Each copy must match byte for byte; a client that forces
//! RC4 refuses any plaintext connection, so a finished transfer proves the encryption.

use std::time::Duration;

use anyhow::bail;

use super::peer_clients::{
    aria2_with, bt_download_checked, bt_seed_with, libtorrent_with, Swarm, Transmission,
};
use super::{Case, DEFAULT_TIMEOUT};
use crate::interop::context::Ctx;
use crate::interop::process::Managed;

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

/// `bt seed --encryption require`, announced; then `downloader` (given the swarm and its
/// directory) must exit 0 with an intact copy.
fn bt_seeds(
    ctx: &Ctx,
    who: &str,
    downloader: impl FnOnce(&Swarm, &std::path::Path) -> anyhow::Result<Managed>,
) -> anyhow::Result<()> {
    let swarm = Swarm::new(ctx)?;
    let seed = bt_seed_with(ctx, &swarm, REQUIRE)?;
    swarm.wait_seeds(ctx, 1, "the bt seed")?;
    let dir = ctx.path("download");
    let mut down = downloader(&swarm, &dir)?;
    let status = down.wait_exit(ctx.deadline())?;
    if !status.success() {
        bail!("{who} download failed ({status}){}", down.stderr_tail());
    }
    swarm.check_copy(&dir, who)?;
    ctx.note(format!(
        "{who} downloaded an intact copy from bt seed --encryption require"
    ));
    drop(seed);
    Ok(())
}

/// `seed` (given the swarm) seeds, announced; then `bt download` with `extra` fetches it all.
fn bt_downloads(
    ctx: &Ctx,
    who: &str,
    extra: &[&str],
    seed: impl FnOnce(&Swarm) -> anyhow::Result<Managed>,
) -> anyhow::Result<()> {
    let swarm = Swarm::new(ctx)?;
    let seed = seed(&swarm)?;
    swarm.wait_seeds(ctx, 1, who)?;
    bt_download_checked(ctx, &swarm, who, extra)?;
    drop(seed);
    Ok(())
}

fn bt_seeds_libtorrent(ctx: &Ctx) -> anyhow::Result<()> {
    bt_seeds(ctx, "libtorrent (RC4 forced)", |swarm, dir| {
        libtorrent_with(
            ctx,
            "lt-download",
            &[&swarm.torrent],
            dir,
            false,
            &["--rc4"],
        )
    })
}

fn libtorrent_seeds_bt(ctx: &Ctx) -> anyhow::Result<()> {
    bt_downloads(ctx, "libtorrent (RC4 forced)", REQUIRE, |swarm| {
        libtorrent_with(
            ctx,
            "lt-seed",
            &[&swarm.torrent],
            &swarm.seed_dir,
            true,
            &["--rc4"],
        )
    })
}

fn bt_seeds_aria2(ctx: &Ctx) -> anyhow::Result<()> {
    bt_seeds(ctx, "aria2c (RC4 required)", |swarm, dir| {
        aria2_with(
            ctx,
            "aria2-download",
            &[&swarm.torrent],
            dir,
            false,
            ARIA2_RC4,
        )
    })
}

fn aria2_seeds_bt(ctx: &Ctx) -> anyhow::Result<()> {
    bt_downloads(ctx, "aria2c (RC4 required)", REQUIRE, |swarm| {
        aria2_with(
            ctx,
            "aria2-seed",
            &[&swarm.torrent],
            &swarm.seed_dir,
            true,
            ARIA2_RC4,
        )
    })
}

fn prefer_from_plain_aria2(ctx: &Ctx) -> anyhow::Result<()> {
    let plain = ["--bt-require-crypto=false", "--bt-min-crypto-level=plain"];
    bt_downloads(
        ctx,
        "aria2c (plaintext)",
        &["--encryption", "prefer"],
        |swarm| {
            aria2_with(
                ctx,
                "aria2-seed",
                &[&swarm.torrent],
                &swarm.seed_dir,
                true,
                &plain,
            )
        },
    )
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
