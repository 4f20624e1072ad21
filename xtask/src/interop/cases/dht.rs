//! The mainline DHT against libtorrent (issue 15), on loopback with a `bt dht` node as the
//! bootstrap node: (a) a libtorrent seed announces to the DHT and `bt download MAGNET`, given
//! only `--dht-bootstrap`, finds it and completes; (b) `bt seed` announces and libtorrent, given
//! only the magnet and the bootstrap node, finds bt and completes; (c) a bt node and a
//! libtorrent node each hold the other in their routing tables.

use anyhow::bail;

use super::magnet::{check_copy, payload};
use super::peer_clients::{bt_finished, FILE};
use super::Case;
use crate::interop::context::Ctx;
use crate::interop::net;
use crate::interop::process::Managed;
use crate::interop::python::LT_DHT;

/// Each case takes a few seconds; a minute is a generous bound.
const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

pub(super) const LIBTORRENT_SEEDS_BT: Case = Case {
    name: "dht-libtorrent-seed-bt",
    about: "a libtorrent seed announces to the DHT; bt download MAGNET with only --dht-bootstrap finds it (source dht), checksum",
    timeout: TIMEOUT,
    run: libtorrent_seeds_bt,
};

pub(super) const BT_SEEDS_LIBTORRENT: Case = Case {
    name: "dht-bt-seed-libtorrent",
    about: "bt seed announces to the DHT; libtorrent given only the magnet and the bootstrap node finds bt and completes",
    timeout: TIMEOUT,
    run: bt_seeds_libtorrent,
};

pub(super) const ROUTING_TABLES: Case = Case {
    name: "dht-routing-tables",
    about: "a bt DHT node and a libtorrent node each appear in the other's routing table",
    timeout: TIMEOUT,
    run: routing_tables,
};

/// `bt` with the case's own state directory (the saved routing table stays in the case).
fn bt(ctx: &Ctx, name: &str) -> anyhow::Result<crate::interop::process::Spawn> {
    Ok(ctx
        .spawn(name, ctx.bt()?)
        .env("XDG_STATE_HOME", ctx.path(format!("state-{name}"))))
}

/// A `bt dht` node on a free loopback port, printing JSON status lines every 0.2 s.
fn bt_node(ctx: &Ctx) -> anyhow::Result<(Managed, u16)> {
    let port = net::free_port()?;
    let node = bt(ctx, "bt-dht")?
        .arg("dht")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--no-state",
        ])
        .args(["--json", "--stats-interval", "0.2"])
        .start()?;
    Ok((node, port))
}

fn libtorrent_seeds_bt(ctx: &Ctx) -> anyhow::Result<()> {
    let p = payload(ctx)?;
    let (mut node, port) = bt_node(ctx)?;
    let bootstrap = format!("127.0.0.1:{port}");
    let mut seed = LT_DHT.spawn(
        ctx,
        "lt-seed",
        [
            "seed".as_ref(),
            p.torrent.as_os_str(),
            p.seed_dir.as_os_str(),
            "--port".as_ref(),
            "0".as_ref(),
            "--bootstrap".as_ref(),
            bootstrap.as_ref(),
            "--time".as_ref(),
            "55".as_ref(),
        ],
    )?;
    seed.wait_for_line("SEEDING", ctx.deadline())?;
    // The bootstrap node holds libtorrent's announce.
    node.wait_for_line("\"stored_peers\":1", ctx.deadline())?;
    let out = ctx.path("bt-download");
    let mut dl = bt(ctx, "bt-download")?
        .arg("download")
        .arg(&p.magnet)
        .arg("--output")
        .arg(&out)
        .args([
            "--port",
            "0",
            "--bind",
            "127.0.0.1",
            "--json",
            "--seed-time",
            "0",
        ])
        .args(["--dht-bootstrap", &bootstrap])
        .start()?;
    let summary = bt_finished(ctx, &mut dl)?;
    if summary["complete"] != true {
        bail!("bt download through the DHT ended incomplete: {summary}");
    }
    check_copy(&p, &out, "bt download")?;
    let peers = summary["peers"].as_array().cloned().unwrap_or_default();
    if !peers.iter().any(|peer| peer["source"] == "dht") {
        bail!("bt's peers do not show the DHT as their source: {summary}");
    }
    ctx.note(format!(
        "bt found the libtorrent seed through the DHT and completed in {:.2} s, intact",
        summary["seconds"].as_f64().unwrap_or(0.0)
    ));
    drop(seed);
    drop(node);
    Ok(())
}

fn bt_seeds_libtorrent(ctx: &Ctx) -> anyhow::Result<()> {
    let p = payload(ctx)?;
    let (mut node, port) = bt_node(ctx)?;
    let bootstrap = format!("127.0.0.1:{port}");
    let seed = bt(ctx, "bt-seed")?
        .arg("seed")
        .arg(&p.torrent)
        .arg(p.seed_dir.join(FILE))
        .args([
            "--port",
            "0",
            "--bind",
            "127.0.0.1",
            "--dht-bootstrap",
            &bootstrap,
        ])
        .start()?;
    // libtorrent asks the DHT once, at the start: the seed's announce must be in first.
    node.wait_for_line("\"stored_peers\":1", ctx.deadline())?;
    let save = ctx.path("lt-get");
    let mut get = LT_DHT.spawn(
        ctx,
        "lt-get",
        [
            "get".as_ref(),
            p.magnet.as_ref(),
            save.as_os_str(),
            "--port".as_ref(),
            "0".as_ref(),
            "--bootstrap".as_ref(),
            bootstrap.as_ref(),
            "--timeout".as_ref(),
            "45".as_ref(),
        ],
    )?;
    let line = get.wait_for_line("RESULT", ctx.deadline())?;
    if !line.contains("RESULT ok") {
        bail!("libtorrent did not complete through the DHT: {line}");
    }
    check_copy(&p, &save, "libtorrent")?;
    ctx.note(format!("libtorrent found bt through the DHT: {line}"));
    drop(seed);
    drop(node);
    Ok(())
}

fn routing_tables(ctx: &Ctx) -> anyhow::Result<()> {
    let (mut node, port) = bt_node(ctx)?;
    let lt_port = net::free_port()?;
    let mut lt = LT_DHT.spawn(
        ctx,
        "lt-node",
        [
            "node",
            "--port",
            &lt_port.to_string(),
            "--bootstrap",
            &format!("127.0.0.1:{port}"),
            "--time",
            "55",
        ],
    )?;
    // libtorrent's table holds bt's node...
    let line = lt.wait_for_line(format!("127.0.0.1:{port}").as_str(), ctx.deadline())?;
    // ...and bt's holds libtorrent's.
    node.wait_for_line(format!("\"127.0.0.1:{lt_port}\"").as_str(), ctx.deadline())?;
    ctx.note(format!(
        "libtorrent: {line}; bt's table lists 127.0.0.1:{lt_port}"
    ));
    drop(lt);
    drop(node);
    Ok(())
}
