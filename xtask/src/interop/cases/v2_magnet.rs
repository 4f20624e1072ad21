//! BEP 52 magnet links (`urn:btmh:`) against libtorrent, every copy checksummed:
//! - `v2-magnet-libtorrent-seed-bt`: libtorrent seeds a v2-only torrent and a hybrid one;
//!   `bt download` of each one's magnet link (`--peer`, no tracker) fetches the metadata
//!   (checked by SHA-256 for the v2-only link), for the v2-only one the piece layers by hash
//!   requests, then the data;
//! - `v2-magnet-bt-seed`: `bt seed` of a v2-only torrent; libtorrent given its v2 magnet link
//!   fetches the metadata and asks bt for the piece layer (bt answers the hash requests), then
//!   the data. A v2-only magnet gives libtorrent no piece hashes at all, so it cannot check (and
//!   so complete) a single piece unless bt served the layer with a valid proof.
//!
//! The torrents are bt's (`bt make --v2`/`--hybrid`, which give libtorrent's info-hashes) in
//! 64 KiB pieces, so the 4 MiB payload's piece layer has 65 hashes to fetch and prove.

use std::time::Instant;

use anyhow::{bail, Context as _};

use super::magnet::{
    bt_download, bt_summary, check_copy, lt_seed, magnet_of, make_torrent, Payload, LT_MAGNET,
};
use super::peer_clients::{DATA_LEN, FILE};
use super::{Case, DEFAULT_TIMEOUT};
use crate::interop::context::Ctx;
use crate::interop::data;

pub(super) const FROM_LIBTORRENT: Case = Case {
    name: "v2-magnet-libtorrent-seed-bt",
    about: "bt download of v2-only and hybrid magnets from libtorrent seeds: metadata, piece layers, data, checksums",
    timeout: DEFAULT_TIMEOUT,
    run: from_libtorrent,
};

pub(super) const TO_LIBTORRENT: Case = Case {
    name: "v2-magnet-bt-seed",
    about: "libtorrent given a v2-only magnet and the bt seed's address: metadata, piece layer (bt answers hash requests), data",
    timeout: DEFAULT_TIMEOUT,
    run: to_libtorrent,
};

/// The payload in `NAME/seed` with a `--v2` or `--hybrid` torrent of it and its magnet link.
fn payload_v2(ctx: &Ctx, name: &str, kind: &str) -> anyhow::Result<Payload> {
    let seed_dir = ctx.path(name).join("seed");
    data::write_file(&seed_dir.join(FILE), DATA_LEN, 21)?;
    let torrent = ctx.path(name).join("payload.torrent");
    make_torrent(ctx, &seed_dir.join(FILE), &torrent, &["-l", "64K", kind])?;
    let magnet = magnet_of(ctx, &torrent)?;
    if !magnet.contains("xt=urn:btmh:1220") || (kind == "--v2") == magnet.contains("urn:btih") {
        bail!("bt magnet of a {kind} torrent wrote {magnet}");
    }
    Ok(Payload {
        seed_dir,
        torrent,
        magnet,
    })
}

fn from_libtorrent(ctx: &Ctx) -> anyhow::Result<()> {
    for (name, kind) in [("v2", "--v2"), ("hybrid", "--hybrid")] {
        let p = payload_v2(ctx, name, kind)?;
        let (seed, port) = lt_seed(ctx, &format!("lt-seed-{name}"), &p.torrent, &p.seed_dir)?;
        let out = ctx.path(name).join("bt-download");
        let started = Instant::now();
        let mut bt = bt_download(
            ctx,
            &format!("bt-download-{name}"),
            &p.magnet,
            &out,
            &[port],
            &[],
        )?;
        let summary = bt_summary(ctx, &mut bt)?;
        if summary["complete"] != true {
            bail!("bt download of the {name} magnet from libtorrent ended incomplete: {summary}");
        }
        check_copy(&p, &out, &format!("bt download ({name})"))?;
        let stderr = String::from_utf8_lossy(&bt.stderr()?).into_owned();
        let fetched = stderr
            .lines()
            .find(|l| l.contains("metadata fetched"))
            .with_context(|| format!("bt never said it fetched the metadata:\n{stderr}"))?;
        // The kept torrent carries what was fetched: for the v2-only link, its piece layers.
        let kept = std::fs::read_dir(&out)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.to_string_lossy().ends_with(".bt-metadata.torrent"))
            .context("bt kept no metadata torrent")?;
        let kept = torrentkit_metainfo::Torrent::read(&kept)?;
        let complete = kept
            .v2_pieces()
            .is_some_and(|v| v.iter().all(Option::is_some));
        if kind == "--v2" && !complete {
            bail!("the kept torrent of the v2-only magnet lacks piece layers");
        }
        ctx.note(format!(
            "bt: {name} magnet from libtorrent: {fetched}; {} pieces, {:.2} s in all, intact",
            summary["pieces"],
            started.elapsed().as_secs_f64()
        ));
        drop(seed);
    }
    Ok(())
}

fn to_libtorrent(ctx: &Ctx) -> anyhow::Result<()> {
    let p = payload_v2(ctx, "v2", "--v2")?;
    let mut seed = ctx
        .spawn("bt-seed", ctx.bt()?)
        .arg("seed")
        .arg(&p.torrent)
        .arg(p.seed_dir.join(FILE))
        .args(["--port", "0", "--bind", "127.0.0.1"])
        .start()?;
    let line = seed.wait_for_line("listening for peers on", ctx.deadline())?;
    let port: u16 = line
        .rsplit_once("127.0.0.1:")
        .map(|(_, r)| {
            r.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
        })
        .and_then(|d| d.parse().ok())
        .with_context(|| format!("no port in {line:?}"))?;
    let out = ctx.path("lt-download");
    std::fs::create_dir_all(&out)?;
    let started = Instant::now();
    let stdout = LT_MAGNET.run(
        ctx,
        "lt-fetch",
        [
            "fetch".as_ref(),
            p.magnet.as_ref(),
            out.as_os_str(),
            "--peer".as_ref(),
            format!("127.0.0.1:{port}").as_ref(),
            "--timeout".as_ref(),
            "120".as_ref(),
        ],
    )?;
    let (Some(meta), true) = (
        stdout.lines().find(|l| l.starts_with("METADATA")),
        stdout.contains("COMPLETE"),
    ) else {
        bail!("libtorrent did not get the metadata and data of the v2 magnet from bt:\n{stdout}");
    };
    check_copy(&p, &out, "libtorrent")?;
    ctx.note(format!(
        "libtorrent fetched the v2-only magnet from bt seed: {meta}, data intact, {:.2} s",
        started.elapsed().as_secs_f64()
    ));
    drop(seed);
    Ok(())
}
