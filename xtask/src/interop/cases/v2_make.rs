//! Case `v2_make`: `bt make --v2` and `bt make --hybrid` give the same v1 and v2 info-hashes as
//! libtorrent's `create_torrent` with the same piece length, for a single file, a directory with
//! empty files, and files that need padding; and libtorrent loads bt's torrents and finds every
//! piece of the data (none in an empty directory, so the check is real).

use std::path::PathBuf;

use anyhow::bail;

use super::{Case, DEFAULT_TIMEOUT};
use crate::interop::context::Ctx;
use crate::interop::data::{self, ALBUM, SINGLE_LEN};
use crate::interop::python::{CHECK_DATA, CREATE_TORRENT};

pub(super) const CASE: Case = Case {
    name: "v2_make",
    about: "bt make --v2/--hybrid give libtorrent's info-hashes; libtorrent verifies bt's data",
    timeout: DEFAULT_TIMEOUT,
    run,
};

/// One torrent made by both programs.
struct Pair {
    label: String,
    bt: PathBuf,
    lt_hashes: String,
}

fn run(ctx: &Ctx) -> anyhow::Result<()> {
    let bt = ctx.bt()?;
    let data_dir = ctx.path("data");
    data::write_file(&data_dir.join("single.bin"), SINGLE_LEN, 7)?;
    // Empty files, first, between and last in the tree, and one exactly a piece long.
    let empties = data_dir.join("empties");
    data::write_set(
        &empties,
        &[
            ("a-empty", 0),
            ("b.bin", 40_000),
            ("c/empty", 0),
            ("c/piece.bin", 32_768),
            ("z-empty", 0),
        ],
        300,
    )?;
    // Odd sizes: every file but one needs a pad file after it in a hybrid; `a-b/x` sorts after
    // `a/x` in a file tree but before it as a joined string.
    let padded = data_dir.join("album");
    data::write_set(&padded, ALBUM, 200)?;
    data::write_set(&padded, &[("a/x", 20_000), ("a-b/x", 20_001)], 400)?;
    std::fs::create_dir_all(ctx.path("torrents"))?;

    let mut pairs = Vec::new();
    for (label, name) in [
        ("single", "single.bin"),
        ("empties", "empties"),
        ("padded", "album"),
    ] {
        let source = data_dir.join(name);
        for (mode, flag, lt_flag) in [
            ("v2", "--v2", Some("--v2-only")),
            ("hybrid", "--hybrid", None),
        ] {
            for piece in ["16384", "65536"] {
                let tag = format!("{label}-{mode}-{piece}");
                let bt_out = ctx.path(format!("torrents/bt-{tag}.torrent"));
                ctx.spawn(&format!("bt-make-{tag}"), bt)
                    .args(["make", flag, "-l", piece, "--no-date", "-o"])
                    .arg(&bt_out)
                    .arg(&source)
                    .run(ctx.deadline())?;
                let lt_out = ctx.path(format!("torrents/lt-{tag}.torrent"));
                let mut args = vec![
                    "--piece-size".into(),
                    piece.into(),
                    "--both".into(),
                    source.clone().into_os_string(),
                    lt_out.into_os_string(),
                ];
                if let Some(f) = lt_flag {
                    args.insert(0, f.into());
                }
                let lt_hashes = CREATE_TORRENT.run(ctx, &format!("lt-make-{tag}"), args)?;
                pairs.push(Pair {
                    label: tag,
                    bt: bt_out,
                    lt_hashes: lt_hashes.trim().to_owned(),
                });
            }
        }
    }

    // libtorrent loads bt's torrents (V2 NAME V1 HAVE PIECES FILES SIZE each) in the data
    // directory, then in an empty one.
    let empty = ctx.path("empty");
    std::fs::create_dir_all(&empty)?;
    for (dir, want_all) in [(&data_dir, true), (&empty, false)] {
        let mut args = vec![dir.clone().into_os_string()];
        args.extend(pairs.iter().map(|p| p.bt.clone().into_os_string()));
        let out = CHECK_DATA.run(ctx, "libtorrent-check", args)?;
        let lines: Vec<&str> = out.lines().collect();
        if lines.len() != pairs.len() {
            bail!(
                "check_data.py printed {} lines for {} torrents",
                lines.len(),
                pairs.len()
            );
        }
        for (p, line) in pairs.iter().zip(lines) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let (Some(v2), [.., v1, have, pieces, _files, _size]) = (cols.first(), &cols[..])
            else {
                bail!("check_data.py printed {line:?}");
            };
            let lt = format!("{v1} {v2}");
            if want_all && lt != p.lt_hashes {
                bail!(
                    "{}: libtorrent reads bt's torrent as v1/v2 {lt}, but its own create_torrent \
                     gives {} for the same files",
                    p.label,
                    p.lt_hashes
                );
            }
            if (have == pieces) != want_all || (!want_all && *have != "0") {
                bail!(
                    "{}: libtorrent has {have} of {pieces} pieces in {} (expected {})",
                    p.label,
                    dir.display(),
                    if want_all { "all" } else { "none" }
                );
            }
        }
    }
    ctx.note(format!(
        "{} torrents (v2 and hybrid; single file, empty files, padding; 16 and 64 KiB pieces): \
         bt make gives libtorrent's info-hashes and libtorrent verifies the data",
        pairs.len()
    ));
    Ok(())
}
