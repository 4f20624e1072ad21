//! Debian's redis-server on loopback, for the cases and benches of `bt tracker --store redis://`:
//! a free port (Redis cannot report a port 0 bind, so one is picked and, if another process takes
//! it first and Redis exits, picked again), a private directory, no persistence (these runs need
//! none), ready once it answers PING; killed by its process group when dropped.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

use super::context::Ctx;
use super::process::{Managed, POLL};
use super::{net, packages};

/// A running redis-server.
#[derive(Debug)]
pub(crate) struct Redis {
    /// Killed (with its group) when the `Redis` is dropped.
    process: Managed,
    pub(crate) addr: SocketAddr,
}

/// Whether Redis at `addr` answers PING.
fn pong(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    let mut buf = [0u8; 7];
    s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}

impl Redis {
    /// Starts redis-server in `CASE/NAME/`.
    pub(crate) fn start(ctx: &Ctx, name: &str) -> anyhow::Result<Redis> {
        packages::require(&[("redis-server", "redis-server")])?;
        let dir = ctx.path(name);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        for _ in 0..5 {
            let port = net::free_port()?;
            let mut process = ctx
                .spawn(name, "redis-server")
                .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
                .arg("--dir")
                .arg(&dir)
                .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
                .start()?;
            let addr = net::loopback(port);
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if pong(addr) {
                    return Ok(Redis { process, addr });
                }
                if process.try_status()?.is_some() {
                    // The port was taken between picking and binding: another one.
                    break;
                }
                if Instant::now() >= deadline {
                    bail!(
                        "redis-server did not answer PING on {addr}{}",
                        process.stderr_tail()
                    );
                }
                std::thread::sleep(POLL);
            }
        }
        bail!(
            "redis-server did not start on 5 free ports (see {})",
            dir.display()
        )
    }

    /// The pid of redis-server itself (for its CPU time).
    pub(crate) fn pid(&mut self, deadline: Instant) -> anyhow::Result<u32> {
        self.process.program_pid(deadline)
    }

    /// The `--store` URL of database `db`.
    pub(crate) fn url(&self, db: u8) -> String {
        format!("redis://{}/{db}", self.addr)
    }

    /// `INFO memory`'s `used_memory`, in bytes.
    pub(crate) fn used_memory(&self) -> anyhow::Result<u64> {
        let mut s = TcpStream::connect(self.addr).context("connecting to redis-server")?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        s.write_all(b"INFO memory\r\n")?;
        let mut text = String::new();
        let mut buf = [0u8; 4096];
        // The reply is one bulk string; `used_memory_human` follows `used_memory` in it.
        while !text.contains("used_memory_human") {
            let n = s.read(&mut buf)?;
            if n == 0 {
                break;
            }
            text.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        text.lines()
            .find_map(|l| l.strip_prefix("used_memory:"))
            .and_then(|n| n.trim().parse().ok())
            .with_context(|| format!("no used_memory in INFO memory: {text:?}"))
    }
}
