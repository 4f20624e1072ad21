//! Loopback ports: a free port number for programs that want one on their command line, and a
//! deadline-bounded wait until something accepts connections.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

use super::process::POLL;

/// A TCP port on 127.0.0.1 that was free a moment ago: bind port 0, read it back, release it.
/// Only for programs that must be told a port number; bind port 0 directly where possible.
pub(crate) fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("binding 127.0.0.1:0")?;
    Ok(listener
        .local_addr()
        .context("reading the bound port")?
        .port())
}

/// `127.0.0.1:port`.
pub(crate) fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// Waits until `addr` accepts a TCP connection, polling until `deadline`.
pub(crate) fn wait_for_tcp(addr: SocketAddr, deadline: Instant) -> anyhow::Result<()> {
    loop {
        if try_connect(addr, deadline) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("nothing accepted connections on {addr} in time");
        }
        std::thread::sleep(POLL);
    }
}

/// One connection attempt, bounded by `deadline` (and by 500 ms); true if it was accepted.
pub(crate) fn try_connect(addr: SocketAddr, deadline: Instant) -> bool {
    let left = deadline.saturating_duration_since(Instant::now());
    let timeout = left
        .min(Duration::from_millis(500))
        .max(Duration::from_millis(1));
    TcpStream::connect_timeout(&addr, timeout).is_ok()
}
