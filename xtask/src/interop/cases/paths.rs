//! Case `paths`: for every one of libtorrent's test torrents that libtorrent loads, `bt show`
//! names the same files, after sanitising hostile names (`..`, absolute paths, separators inside
//! names, empty components, over-long names, duplicates), as libtorrent does.
//!
//! The torrents are read where they are (`../shared/vectors/libtorrent` beside the workspace);
//! pad files are left out of the comparison (libtorrent renames them `.pad/SIZE`), and paths are
//! compared as sets, since libtorrent orders a hybrid torrent's empty files by its v2 tree.
//!
//! One deliberate difference: a multi-file torrent's file whose every component sanitises to
//! nothing (a v2 tree key `\`) is named by libtorrent as the top directory itself (`test`),
//! which cannot be a file; bt names it `_` (rule 5 of the metainfo crate's safe paths, renamed
//! `_.1`... when taken). Such a libtorrent path counts as matching one of bt's `_` files.

use std::collections::BTreeSet;
use std::path::PathBuf;

use anyhow::{bail, Context as _};
use serde_json::Value;

use super::{Case, DEFAULT_TIMEOUT};
use crate::interop::context::Ctx;
use crate::interop::python::LT_PATHS;
use crate::interop::workspace;

pub(super) const CASE: Case = Case {
    name: "paths",
    about: "bt show sanitises the paths of libtorrent's test torrents exactly as libtorrent does",
    timeout: DEFAULT_TIMEOUT,
    run,
};

fn run(ctx: &Ctx) -> anyhow::Result<()> {
    let bt = ctx.bt()?;
    let dir = std::env::var_os("TORRENTKIT_VECTORS")
        .map(PathBuf::from)
        .unwrap_or(workspace::root()?.join("../shared/vectors"))
        .join("libtorrent");
    let mut torrents: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {} (libtorrent's test torrents)", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    torrents.retain(|p| p.extension().is_some_and(|e| e == "torrent"));
    torrents.sort();
    if torrents.is_empty() {
        bail!("no .torrent files in {}", dir.display());
    }
    let lt: Value = serde_json::from_str(&LT_PATHS.run(ctx, "lt-paths", &torrents)?)
        .context("lt_paths.py printed invalid JSON")?;
    let lt = lt.as_object().context("lt_paths.py printed no object")?;

    let mut compared = 0;
    let mut differences = Vec::new();
    for torrent in &torrents {
        let name = torrent.file_name().unwrap_or_default().to_string_lossy();
        let Some(theirs) = lt.get(name.as_ref()).and_then(Value::as_array) else {
            continue; // libtorrent rejects it: the conformance run covers those
        };
        let theirs: BTreeSet<&str> = theirs
            .iter()
            .filter(|f| f[1] == Value::Bool(false))
            .filter_map(|f| f[0].as_str())
            .collect();
        let out = std::process::Command::new(bt)
            .args(["show", "--json"])
            .arg(torrent)
            .output()
            .context("running bt show")?;
        if !out.status.success() {
            differences.push(format!(
                "  {name}: bt show failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
            continue;
        }
        let json: Value =
            serde_json::from_slice(&out.stdout).context("bt show printed invalid JSON")?;
        let ours: BTreeSet<&str> = json["files"]
            .as_array()
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .filter(|f| f["pad"] != Value::Bool(true))
            .filter_map(|f| f["path"].as_str())
            .collect();
        let multi = json["multi_file"] == Value::Bool(true);
        let bare: Vec<&str> = theirs
            .iter()
            .copied()
            .filter(|p| multi && !p.contains('/'))
            .collect();
        let mut theirs = theirs;
        let mut ours = ours;
        for p in bare {
            let underscore = ours.iter().copied().find(|o| {
                !theirs.contains(o)
                    && o.rsplit('/').next().is_some_and(|last| {
                        last == "_"
                            || last
                                .strip_prefix("_.")
                                .is_some_and(|n| n.parse::<u32>().is_ok())
                    })
            });
            if let Some(u) = underscore {
                theirs.remove(p);
                ours.remove(u);
            }
        }
        if ours != theirs {
            differences.push(format!(
                "  {name}: only bt: {:?}; only libtorrent: {:?}",
                ours.difference(&theirs).collect::<Vec<_>>(),
                theirs.difference(&ours).collect::<Vec<_>>()
            ));
        }
        compared += 1;
    }
    if !differences.is_empty() {
        bail!(
            "bt show and libtorrent name files differently in {} torrents:\n{}",
            differences.len(),
            differences.join("\n")
        );
    }
    ctx.note(format!(
        "bt show and libtorrent agree on every file path of {compared} torrents"
    ));
    Ok(())
}
