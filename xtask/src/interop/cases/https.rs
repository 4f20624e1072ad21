//! Case `https-tls`: HTTPS end to end with a certificate authority made for the case.
//! `bt download https://…/x.torrent --ca-cert` fetches the torrent from nginx over TLS and
//! announces to `bt tracker --tls-cert/--tls-key`, where a libtorrent seed (announcing over
//! HTTPS too, validate_https_trackers off) waits; without `--ca-cert` the certificate does not
//! verify and bt refuses with an error naming the host and the reason.

use anyhow::bail;

use super::peer_clients::{bt_finished, LT_PEER};
use super::tracker_swarm::BtTracker;
use super::web_seed::{bt_get, bt_make, same};
use super::{Case, DEFAULT_TIMEOUT};
use crate::interop::context::Ctx;
use crate::interop::data;
use crate::interop::nginx::{Nginx, Site, TestCa};

pub(super) const CASE: Case = Case {
    name: "https-tls",
    about: "bt download https://….torrent --ca-cert via nginx TLS; HTTPS announces to bt tracker --tls-cert from bt and libtorrent; a bad certificate is refused",
    timeout: DEFAULT_TIMEOUT,
    run,
};

fn run(ctx: &Ctx) -> anyhow::Result<()> {
    let ca = TestCa::make(ctx)?;
    let (cert, key) = (ca.cert.display().to_string(), ca.key.display().to_string());
    let tracker = BtTracker::start(
        ctx,
        "bt-tracker-tls",
        &[
            "--interval",
            "5",
            "--min-interval",
            "1",
            "--no-udp",
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
        ],
    )?;
    let seed = ctx.path("seed");
    let file = seed.join("payload.bin");
    data::write_file(&file, 3 * 1024 * 1024 + 7, 41)?;
    let www = ctx.path("www");
    std::fs::create_dir_all(&www)?;
    let torrent = www.join("x.torrent");
    let announce = format!("https://{}/announce", tracker.addr);
    bt_make(ctx, &file, &torrent, &["-t", &announce])?;
    let nginx = Nginx::start(
        ctx,
        "nginx",
        &Site {
            root: &www,
            extra: "",
            tls: Some(&ca),
        },
    )?;
    // libtorrent announces over HTTPS: SEEDING is printed only after a tracker reply.
    let args: [&std::ffi::OsStr; 6] = [
        "seed".as_ref(),
        torrent.as_os_str(),
        seed.as_os_str(),
        "--timeout".as_ref(),
        "150".as_ref(),
        "--insecure-https".as_ref(),
    ];
    let mut lt = LT_PEER.spawn(ctx, "lt-seed", args)?;
    lt.wait_for_line("SEEDING", ctx.deadline())
        .map_err(|e| e.context("libtorrent's HTTPS announce to bt tracker --tls-cert"))?;
    ctx.note("libtorrent announced over HTTPS to bt tracker --tls-cert");

    let url = nginx.https_url("x.torrent");
    let ca_path = ca.ca.display().to_string();
    let dl = ctx.path("bt-download");
    let mut bt = bt_get(ctx, "bt-https", &url, &dl, &["--ca-cert", &ca_path])?;
    let summary = bt_finished(ctx, &mut bt)?;
    if summary["complete"] != true {
        bail!("bt download {url}: {summary}");
    }
    same(&file, &dl.join("payload.bin"), "bt")?;
    ctx.note("bt fetched the .torrent over nginx TLS, announced over HTTPS, downloaded, identical");

    // Without the test CA the certificate does not verify.
    let mut bad = bt_get(ctx, "bt-untrusted", &url, &ctx.path("bt-untrusted"), &[])?;
    let status = bad.wait_exit(ctx.deadline())?;
    let err = String::from_utf8_lossy(&bad.stderr()?).into_owned();
    if status.success() || !err.contains("127.0.0.1") || !err.contains("invalid peer certificate") {
        bail!("bt download {url} without --ca-cert: expected a certificate error naming the host, got ({status}): {err}");
    }
    ctx.note(format!(
        "untrusted certificate refused: {}",
        err.lines().last().unwrap_or_default()
    ));
    Ok(())
}
