//! Case `wire`: fresh captures of libtorrent and aria2c talking to each other (downloads, magnet
//! metadata, peer exchange) decode completely with `bt wire-decode`, message by message.
//!
//! The recording is done by `crates/wire/test_data/captures/record.py` (the script that made the
//! crate's fixtures), run here against the installed programs into `target/interop/wire/`.

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context as _};

use super::Case;
use crate::interop::context::Ctx;
use crate::interop::python::{require_libtorrent, PYTHON};
use crate::interop::{packages, workspace};

pub(super) const CASE: Case = Case {
    name: "wire",
    about: "bt wire-decode reads fresh libtorrent/aria2c connections (pieces, ut_metadata, ut_pex) completely",
    timeout: Duration::from_secs(300),
    run,
};

/// Per scenario and sender: lines the decoded stream must contain (after the `@OFFSET `).
const EXPECTED: &[(&str, &str, &[&str])] = &[
    (
        "libtorrent-to-libtorrent",
        "seed-libtorrent",
        &[
            "have all",
            "piece index=0 begin=0 length=16384",
            "piece index=2 begin=0 length=7232",
        ],
    ),
    (
        "libtorrent-to-libtorrent",
        "downloader-libtorrent",
        &["interested", "request index=1 begin=0 length=16384"],
    ),
    (
        "libtorrent-to-aria2",
        "downloader-aria2",
        &["interested", "request index=2 begin=0 length=7232"],
    ),
    (
        "libtorrent-to-aria2",
        "seed-libtorrent",
        &["piece index=1 begin=0 length=16384"],
    ),
    (
        "aria2-to-libtorrent",
        "seed-aria2",
        &[
            "have all",
            "allowed fast 0",
            "piece index=2 begin=0 length=7232",
        ],
    ),
    (
        "magnet-libtorrent-to-libtorrent",
        "downloader-libtorrent",
        &["ut_metadata request 0"],
    ),
    (
        "magnet-libtorrent-to-libtorrent",
        "seed-libtorrent",
        &[
            "ut_metadata data 0 total_size=",
            "piece index=0 begin=0 length=16384",
        ],
    ),
    (
        "magnet-libtorrent-to-aria2",
        "downloader-aria2",
        &["ut_metadata request 0"],
    ),
    (
        "pex-libtorrent",
        "seed-libtorrent",
        &["ut_pex added=[127.0.0.1:"],
    ),
];

fn run(ctx: &Ctx) -> anyhow::Result<()> {
    packages::require(&[("aria2c", "aria2")])?;
    require_libtorrent()?;
    let bt = ctx.bt()?;
    let script = workspace::root()?.join("crates/wire/test_data/captures/record.py");
    let out = ctx.path("captures");
    std::fs::create_dir_all(&out)?;
    ctx.spawn("record", PYTHON)
        .arg("-u")
        .arg(&script)
        .arg(&out)
        .env("CAPTURE_LOG", ctx.path("clients.log"))
        .run(ctx.deadline())
        .context("recording libtorrent and aria2c (see record.stderr.log and clients.log)")?;

    let mut checked = 0;
    for &(scenario, sender, lines) in EXPECTED {
        let dir = out.join(scenario);
        let file = dir.join(format!("{sender}.bin"));
        let reply = other_file(&dir, sender)?;
        let decoded = ctx
            .spawn(&format!("decode-{scenario}-{sender}"), bt)
            .arg("wire-decode")
            .arg(&file)
            .arg("--reply")
            .arg(&reply)
            .args(["--pieces", "3"])
            .run(ctx.deadline())
            .with_context(|| format!("bt wire-decode {}", file.display()))?;
        let text = String::from_utf8(decoded).context("bt wire-decode printed non-UTF-8")?;
        let bodies: Vec<&str> = text
            .lines()
            .filter_map(|l| l.split_once(' ').map(|(_, body)| body))
            .collect();
        let client = if sender.ends_with("aria2") {
            "(aria2 1."
        } else {
            "(libtorrent (Rasterbar) 2."
        };
        if !bodies
            .first()
            .is_some_and(|l| l.starts_with("handshake") && l.contains(client))
        {
            bail!("{scenario}/{sender}: no handshake from {client}...): {text}");
        }
        for line in lines {
            if !bodies.iter().any(|b| b.starts_with(line)) {
                bail!("{scenario}/{sender}: no `{line}` among:\n{text}");
            }
        }
        checked += 1;
    }
    ctx.note(format!(
        "{checked} fresh captures decoded completely, expected messages present"
    ));
    Ok(())
}

/// The file holding what the other side of the connection sent.
fn other_file(dir: &Path, sender: &str) -> anyhow::Result<std::path::PathBuf> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        if path.extension().is_some_and(|e| e == "bin") && stem != sender {
            return Ok(path);
        }
    }
    bail!("{}: no capture of the other direction", dir.display())
}
