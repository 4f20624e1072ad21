//! Case `http-seed-bep17`: bt downloads a torrent whose only source is a BEP 17 HTTP seed (the
//! BitTornado `?info_hash=&piece=&ranges=` protocol), served by the test's reference server
//! `http_seed.py`.

use anyhow::bail;

use super::peer_clients::bt_finished;
use super::web_seed::{bt_get, bt_make, same};
use super::{Case, DEFAULT_TIMEOUT};
use crate::interop::context::Ctx;
use crate::interop::python::Snippet;
use crate::interop::{data, net};

pub(super) const CASE: Case = Case {
    name: "http-seed-bep17",
    about: "bt download from a BEP 17 HTTP seed (the test's reference server) alone, checksum",
    timeout: DEFAULT_TIMEOUT,
    run,
};

const SEED: Snippet = Snippet {
    file: "http_seed.py",
    source: include_str!("http_seed.py"),
};

fn run(ctx: &Ctx) -> anyhow::Result<()> {
    let file = ctx.path("data/payload.bin");
    data::write_file(&file, 5 * 1024 * 1024 + 3, 51)?;
    let torrent = ctx.path("payload.torrent");
    let port = net::free_port()?;
    let seed_url = format!("http://127.0.0.1:{port}/seed");
    let args = [
        torrent.display().to_string(),
        file.display().to_string(),
        port.to_string(),
    ];
    let mut server = SEED.spawn(ctx, "http-seed", args)?;
    server.wait_for_line("LISTENING", ctx.deadline())?;
    bt_make(
        ctx,
        &file,
        &torrent,
        &["-l", "128K", "--http-seed", &seed_url],
    )?;
    let dl = ctx.path("bt-download");
    let mut bt = bt_get(ctx, "bt-download", &torrent.display().to_string(), &dl, &[])?;
    let summary = bt_finished(ctx, &mut bt)?;
    if summary["complete"] != true || summary["web_seeds"][0]["kind"] != "httpseeds" {
        bail!("bt download from the BEP 17 seed: {summary}");
    }
    same(&file, &dl.join("payload.bin"), "bt")?;
    ctx.note(format!(
        "complete and identical from the BEP 17 HTTP seed ({} bytes)",
        summary["downloaded_from_web_seeds"]
    ));
    Ok(())
}
