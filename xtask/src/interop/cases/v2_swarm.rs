//! BitTorrent v2 (BEP 52) swarms on loopback through `bt tracker`, every copy checksummed:
//! - `libtorrent-seed-bt-v2`: libtorrent seeds a v2-only torrent, `bt download` fetches it
//!   (pieces checked against the Merkle trees);
//! - `bt-seed-libtorrent-v2`: `bt seed` serves a v2-only torrent to a libtorrent download;
//! - `hybrid-swarm`: `bt seed` serves a hybrid torrent to libtorrent (a v2 client); rtorrent
//!   (a v1-only client) fetches it from both; then, with the others gone, `bt download` fetches
//!   it from rtorrent alone: bt speaks v1 to a v1-only peer of the hybrid.
//!
//! aria2c 1.36 cannot be in any hybrid swarm: the info-hash it announces for a hybrid (from the
//! .torrent and from a magnet alike) is the SHA-1 of `info` re-encoded without the `file tree`'s
//! `""` entries, not of its bytes (libtorrent, rtorrent and bt agree on that one), so it never
//! meets the other peers. Transmission 3.00 refuses hybrid torrents as unparsable.
//!
//! The torrents are libtorrent's own (`create_torrent`); v2-only peers announce and handshake
//! with the v2 info-hash truncated to 20 bytes.

use anyhow::{bail, Context as _};

use super::peer_clients::{bt_download_checked, bt_seed, libtorrent, Swarm, DATA_LEN, FILE};
use super::rtorrent::Rtorrent;
use super::tracker_swarm::BtTracker;
use super::{Case, DEFAULT_TIMEOUT};
use crate::interop::context::Ctx;
use crate::interop::data;
use crate::interop::python::CREATE_TORRENT;

pub(super) const LIBTORRENT_SEEDS_BT: Case = Case {
    name: "libtorrent-seed-bt-v2",
    about: "libtorrent seeds a v2-only torrent -> bt download, checksum",
    timeout: DEFAULT_TIMEOUT,
    run: libtorrent_seeds_bt,
};

pub(super) const BT_SEEDS_LIBTORRENT: Case = Case {
    name: "bt-seed-libtorrent-v2",
    about: "bt seed of a v2-only torrent -> libtorrent download, checksum",
    timeout: DEFAULT_TIMEOUT,
    run: bt_seeds_libtorrent,
};

pub(super) const HYBRID: Case = Case {
    name: "hybrid-swarm",
    about:
        "bt seed -> libtorrent (v2) -> rtorrent (v1) from both -> bt download from rtorrent alone, checksums",
    timeout: DEFAULT_TIMEOUT,
    run: hybrid_swarm,
};

impl Swarm {
    /// Like [`Swarm::new`], with a v2-only (`hybrid` false) or hybrid torrent made by
    /// libtorrent (256 KiB pieces); `hash` is what peers announce: the v1 info-hash of a hybrid,
    /// the truncated v2 one of a v2-only torrent.
    fn new_v2(ctx: &Ctx, hybrid: bool) -> anyhow::Result<Swarm> {
        Swarm::new_v2_with(ctx, hybrid, &[])
    }

    /// [`Swarm::new_v2`] with `tracker_args` for `bt tracker` (`--trust-ip-param`).
    pub(super) fn new_v2_with(
        ctx: &Ctx,
        hybrid: bool,
        tracker_args: &[&str],
    ) -> anyhow::Result<Swarm> {
        let mut args = vec!["--interval", "5", "--min-interval", "1"];
        args.extend_from_slice(tracker_args);
        let tracker = BtTracker::start(ctx, "bt-tracker", &args)?;
        let seed_dir = ctx.path("seed");
        let file = seed_dir.join(FILE);
        data::write_file(&file, DATA_LEN, 6)?;
        let torrent = ctx.path("payload.torrent");
        let url = format!("http://{}/announce", tracker.addr);
        let mut args = vec![
            "--piece-size".into(),
            "262144".into(),
            "--tracker".into(),
            url.into(),
            "--both".into(),
            file.clone().into_os_string(),
            torrent.clone().into_os_string(),
        ];
        if !hybrid {
            args.insert(0, "--v2-only".into());
        }
        let out = CREATE_TORRENT.run(ctx, "create-torrent", args)?;
        let (v1, v2) = out
            .trim()
            .split_once(' ')
            .with_context(|| format!("create_torrent.py printed {out:?}"))?;
        let hex = if hybrid { v1 } else { &v2[..40] };
        let hash = crate::interop::hex::decode20(hex).context("create_torrent.py output")?;
        Ok(Swarm {
            tracker,
            seed_dir,
            torrent,
            hash,
        })
    }
}

fn libtorrent_seeds_bt(ctx: &Ctx) -> anyhow::Result<()> {
    let swarm = Swarm::new_v2(ctx, false)?;
    let seed = libtorrent(ctx, "lt-seed", &swarm, &swarm.seed_dir, true)?;
    swarm.wait_seeds(ctx, 1, "the libtorrent v2 seed")?;
    bt_download_checked(ctx, &swarm, "libtorrent (v2-only)", &[])?;
    drop(seed);
    Ok(())
}

/// Waits for a libtorrent download to exit 0 and checks its copy.
fn libtorrent_done(
    ctx: &Ctx,
    swarm: &Swarm,
    lt: &mut crate::interop::process::Managed,
    dir: &std::path::Path,
) -> anyhow::Result<()> {
    let status = lt.wait_exit(ctx.deadline())?;
    if !status.success() {
        bail!("{} failed ({status}){}", lt.name(), lt.stderr_tail());
    }
    swarm.check_copy(dir, lt.name())
}

fn bt_seeds_libtorrent(ctx: &Ctx) -> anyhow::Result<()> {
    let swarm = Swarm::new_v2(ctx, false)?;
    let seed = bt_seed(ctx, &swarm)?;
    swarm.wait_seeds(ctx, 1, "the bt v2 seed")?;
    let dir = ctx.path("lt-download");
    let mut lt = libtorrent(ctx, "lt-download", &swarm, &dir, false)?;
    libtorrent_done(ctx, &swarm, &mut lt, &dir)?;
    ctx.note("libtorrent downloaded the v2-only torrent from bt seed, intact");
    drop(seed);
    Ok(())
}

fn hybrid_swarm(ctx: &Ctx) -> anyhow::Result<()> {
    let swarm = Swarm::new_v2(ctx, true)?;
    let seed = bt_seed(ctx, &swarm)?;
    swarm.wait_seeds(ctx, 1, "the bt hybrid seed")?;
    let lt_dir = ctx.path("lt-download");
    let mut lt = libtorrent(ctx, "lt-download", &swarm, &lt_dir, false)?;
    libtorrent_done(ctx, &swarm, &mut lt, &lt_dir)?;
    ctx.note("libtorrent (v2) downloaded the hybrid torrent from bt seed, intact");
    let lt_seed = libtorrent(ctx, "lt-seed", &swarm, &lt_dir, true)?;
    swarm.wait_seeds(ctx, 2, "bt seed and the libtorrent seed")?;

    let rt_dir = ctx.path("rtorrent-download");
    let mut rt = Rtorrent::start(ctx, "rtorrent", &swarm.torrent, &rt_dir)?;
    rt.wait_complete(ctx.deadline())?;
    swarm.check_copy(&rt_dir, "rtorrent")?;
    ctx.note(
        "rtorrent (v1 only) downloaded the hybrid torrent from bt seed and libtorrent, intact",
    );
    // rtorrent 0.9.8 seeds on but announces no `completed` (the tracker keeps it as a
    // leecher): bt download meets it in the tracker's peer list all the same.

    drop(lt_seed);
    drop(seed);
    bt_download_checked(ctx, &swarm, "rtorrent alone (v1)", &[])?;
    drop(rt);
    Ok(())
}
