//! Debian's opentracker on loopback. It is built whitelist-only (every info-hash must be listed,
//! else "Requested download is not authorized"), reloads the list on SIGHUP, and as root chroots
//! into its `-d` directory and drops to `nobody`; so the list lives in that directory, readable
//! by all, and readiness means "accepts connections and authorizes the hashes we listed".

use std::fs::Permissions;
use std::io::Write as _;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context as _};

use super::announce::{self, Announce};
use super::context::Ctx;
use super::process::{Managed, POLL};
use super::{hex, http, net, packages};

const NOT_AUTHORIZED: &[u8] = b"not authorized";

/// A running opentracker, killed when dropped.
#[derive(Debug)]
pub(crate) struct Opentracker {
    process: Managed,
    addr: SocketAddr,
    whitelist: PathBuf,
}

impl Opentracker {
    /// Starts opentracker on a free loopback port (TCP and UDP) with `whitelist` as its list of
    /// info-hashes, in `CASE/opentracker/`; returns once it accepts connections and authorizes
    /// the listed hashes.
    pub(crate) fn start(ctx: &Ctx, whitelist: &[[u8; 20]]) -> anyhow::Result<Self> {
        packages::require(&[("opentracker", "opentracker")])?;
        let dir = ctx.path("opentracker");
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        std::fs::set_permissions(&dir, Permissions::from_mode(0o755))?;
        let list = dir.join("whitelist.txt");
        let text: String = whitelist.iter().map(|h| hex::encode(h) + "\n").collect();
        std::fs::write(&list, text).with_context(|| format!("writing {}", list.display()))?;
        std::fs::set_permissions(&list, Permissions::from_mode(0o644))?;

        let port = net::free_port()?;
        let port_arg = port.to_string();
        // The whitelist path is relative: to the working directory before the chroot, to the
        // chroot directory after it; both are `dir`.
        let mut process = ctx
            .spawn("opentracker", "opentracker")
            .args([
                "-i",
                "127.0.0.1",
                "-p",
                &port_arg,
                "-P",
                &port_arg,
                "-A",
                "127.0.0.1",
            ])
            .arg("-d")
            .arg(&dir)
            .args(["-w", "whitelist.txt"])
            .current_dir(&dir)
            .start()?;
        let addr = net::loopback(port);
        process.wait_for_tcp(addr, ctx.deadline())?;
        let tracker = Opentracker {
            process,
            addr,
            whitelist: list,
        };
        if let Some(first) = whitelist.first() {
            tracker.wait_authorized(first, ctx.deadline())?;
        }
        ctx.note(format!(
            "opentracker listening on {addr} ({} whitelisted)",
            whitelist.len()
        ));
        Ok(tracker)
    }

    /// Where it listens, TCP and UDP.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT/announce`.
    pub(crate) fn announce_url(&self) -> String {
        format!("http://{}/announce", self.addr)
    }

    /// The tracker's process, e.g. for its logs.
    pub(crate) fn process(&mut self) -> &mut Managed {
        &mut self.process
    }

    /// Adds info-hashes to the whitelist, reloads it (SIGHUP) and waits until they are
    /// authorized.
    pub(crate) fn allow(&self, hashes: &[[u8; 20]], deadline: Instant) -> anyhow::Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.whitelist)
            .with_context(|| format!("opening {}", self.whitelist.display()))?;
        for h in hashes {
            writeln!(file, "{}", hex::encode(h))?;
        }
        drop(file);
        self.process.signal("HUP")?;
        for h in hashes {
            self.wait_authorized(h, deadline)?;
        }
        Ok(())
    }

    /// Polls with `event=stopped` announces (which add no peer) until the tracker stops
    /// answering "not authorized" for `info_hash`.
    pub(crate) fn wait_authorized(
        &self,
        info_hash: &[u8; 20],
        deadline: Instant,
    ) -> anyhow::Result<()> {
        let mut probe = Announce::new(*info_hash, announce::peer_id("whitelistchk"), 1, 0);
        probe.event = Some("stopped");
        loop {
            let reply = self.get(&probe.target(), deadline)?;
            let refused = reply
                .body
                .windows(NOT_AUTHORIZED.len())
                .any(|w| w == NOT_AUTHORIZED);
            if !refused {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "opentracker on {} still refuses info-hash {} (whitelist {})",
                    self.addr,
                    hex::encode(info_hash),
                    self.whitelist.display()
                );
            }
            std::thread::sleep(POLL);
        }
    }

    /// One announce; the reply must be HTTP 200 (the body may still be a bencoded failure).
    pub(crate) fn announce(
        &self,
        announce: &Announce,
        deadline: Instant,
    ) -> anyhow::Result<Vec<u8>> {
        Ok(self.get(&announce.target(), deadline)?.body)
    }

    /// One scrape of the given info-hashes; the reply must be HTTP 200.
    pub(crate) fn scrape(&self, hashes: &[[u8; 20]], deadline: Instant) -> anyhow::Result<Vec<u8>> {
        Ok(self.get(&announce::scrape_target(hashes), deadline)?.body)
    }

    fn get(&self, target: &str, deadline: Instant) -> anyhow::Result<http::Reply> {
        let reply = http::get(self.addr, target, deadline)?;
        if reply.status != 200 {
            bail!(
                "opentracker answered GET {target} with HTTP {}: {}",
                reply.status,
                String::from_utf8_lossy(&reply.body)
            );
        }
        Ok(reply)
    }
}
