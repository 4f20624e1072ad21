//! Case `make`: torrents from `bt make` load in libtorrent and Transmission and validate the data
//! there, and for the same files and piece length `bt make` gives mktorrent's info-hash.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context as _};

use super::{Case, DEFAULT_TIMEOUT};
use crate::interop::context::Ctx;
use crate::interop::data::{ALBUM, SINGLE_LEN};
use crate::interop::python::{CHECK_DATA, INFOHASH};
use crate::interop::{data, net, packages, process::POLL};

pub(super) const CASE: Case = Case {
    name: "make",
    about: "bt make torrents validate in libtorrent and Transmission; same info-hash as mktorrent",
    timeout: DEFAULT_TIMEOUT,
    run,
};

const TRACKER: &str = "http://127.0.0.1:9/announce";

/// One data set and the torrents made of it.
struct Made {
    label: &'static str,
    source: PathBuf,
    bt: PathBuf,
    mktorrent: PathBuf,
}

fn run(ctx: &Ctx) -> anyhow::Result<()> {
    packages::require(&[
        ("mktorrent", "mktorrent"),
        ("transmission-show", "transmission-cli"),
        ("transmission-daemon", "transmission-daemon"),
        ("transmission-remote", "transmission-cli"),
    ])?;
    let bt = ctx.bt()?;
    let data_dir = ctx.path("data");
    data::write_file(&data_dir.join("single.bin"), SINGLE_LEN, 7)?;
    data::write_set(&data_dir.join("album"), ALBUM, 200)?;
    std::fs::create_dir_all(ctx.path("torrents"))?;

    let mut made = Vec::new();
    for (label, name) in [("single", "single.bin"), ("multi", "album")] {
        let source = data_dir.join(name);
        let bt_out = ctx.path(format!("torrents/bt-{label}.torrent"));
        ctx.spawn(&format!("bt-make-{label}"), bt)
            .args(["make", "-l", "15", "-t", TRACKER, "-o"])
            .arg(&bt_out)
            .arg(&source)
            .run(ctx.deadline())?;
        let mk_out = ctx.path(format!("torrents/mktorrent-{label}.torrent"));
        ctx.spawn(&format!("mktorrent-{label}"), "mktorrent")
            .args(["-l", "15", "-a", TRACKER, "-o"])
            .arg(&mk_out)
            .arg(&source)
            .run(ctx.deadline())?;
        made.push(Made {
            label,
            source,
            bt: bt_out,
            mktorrent: mk_out,
        });
    }

    // Same info-hash as mktorrent, as libtorrent computes both.
    let files: Vec<&Path> = made
        .iter()
        .flat_map(|m| [m.bt.as_path(), m.mktorrent.as_path()])
        .collect();
    let hashes = INFOHASH.run(ctx, "infohash", &files)?;
    let hashes: Vec<&str> = hashes.lines().collect();
    if hashes.len() != files.len() {
        bail!(
            "infohash.py printed {} lines for {} torrents",
            hashes.len(),
            files.len()
        );
    }
    for (m, pair) in made.iter().zip(hashes.chunks(2)) {
        if pair[0] != pair[1] {
            bail!(
                "{}: bt make gives info-hash {} but mktorrent gives {} for the same files",
                m.label,
                pair[0],
                pair[1]
            );
        }
        ctx.note(format!(
            "{}: bt make and mktorrent agree: {}",
            m.label, pair[0]
        ));
    }

    // libtorrent loads bt's torrents and finds every piece of the data; and finds none in an
    // empty directory (so the check is real).
    let empty = ctx.path("empty");
    std::fs::create_dir_all(&empty)?;
    for (dir, want_all) in [(&data_dir, true), (&empty, false)] {
        let mut args = vec![dir.as_os_str()];
        args.extend(made.iter().map(|m| m.bt.as_os_str()));
        let out = CHECK_DATA.run(ctx, "libtorrent-check", args)?;
        for (m, line) in made.iter().zip(out.lines()) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let [.., have, pieces, _files, _size] = cols[..] else {
                bail!("check_data.py printed {line:?}");
            };
            let complete = have == pieces;
            if complete != want_all || (!want_all && have != "0") {
                bail!(
                    "{}: libtorrent has {have} of {pieces} pieces in {} (expected {})",
                    m.label,
                    dir.display(),
                    if want_all { "all" } else { "none" }
                );
            }
        }
    }
    ctx.note("libtorrent loads both bt torrents and validates all their pieces");

    // Transmission: transmission-show reads the same info-hash; the daemon verifies the data.
    for (m, pair) in made.iter().zip(hashes.chunks(2)) {
        let shown = ctx
            .spawn(
                &format!("transmission-show-{}", m.label),
                "transmission-show",
            )
            .arg(&m.bt)
            .run(ctx.deadline())?;
        let shown = String::from_utf8_lossy(&shown);
        if !shown.contains(&format!("Hash: {}", pair[0])) {
            bail!(
                "{}: transmission-show does not show hash {}:\n{shown}",
                m.label,
                pair[0]
            );
        }
        transmission_verify(ctx, m, pair[0])?;
        ctx.note(format!(
            "{}: Transmission verified 100% of the data",
            m.label
        ));
    }
    Ok(())
}

/// A private transmission-daemon on loopback adds the torrent over the data and must reach 100%.
fn transmission_verify(ctx: &Ctx, m: &Made, hash: &str) -> anyhow::Result<()> {
    let conf = ctx.path(format!("transmission-{}", m.label));
    std::fs::create_dir_all(&conf)?;
    let rpc = net::free_port()?;
    let peer = net::free_port()?;
    let download_dir = m.source.parent().context("data has a parent")?;
    let settings = serde_json::json!({
        "bind-address-ipv4": "127.0.0.1", "bind-address-ipv6": "::1",
        "rpc-bind-address": "127.0.0.1", "rpc-port": rpc, "rpc-authentication-required": false,
        "rpc-whitelist": "127.0.0.1,::1", "rpc-whitelist-enabled": true,
        "rpc-host-whitelist-enabled": false,
        "peer-port": peer, "peer-port-random-on-start": false, "port-forwarding-enabled": false,
        "dht-enabled": false, "lpd-enabled": false, "pex-enabled": false, "utp-enabled": false,
        "download-dir": download_dir, "incomplete-dir-enabled": false,
        "rename-partial-files": false, "start-added-torrents": true, "preallocation": 0,
        "blocklist-enabled": false, "watch-dir-enabled": false, "message-level": 2,
    });
    std::fs::write(
        conf.join("settings.json"),
        serde_json::to_vec_pretty(&settings)?,
    )?;
    let _daemon = ctx
        .spawn(
            &format!("transmission-daemon-{}", m.label),
            "transmission-daemon",
        )
        .arg("-f")
        .arg("-g")
        .arg(&conf)
        .start()?;
    let remote = format!("127.0.0.1:{rpc}");
    let deadline = ctx.deadline_in(Duration::from_secs(60));
    let call = |args: &[&str]| -> anyhow::Result<Option<String>> {
        let out = Command::new("transmission-remote")
            .arg(&remote)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .context("running transmission-remote")?;
        Ok(out
            .status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned()))
    };
    while call(&["-si"])?.is_none() {
        if std::time::Instant::now() > deadline {
            bail!(
                "transmission-daemon did not answer on {remote} (see its logs in {})",
                ctx.dir().display()
            );
        }
        std::thread::sleep(POLL);
    }
    let torrent = m.bt.to_str().context("UTF-8 path")?;
    let dir = download_dir.to_str().context("UTF-8 path")?;
    call(&["-a", torrent, "-w", dir])?.context("transmission-remote could not add the torrent")?;
    loop {
        let info = call(&["-t", hash, "-i"])?.unwrap_or_default();
        let field = |name: &str| {
            info.lines()
                .find_map(|l| l.trim().strip_prefix(name))
                .map(|v| v.trim().to_owned())
                .unwrap_or_default()
        };
        let state = field("State:");
        // `Have: 233.9 kB (233.9 kB verified)`: everything present was hashed by Transmission.
        let have = field("Have:");
        let verified = have
            .split_once(" (")
            .is_some_and(|(a, b)| b.strip_suffix(" verified)") == Some(a));
        if verified
            && field("Percent Done:") == "100%"
            && matches!(state.as_str(), "Seeding" | "Idle" | "Finished")
        {
            std::fs::write(conf.join("final-info.txt"), &info)?;
            return Ok(());
        }
        if let Some(err) = info.lines().find(|l| l.trim().starts_with("Error:")) {
            bail!("{}: Transmission reports {}", m.label, err.trim());
        }
        if std::time::Instant::now() > deadline {
            bail!(
                "{}: Transmission did not verify the data in time; last info:\n{info}",
                m.label
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
