//! rtorrent (rakshasa's libtorrent, Debian package `rtorrent`) as a peer: a v1-only client,
//! run headless (`system.daemon.set`), tracker only (no DHT, PEX or UDP trackers), on loopback,
//! with a private rc file and session directory. It seeds on after a download completes, and
//! tells us it completed by touching a file (`event.download.finished`).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::bail;

use crate::interop::context::Ctx;
use crate::interop::process::{Managed, POLL};
use crate::interop::{net, packages};

/// A running rtorrent of one torrent, its data in `dir`.
pub(super) struct Rtorrent {
    pub(super) process: Managed,
    done_marker: PathBuf,
}

impl Rtorrent {
    /// Starts rtorrent on `torrent` with its data (present or to come) in `dir`.
    pub(super) fn start(
        ctx: &Ctx,
        name: &str,
        torrent: &Path,
        dir: &Path,
    ) -> anyhow::Result<Rtorrent> {
        packages::require(&[("rtorrent", "rtorrent")])?;
        let home = ctx.path(format!("{name}-home"));
        let session = home.join("session");
        std::fs::create_dir_all(&session)?;
        std::fs::create_dir_all(dir)?;
        let done_marker = home.join("finished");
        let port = net::free_port()?;
        let rc = home.join("rtorrent.rc");
        std::fs::write(
            &rc,
            format!(
                "directory.default.set = {dir}\n\
                 session.path.set = {session}\n\
                 network.port_range.set = {port}-{port}\n\
                 network.port_random.set = no\n\
                 network.bind_address.set = 127.0.0.1\n\
                 dht.mode.set = disable\n\
                 protocol.pex.set = no\n\
                 trackers.use_udp.set = no\n\
                 system.daemon.set = true\n\
                 log.open_file = \"main\", {log}\n\
                 log.add_output = \"info\", \"main\"\n\
                 method.set_key = event.download.finished, torrentkit_done, \
                 \"execute.nothrow=touch,{done}\"\n",
                dir = dir.display(),
                session = session.display(),
                log = home.join("rtorrent.log").display(),
                done = done_marker.display(),
            ),
        )?;
        let process = ctx
            .spawn(name, "rtorrent")
            .env("HOME", &home)
            .arg("-n")
            .arg("-o")
            .arg(format!("import={}", rc.display()))
            .arg(torrent)
            .start()?;
        Ok(Rtorrent {
            process,
            done_marker,
        })
    }

    /// Waits until rtorrent has the whole torrent (downloaded, or checked as complete).
    pub(super) fn wait_complete(&mut self, deadline: Instant) -> anyhow::Result<()> {
        loop {
            if self.done_marker.exists() {
                return Ok(());
            }
            if let Some(status) = self.process.try_status()? {
                bail!(
                    "{} exited ({status}) before completing{}",
                    self.process.name(),
                    self.process.stderr_tail()
                );
            }
            if Instant::now() >= deadline {
                bail!(
                    "{} did not complete the torrent in time (its log: {})",
                    self.process.name(),
                    self.done_marker.with_file_name("rtorrent.log").display()
                );
            }
            std::thread::sleep(POLL);
        }
    }
}
