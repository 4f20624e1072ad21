//! Web-seed cases (BEP 19) with nginx as the web server: `web-seed-nginx` (bt from nginx
//! alone, single- and multi-file; a server that ignores ranges is refused; libtorrent reads a
//! `bt make --web-seed` torrent from nginx alone), `web-seed-lt-peer` (a web seed and a
//! libtorrent seed together) and `web-seed-corrupt` (a web seed with a corrupt file is dropped
//! and a good peer completes the download).

use std::path::Path;

use anyhow::{bail, Context as _};

use super::peer_clients::{bt_finished, libtorrent_of, LT_PEER};
use super::tracker_swarm::BtTracker;
use super::{Case, DEFAULT_TIMEOUT};
use crate::interop::context::Ctx;
use crate::interop::data;
use crate::interop::nginx::{Nginx, Site};
use crate::interop::process::Managed;

pub(super) const NGINX: Case = Case {
    name: "web-seed-nginx",
    about: "bt download from an nginx web seed alone (single 20 MiB, multi-file), 200-to-range refused, libtorrent reads bt make --web-seed",
    timeout: DEFAULT_TIMEOUT,
    run: nginx_alone,
};

pub(super) const WITH_PEER: Case = Case {
    name: "web-seed-lt-peer",
    about: "bt download from an nginx web seed and a libtorrent seed together: bytes from both",
    timeout: DEFAULT_TIMEOUT,
    run: with_peer,
};

pub(super) const CORRUPT: Case = Case {
    name: "web-seed-corrupt",
    about: "a web seed serving a corrupt file is dropped; a libtorrent seed completes the download",
    timeout: DEFAULT_TIMEOUT,
    run: corrupt,
};

/// `bt make DATA -o OUT EXTRA...`.
pub(super) fn bt_make(ctx: &Ctx, data: &Path, out: &Path, extra: &[&str]) -> anyhow::Result<()> {
    ctx.spawn("bt-make", ctx.bt()?)
        .arg("make")
        .arg(data)
        .arg("-o")
        .arg(out)
        .args(["--force", "--no-date"])
        .args(extra)
        .run(ctx.deadline())
        .map(drop)
}

/// `bt download SOURCE --output DIR --json --seed-time 0 EXTRA...`.
pub(super) fn bt_get(
    ctx: &Ctx,
    name: &str,
    source: &str,
    dir: &Path,
    extra: &[&str],
) -> anyhow::Result<Managed> {
    ctx.spawn(name, ctx.bt()?)
        .arg("download")
        .arg(source)
        .arg("--output")
        .arg(dir)
        .args([
            "--port",
            "0",
            "--bind",
            "127.0.0.1",
            "--json",
            "--seed-time",
            "0",
        ])
        .args(extra)
        .start()
}

/// Fails unless `got` holds the same bytes as `want` (a file, or a directory compared file by
/// file).
pub(super) fn same(want: &Path, got: &Path, who: &str) -> anyhow::Result<()> {
    if want.is_dir() {
        for entry in std::fs::read_dir(want)? {
            let entry = entry?;
            same(&entry.path(), &got.join(entry.file_name()), who)?;
        }
        return Ok(());
    }
    let (a, b) = (std::fs::read(want)?, std::fs::read(got));
    let b = b.with_context(|| format!("{who}: reading {}", got.display()))?;
    if a != b {
        bail!("{who}: {} differs from {}", got.display(), want.display());
    }
    Ok(())
}

/// The `--json` summary's bytes from web seeds and from peers.
fn sources(summary: &serde_json::Value) -> (u64, u64) {
    (
        summary["downloaded_from_web_seeds"].as_u64().unwrap_or(0),
        summary["downloaded_from_peers"].as_u64().unwrap_or(0),
    )
}

fn nginx_alone(ctx: &Ctx) -> anyhow::Result<()> {
    let www = ctx.path("www");
    let single = www.join("single.bin");
    data::write_file(&single, 20 * 1024 * 1024 + 4321, 11)?;
    let multi = www.join("multi");
    data::write_set(
        &multi,
        &[
            ("a.bin", 300_001),
            ("sub/b.bin", 1_000_003),
            ("c.bin", 77_777),
        ],
        12,
    )?;
    // /norange/ answers every range request with 200 and the whole file.
    let extra = format!(
        "location /norange/ {{ alias {}/; max_ranges 0; }}",
        www.display()
    );
    let nginx = Nginx::start(
        ctx,
        "nginx",
        &Site {
            root: &www,
            extra: &extra,
            tls: None,
        },
    )?;

    // `bt make DATA -l PIECE -w URL` and `bt download` of it, started.
    let start = |name: &str,
                 data: &Path,
                 piece: &str,
                 url: &str|
     -> anyhow::Result<(Managed, std::path::PathBuf, std::path::PathBuf)> {
        let torrent = ctx.path(format!("{name}.torrent"));
        bt_make(ctx, data, &torrent, &["-l", piece, "-w", url])?;
        let dl = ctx.path(name);
        let bt = bt_get(ctx, name, &torrent.display().to_string(), &dl, &[])?;
        Ok((bt, dl, torrent))
    };

    // Single file, 80 pieces of 256 KiB: many range requests.
    let (mut bt, dl, t1) = start("bt-single", &single, "256K", &nginx.url("single.bin"))?;
    let summary = bt_finished(ctx, &mut bt)?;
    let (web, peers) = sources(&summary);
    if summary["complete"] != true || web == 0 || peers != 0 {
        bail!("single-file web-seed download: {summary}");
    }
    same(&single, &dl.join("single.bin"), "bt (single file)")?;
    ctx.note(format!(
        "single file: {web} bytes from nginx in {:.2} s, identical",
        summary["seconds"].as_f64().unwrap_or(0.0)
    ));

    // Multi-file, 64 KiB pieces spanning the file boundaries; the URL names the directory.
    let (mut bt, dl, _) = start("bt-multi", &multi, "64K", &nginx.url(""))?;
    let summary = bt_finished(ctx, &mut bt)?;
    if summary["complete"] != true {
        bail!("multi-file web-seed download: {summary}");
    }
    same(&multi, &dl.join("multi"), "bt (multi-file)")?;
    ctx.note("multi-file: complete from nginx, identical");

    // A server that ignores Range: refused, nothing written.
    let norange = nginx.url("norange/single.bin");
    let (mut bt, _, _) = start("bt-norange", &single, "256K", &norange)?;
    let line = bt.wait_for_line("answered 200 to a range request", ctx.deadline())?;
    bt.signal("INT")?;
    bt.wait_exit(ctx.deadline())?;
    let summary: serde_json::Value = serde_json::from_slice(&bt.stdout()?)?;
    if summary["have"] != 0 {
        bail!("bt took data from a server that ignores ranges: {summary}");
    }
    ctx.note(format!("200 to a range request refused: {}", line.trim()));

    // libtorrent reads the torrent bt made, from nginx alone.
    let lt_dir = ctx.path("lt-single");
    let args: Vec<&std::ffi::OsStr> = vec![
        "download".as_ref(),
        t1.as_os_str(),
        lt_dir.as_os_str(),
        "--timeout".as_ref(),
        "120".as_ref(),
    ];
    let mut lt = LT_PEER.spawn(ctx, "lt-webseed", args)?;
    lt.wait_for_line("COMPLETE", ctx.deadline())?;
    same(&single, &lt_dir.join("single.bin"), "libtorrent")?;
    ctx.note("libtorrent downloaded the bt make --web-seed torrent from nginx alone, identical");
    Ok(())
}

/// nginx serving `web_root` (with `extra` directives), a tracker, a libtorrent seed of `data`,
/// and `bt download` of a torrent with the web seed `web_path` on that nginx.
fn swarm_download(
    ctx: &Ctx,
    data: &Path,
    web_root: &Path,
    extra: &str,
    web_path: &str,
) -> anyhow::Result<(serde_json::Value, std::path::PathBuf)> {
    let site = Site {
        root: web_root,
        extra,
        tls: None,
    };
    let nginx = Nginx::start(ctx, "nginx", &site)?;
    let web_url = &nginx.url(web_path);
    let tracker = &BtTracker::start(
        ctx,
        "bt-tracker",
        &["--interval", "5", "--min-interval", "1"],
    )?;
    let torrent = ctx.path("swarm.torrent");
    let announce = format!("http://{}/announce", tracker.addr);
    bt_make(
        ctx,
        data,
        &torrent,
        &["-l", "256K", "-t", &announce, "-w", web_url],
    )?;
    let parent = data.parent().context("data has a parent")?;
    let _seed = libtorrent_of(ctx, "lt-seed", &[&torrent], parent, true)?;
    let dl = ctx.path("bt-download");
    // The libtorrent seed runs with uTP off (lt_session), so bt dials it over TCP at once:
    // under the default `both`, nginx would serve all 12 MiB within uTP's 250 ms head start.
    let mut bt = bt_get(
        ctx,
        "bt-download",
        &torrent.display().to_string(),
        &dl,
        &["--transport", "tcp"],
    )?;
    let summary = bt_finished(ctx, &mut bt)?;
    Ok((summary, dl))
}

fn with_peer(ctx: &Ctx) -> anyhow::Result<()> {
    let seed = ctx.path("seed");
    let file = seed.join("payload.bin");
    data::write_file(&file, 12 * 1024 * 1024 + 99, 21)?;
    // nginx slow enough per connection that the libtorrent seed gets its share.
    let (summary, dl) = swarm_download(ctx, &file, &seed, "limit_rate 1m;", "payload.bin")?;
    let (web, peers) = sources(&summary);
    if summary["complete"] != true || web == 0 || peers == 0 {
        bail!("web seed + libtorrent: expected bytes from both: {summary}");
    }
    same(&file, &dl.join("payload.bin"), "bt")?;
    ctx.note(format!(
        "complete and identical: {web} bytes from nginx, {peers} from libtorrent"
    ));
    Ok(())
}

fn corrupt(ctx: &Ctx) -> anyhow::Result<()> {
    let seed = ctx.path("seed");
    let set = seed.join("set");
    data::write_set(
        &set,
        &[("big.bin", 6 * 1024 * 1024), ("small.bin", 700_001)],
        31,
    )?;
    // The web server's copy of big.bin has one byte changed in every 64 KiB.
    let bad = ctx.path("bad");
    let mut bytes = std::fs::read(set.join("big.bin"))?;
    for i in (0..bytes.len()).step_by(65_536) {
        bytes[i] ^= 0x5a;
    }
    std::fs::create_dir_all(bad.join("set"))?;
    std::fs::write(bad.join("set/big.bin"), bytes)?;
    std::fs::copy(set.join("small.bin"), bad.join("set/small.bin"))?;
    let (summary, dl) = swarm_download(ctx, &set, &bad, "", "")?;
    let dropped = &summary["web_seeds"][0]["dropped"];
    if summary["complete"] != true || !dropped.is_string() {
        bail!("corrupt web seed: expected a complete download and the seed dropped: {summary}");
    }
    same(&set, &dl.join("set"), "bt")?;
    ctx.note(format!(
        "complete and identical from libtorrent; the web seed was dropped: {dropped} ({} hash failures)",
        summary["hash_failures"]
    ));
    Ok(())
}
