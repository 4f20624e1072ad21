//! aquatic_udp and aquatic_http 0.9, the reference trackers of `cargo xtask bench tracker`: built
//! once with `cargo install --version 0.9.0` into `target/bench/tools` (their own target directory
//! under it, one job so other work keeps a core) and reused; started with generated configs on
//! free loopback ports.
//!
//! No `--locked`: the crates' lock files pin a `metrics` release that no longer compiles.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context as _};

use crate::interop::context::Ctx;
use crate::interop::net;
use crate::interop::process::Managed;

const VERSION: &str = "0.9.0";

/// The installed binary `name` under `tools/bin`, installing it first when missing.
pub(super) fn binary(tools: &Path, name: &str) -> anyhow::Result<PathBuf> {
    let bin = tools.join("bin").join(name);
    if bin.exists() {
        return Ok(bin);
    }
    println!(
        "bench tracker: building {name} {VERSION} into {} (once; takes a while)",
        tools.display()
    );
    let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["install", "--version", VERSION, name, "-j1", "--root"])
        .arg(tools)
        .env("CARGO_TARGET_DIR", tools.join("build"))
        .status()
        .with_context(|| format!("running cargo install {name}"))?;
    if !status.success() || !bin.exists() {
        bail!("cargo install --version {VERSION} {name} failed ({status})");
    }
    Ok(bin)
}

/// A running aquatic server and its address (UDP or HTTP on the same loopback port).
pub(super) struct Aquatic {
    pub(super) process: Managed,
    pub(super) addr: SocketAddr,
}

/// Starts aquatic_udp with one socket worker on a free loopback port; `max_peers` per reply.
pub(super) fn start_udp(ctx: &Ctx, tools: &Path, max_peers: usize) -> anyhow::Result<Aquatic> {
    let bin = binary(tools, "aquatic_udp")?;
    let port = net::free_port()?;
    let config = format!(
        "socket_workers = 1\nlog_level = \"error\"\n\
         [network]\naddress = \"127.0.0.1:{port}\"\nsocket_recv_buffer_size = 8000000\n\
         [protocol]\nmax_response_peers = {max_peers}\npeer_announce_interval = 1800\n\
         [cleaning]\nmax_peer_age = 2700\n"
    );
    let path = ctx.path("aquatic_udp.toml");
    std::fs::write(&path, config).with_context(|| format!("writing {}", path.display()))?;
    let mut process = ctx
        .spawn("aquatic_udp", &bin)
        .arg("-c")
        .arg(&path)
        .start()?;
    let addr = net::loopback(port);
    wait_udp(&mut process, addr, ctx)?;
    Ok(Aquatic { process, addr })
}

/// Waits until a UDP connect to `addr` is answered.
fn wait_udp(process: &mut Managed, addr: SocketAddr, ctx: &Ctx) -> anyhow::Result<()> {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0")?;
    socket.connect(addr)?;
    socket.set_read_timeout(Some(std::time::Duration::from_millis(100)))?;
    let mut req = Vec::new();
    torrentkit_tracker_proto::UdpRequest::Connect { transaction_id: 1 }.write(&mut req);
    let mut buf = [0u8; 64];
    loop {
        let _ = socket.send(&req);
        if socket.recv(&mut buf).is_ok_and(|n| n >= 16) {
            return Ok(());
        }
        if let Some(status) = process.try_status()? {
            bail!("aquatic_udp exited ({status}){}", process.stderr_tail());
        }
        if std::time::Instant::now() >= ctx.deadline() {
            bail!("aquatic_udp never answered a UDP connect on {addr}");
        }
    }
}

/// Starts aquatic_http (plain HTTP, one socket and one swarm worker) on a free loopback port.
pub(super) fn start_http(ctx: &Ctx, tools: &Path, max_peers: usize) -> anyhow::Result<Aquatic> {
    let bin = binary(tools, "aquatic_http")?;
    let port = net::free_port()?;
    let config = format!(
        "socket_workers = 1\nswarm_workers = 1\nlog_level = \"error\"\n\
         [network]\naddress = \"127.0.0.1:{port}\"\nenable_tls = false\n\
         [protocol]\nmax_peers = {max_peers}\npeer_announce_interval = 1800\n\
         [cleaning]\nmax_peer_age = 2700\n"
    );
    let path = ctx.path("aquatic_http.toml");
    std::fs::write(&path, config).with_context(|| format!("writing {}", path.display()))?;
    let mut process = ctx
        .spawn("aquatic_http", &bin)
        .arg("-c")
        .arg(&path)
        .start()?;
    let addr = net::loopback(port);
    process.wait_for_tcp(addr, ctx.deadline())?;
    Ok(Aquatic { process, addr })
}
