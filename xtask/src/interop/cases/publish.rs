//! Case `bt-publish`: `bt publish` makes a torrent, uploads it to `bt tracker --allowed-dir`'s
//! `/publish` and seeds it; `bt download` and aria2c both fetch the hosted .torrent URL and
//! finish with copies that match byte for byte.

use std::path::PathBuf;

use anyhow::{bail, Context as _};

use super::peer_clients::{aria2, Swarm, DATA_LEN, FILE};
use super::tracker_swarm::BtTracker;
use super::{Case, DEFAULT_TIMEOUT};
use crate::interop::context::Ctx;
use crate::interop::{data, hex};

pub(super) const CASE: Case = Case {
    name: "bt-publish",
    about:
        "bt publish -> bt tracker /publish; bt download and aria2c fetch the hosted URL, checksum",
    timeout: DEFAULT_TIMEOUT,
    run,
};

fn run(ctx: &Ctx) -> anyhow::Result<()> {
    let allowed = ctx.path("allowed");
    std::fs::create_dir_all(&allowed)?;
    let allowed_arg = allowed.to_str().context("a UTF-8 case directory")?;
    let tracker = BtTracker::start(
        ctx,
        "bt-tracker",
        &[
            "--interval",
            "5",
            "--min-interval",
            "1",
            "--allowed-dir",
            allowed_arg,
            "--publish-token",
            "s3cret",
        ],
    )?;
    let seed_dir = ctx.path("seed");
    data::write_file(&seed_dir.join(FILE), DATA_LEN, 11)?;
    let announce = format!("http://{}/announce", tracker.addr);
    let mut publish = ctx
        .spawn("bt-publish", ctx.bt()?)
        .current_dir(&seed_dir)
        .args(["publish", FILE, "--tracker", &announce, "--token", "s3cret"])
        .args(["--port", "0", "--bind", "127.0.0.1"])
        .start()?;
    let line = publish.wait_for_line("torrent: http://", ctx.deadline())?;
    let url = line
        .split_once("torrent: ")
        .map(|(_, u)| u.trim())
        .with_context(|| format!("bt publish printed {line:?}"))?
        .to_owned();
    publish.wait_for_line("magnet:?xt=urn:btih:", ctx.deadline())?;
    publish.wait_for_line("listening for peers", ctx.deadline())?;
    let hex_hash = url
        .strip_suffix(".torrent")
        .and_then(|u| u.rsplit('/').next())
        .with_context(|| format!("{url}: not a /torrents/HASH.torrent URL"))?;
    let hash = hex::decode20(hex_hash).with_context(|| format!("the info-hash in {url}"))?;
    if !allowed.join(format!("{hex_hash}.torrent")).is_file() {
        bail!("the tracker did not write {hex_hash}.torrent into its --allowed-dir");
    }
    ctx.note(format!(
        "bt publish hosted the torrent at {url} and seeds it"
    ));
    let swarm = Swarm {
        tracker,
        seed_dir,
        // aria2c takes the hosted URL where the other cases give it a file.
        torrent: PathBuf::from(&url),
        hash,
    };
    swarm.wait_seeds(ctx, 1, "the publishing seed")?;

    let bt_dir = ctx.path("bt-download");
    let mut bt = ctx
        .spawn("bt-download", ctx.bt()?)
        .args(["download", &url, "--output"])
        .arg(&bt_dir)
        .args(["--port", "0", "--bind", "127.0.0.1", "--seed-time", "0"])
        .start()?;
    let status = bt.wait_exit(ctx.deadline())?;
    if !status.success() {
        bail!("bt download {url} failed ({status}){}", bt.stderr_tail());
    }
    swarm.check_copy(&bt_dir, "bt download")?;
    ctx.note("bt download of the hosted URL made an intact copy");

    let aria_dir = ctx.path("aria2-download");
    let mut down = aria2(ctx, "aria2-download", &swarm, &aria_dir, false)?;
    let status = down.wait_exit(ctx.deadline())?;
    if !status.success() {
        bail!("aria2c {url} failed ({status}){}", down.stderr_tail());
    }
    swarm.check_copy(&aria_dir, "aria2c")?;
    ctx.note("aria2c of the hosted URL made an intact copy");
    drop(publish);
    Ok(())
}
