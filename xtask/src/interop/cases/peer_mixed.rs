//! Case `mixed-swarm`: a `bt seed`, then `bt download`, libtorrent and aria2c downloaders at
//! once, all through `bt tracker`; everyone finishes with an intact copy, the `bt`
//! downloader uploads to the others while it seeds on, and the seed's burden stays small: it
//! uploads at most 1.5 times the file (it hands out distinct pieces; the others trade).

use anyhow::bail;

use super::peer_clients::{aria2, bt_download, bt_finished, bt_seed, libtorrent, Swarm, DATA_LEN};
use super::{Case, DEFAULT_TIMEOUT};
use crate::interop::context::Ctx;

pub(super) const CASE: Case = Case {
    name: "mixed-swarm",
    about: "bt seed + bt, libtorrent and aria2c downloaders in one swarm, all intact, seed <= 1.5x",
    timeout: DEFAULT_TIMEOUT,
    run,
};

fn run(ctx: &Ctx) -> anyhow::Result<()> {
    let swarm = Swarm::new(ctx)?;
    let mut seed = bt_seed(ctx, &swarm)?;
    swarm.wait_seeds(ctx, 1, "the bt seed")?;
    let (bt_dir, lt_dir, aria_dir) = (
        ctx.path("bt-download"),
        ctx.path("lt-download"),
        ctx.path("aria2-download"),
    );
    // bt seeds on after completing, for the others; stopped with SIGTERM below.
    let mut bt = bt_download(ctx, "bt-download", &swarm, &bt_dir, 120)?;
    let mut lt = libtorrent(ctx, "lt-download", &swarm, &lt_dir, false)?;
    let mut aria = aria2(ctx, "aria2-download", &swarm, &aria_dir, false)?;
    for (p, who) in [(&mut lt, "libtorrent"), (&mut aria, "aria2c")] {
        let status = p.wait_exit(ctx.deadline())?;
        if !status.success() {
            bail!(
                "{who} failed in the mixed swarm ({status}){}",
                p.stderr_tail()
            );
        }
    }
    swarm.wait_seeds(ctx, 2, "the bt downloader as a seed")?;
    bt.signal("TERM")?;
    let summary = bt_finished(ctx, &mut bt)?;
    if summary["complete"] != true || summary["ended"] != "signal" {
        bail!("bt download in the mixed swarm: {summary}");
    }
    for (dir, who) in [
        (&bt_dir, "bt"),
        (&lt_dir, "libtorrent"),
        (&aria_dir, "aria2c"),
    ] {
        swarm.check_copy(dir, who)?;
    }
    seed.signal("TERM")?;
    let seeded = bt_finished(ctx, &mut seed)?;
    let seed_up = seeded["uploaded"].as_u64().unwrap_or(u64::MAX);
    let ratio = seed_up as f64 / DATA_LEN as f64;
    ctx.note(format!(
        "bt, libtorrent and aria2c all finished intact; bt downloaded {} and uploaded {} bytes; the bt seed uploaded {seed_up} bytes = {ratio:.2}x the file",
        summary["downloaded"], summary["uploaded"]
    ));
    if ratio > 1.5 {
        bail!(
            "the bt seed uploaded {ratio:.2}x the file to 3 downloaders (at most 1.5x): {seeded}"
        );
    }
    Ok(())
}
