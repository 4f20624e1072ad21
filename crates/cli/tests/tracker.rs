//! `bt tracker` end to end: it starts on a free port, answers, logs in Common Log Format, saves its
//! dfile on SIGTERM and loads it again, reports a corrupt one, and names bad arguments.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::util::{bt, bt_command, stderr, Scratch};

/// A running `bt tracker` with its output in files.
pub(crate) struct Running {
    pub(crate) child: Child,
    pub(crate) addr: SocketAddr,
    out: std::path::PathBuf,
    err: std::path::PathBuf,
}

pub(crate) fn start(dir: &Path, name: &str, extra: &[&str]) -> Running {
    let out = dir.join(format!("{name}.stdout"));
    let err = dir.join(format!("{name}.stderr"));
    let child = bt_command()
        .args(["tracker", "--port", "0", "--bind", "127.0.0.1"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .expect("bt runs");
    let mut running = Running {
        child,
        addr: "127.0.0.1:1".parse().unwrap(),
        out,
        err,
    };
    let line = running.wait_for("announce URL http://");
    let url = line
        .split("http://")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap();
    running.addr = url.parse().expect("an address in the announce URL");
    running
}

impl Running {
    pub(crate) fn stderr(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }

    /// Polls standard error for a line containing `needle` (10 s at most).
    fn wait_for(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(line) = self.stderr().lines().find(|l| l.contains(needle)) {
                return line.to_owned();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "bt tracker exited ({status}) before printing `{needle}`: {}",
                    self.stderr()
                );
            }
            assert!(
                Instant::now() < deadline,
                "no `{needle}` in: {}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub(crate) fn get(&self, target: &str) -> String {
        let mut s = TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(
            s,
            "GET {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut reply = Vec::new();
        s.read_to_end(&mut reply).unwrap();
        String::from_utf8_lossy(&reply).into_owned()
    }

    /// SIGTERM, then the exit status (10 s at most).
    fn terminate(&mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        let killed = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
        assert!(killed.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "bt tracker did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const ANNOUNCE: &str = "/announce?info_hash=aaaaaaaaaaaaaaaaaaaa&peer_id=bbbbbbbbbbbbbbbbbbbb\
                        &port=6881&left=0&compact=1";

#[test]
fn serves_logs_and_keeps_state_across_sigterm() {
    let dir = Scratch::new("tracker-state");
    let dfile = dir.path().join("dstate");
    let dfile_arg = dfile.to_str().unwrap();
    let mut t = start(dir.path(), "first", &["--dfile", dfile_arg]);
    assert!(t.stderr().contains("created dfile"), "{}", t.stderr());
    let reply = t.get(ANNOUNCE);
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.ends_with("d8:completei1e10:downloadedi0e10:incompletei0e8:intervali1800e12:min intervali900e5:peers0:e"), "{reply}");
    let reply = t.get("/announce?info_hash=short");
    assert!(
        reply.ends_with("d14:failure reason42:bad info_hash length 5 (expected 20 bytes)e"),
        "{reply}"
    );
    assert!(t.terminate().success(), "{}", t.stderr());
    assert!(t.stderr().contains("bt tracker: stopped"));
    let log = std::fs::read_to_string(&t.out).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 2, "{log}");
    assert!(lines[0].starts_with("127.0.0.1 - - ["), "{log}");
    assert!(
        lines[0].contains("] \"GET /announce?info_hash=aaaaaaaaaaaaaaaaaaaa&"),
        "{log}"
    );
    assert!(lines[0].ends_with(" HTTP/1.1\" 200 92"), "{log}");

    let mut again = start(dir.path(), "second", &["--dfile", dfile_arg, "--quiet"]);
    assert!(
        again.stderr().contains("loaded 1 peers in 1 torrents"),
        "{}",
        again.stderr()
    );
    let scrape = again.get("/scrape?info_hash=aaaaaaaaaaaaaaaaaaaa");
    assert!(scrape.contains("8:completei1e"), "{scrape}");
    assert!(again.terminate().success());
    assert_eq!(
        std::fs::read_to_string(&again.out).unwrap(),
        "",
        "--quiet logs nothing"
    );
}

#[test]
fn a_corrupt_dfile_is_moved_aside_with_a_warning() {
    let dir = Scratch::new("tracker-corrupt");
    let dfile = dir.write("dstate", b"this is not bencode");
    let mut t = start(dir.path(), "t", &["--dfile", dfile.to_str().unwrap()]);
    let err = t.stderr();
    assert!(
        err.contains("warning:") && err.contains("corrupt dfile: bencode:"),
        "{err}"
    );
    assert!(
        err.contains("moved aside to") && err.contains("dstate.corrupt-"),
        "{err}"
    );
    let moved: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("dstate.corrupt-")
        })
        .collect();
    assert_eq!(moved.len(), 1);
    assert_eq!(
        std::fs::read(moved[0].path()).unwrap(),
        b"this is not bencode"
    );
    assert!(t.terminate().success());
}

#[test]
fn bad_arguments_and_busy_ports_are_named() {
    let out = bt(&["tracker", "--allowed-dir", "/nonexistent/torrents"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "bt: --allowed-dir /nonexistent/torrents: not a directory"
    );

    let out = bt(&["tracker", "--interval", "5d"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("unknown unit `d` in `5d` (use s, m or h)"),
        "{}",
        stderr(&out)
    );

    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    let out = bt(&["tracker", "--bind", "127.0.0.1", "--port", &port], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with(&format!("bt: listening on 127.0.0.1:{port}: ")),
        "{}",
        stderr(&out)
    );
}
