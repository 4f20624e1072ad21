//! Case `show`: `bt show --json` gives libtorrent's info-hash, file count and size for torrents
//! made by mktorrent, transmission-create and libtorrent (v1 and hybrid), single- and multi-file.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use serde_json::Value;

use super::{Case, DEFAULT_TIMEOUT};
use crate::interop::context::Ctx;
use crate::interop::python::{CHECK_DATA, CREATE_TORRENT};
use crate::interop::{data, packages};

pub(super) const CASE: Case = Case {
    name: "show",
    about: "bt show --json agrees with libtorrent on mktorrent, transmission-create and libtorrent torrents",
    timeout: DEFAULT_TIMEOUT,
    run,
};

const ALBUM: &[(&str, u64)] = &[
    ("a/one.bin", 70_001),
    ("a/two.bin", 1),
    ("b.bin", 65_536),
    ("\u{65e5}\u{672c}.txt", 12_345),
];
const SINGLE_LEN: u64 = 200_000;
const TRACKER: &str = "http://127.0.0.1:9/announce";

fn run(ctx: &Ctx) -> anyhow::Result<()> {
    packages::require(&[
        ("mktorrent", "mktorrent"),
        ("transmission-create", "transmission-cli"),
    ])?;
    let bt = ctx.bt()?;
    let data_dir = ctx.path("data");
    data::write_file(&data_dir.join("single.bin"), SINGLE_LEN, 3)?;
    data::write_set(&data_dir.join("album"), ALBUM, 300)?;
    std::fs::create_dir_all(ctx.path("torrents"))?;

    let mut torrents: Vec<PathBuf> = Vec::new();
    for (label, name) in [("single", "single.bin"), ("multi", "album")] {
        let source = data_dir.join(name);
        let out = |maker: &str| ctx.path(format!("torrents/{maker}-{label}.torrent"));
        ctx.spawn(&format!("mktorrent-{label}"), "mktorrent")
            .args(["-l", "15", "-a", TRACKER, "-o"])
            .arg(out("mktorrent"))
            .arg(&source)
            .run(ctx.deadline())?;
        ctx.spawn(
            &format!("transmission-create-{label}"),
            "transmission-create",
        )
        .args(["-s", "32", "-t", TRACKER, "-o"])
        .arg(out("transmission"))
        .arg(&source)
        .run(ctx.deadline())?;
        for (maker, v1_only) in [("libtorrent-v1", true), ("libtorrent-hybrid", false)] {
            let mut args = vec![
                "--piece-size".into(),
                "32768".into(),
                "--tracker".into(),
                TRACKER.into(),
            ];
            if v1_only {
                args.push("--v1-only".into());
            }
            args.push(source.clone().into_os_string());
            args.push(out(maker).into_os_string());
            CREATE_TORRENT.run(ctx, &format!("{maker}-{label}"), args)?;
        }
        torrents.extend(
            [
                "mktorrent",
                "transmission",
                "libtorrent-v1",
                "libtorrent-hybrid",
            ]
            .map(out),
        );
    }

    // libtorrent's view: NAME HASH HAVE PIECES FILES SIZE per torrent.
    let mut args = vec![data_dir.clone().into_os_string()];
    args.extend(torrents.iter().map(|t| t.clone().into_os_string()));
    let lt = CHECK_DATA.run(ctx, "libtorrent", args)?;
    let lt: Vec<&str> = lt.lines().collect();
    if lt.len() != torrents.len() {
        bail!(
            "check_data.py printed {} lines for {} torrents",
            lt.len(),
            torrents.len()
        );
    }
    let mut disagreements = Vec::new();
    for (torrent, line) in torrents.iter().zip(&lt) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let [.., hash, _have, pieces, files, size] = cols[..] else {
            bail!("check_data.py printed {line:?}");
        };
        let json = bt_show(ctx, bt, torrent)?;
        let ours = [
            json["info_hash"].as_str().unwrap_or_default().to_owned(),
            json["piece_count"].to_string(),
            json["file_count"].to_string(),
            json["total_size"].to_string(),
        ];
        let theirs = [hash, pieces, files, size].map(str::to_owned);
        let name = torrent.file_name().unwrap_or_default().to_string_lossy();
        if ours != theirs {
            disagreements.push(format!(
                "  {name}: bt show says hash/pieces/files/size {ours:?}, libtorrent {theirs:?}"
            ));
        } else {
            ctx.note(format!("{name}: {}", ours[0]));
        }
    }
    if !disagreements.is_empty() {
        bail!(
            "bt show and libtorrent disagree:\n{}",
            disagreements.join("\n")
        );
    }
    ctx.note(format!(
        "bt show agrees with libtorrent on all {} torrents",
        torrents.len()
    ));
    Ok(())
}

fn bt_show(ctx: &Ctx, bt: &Path, torrent: &Path) -> anyhow::Result<Value> {
    let stem = torrent.file_stem().unwrap_or_default().to_string_lossy();
    let out = ctx
        .spawn(&format!("bt-show-{stem}"), bt)
        .args(["show", "--json"])
        .arg(torrent)
        .run(ctx.deadline())?;
    serde_json::from_slice(&out)
        .with_context(|| format!("bt show --json {} printed invalid JSON", torrent.display()))
}
