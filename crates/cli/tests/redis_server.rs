//! A real `redis-server` for tests (Debian package `redis-server`): started on a free loopback
//! port with a private directory, ready once it answers PING, stopped by PID. Redis cannot bind
//! port 0 and report it, so a free port is found by binding 127.0.0.1:0 and letting it go; when
//! another process takes it meanwhile, Redis exits and the start is retried on another port.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running redis-server, stopped when dropped.
pub(crate) struct RedisServer {
    child: Option<Child>,
    pub(crate) port: u16,
    dir: PathBuf,
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("binding a loopback port");
    l.local_addr().unwrap().port()
}

/// Whether Redis at `port` answers PING with PONG.
fn pong(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    if s.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 7];
    s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}

impl RedisServer {
    /// Starts one in `dir` (its RDB and AOF files go there), with append-only persistence
    /// synced on every write, so that a restart finds every swarm.
    pub(crate) fn start(dir: &Path) -> RedisServer {
        let found = Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            found,
            "redis-server not found: install the Debian package `redis-server`"
        );
        std::fs::create_dir_all(dir).unwrap();
        for _ in 0..5 {
            let mut r = RedisServer {
                child: None,
                port: free_port(),
                dir: dir.to_owned(),
            };
            if r.spawn() {
                return r;
            }
        }
        panic!(
            "redis-server did not start on 5 free ports; see {}",
            dir.display()
        );
    }

    /// Starts the process on `self.port`; `false` when it exited before answering (the port was
    /// taken meanwhile).
    fn spawn(&mut self) -> bool {
        let log = std::fs::File::create(self.dir.join(format!("redis-{}.log", self.port))).unwrap();
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .arg("--dir")
            .arg(&self.dir)
            .args(["--appendonly", "yes", "--appendfsync", "always"])
            .args(["--save", "", "--daemonize", "no", "--protected-mode", "no"])
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server runs");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if pong(self.port) {
                return true;
            }
            if let Some(Ok(Some(_))) = self.child.as_mut().map(Child::try_wait) {
                self.child = None;
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!(
            "redis-server on port {} did not answer PING within 10 s",
            self.port
        );
    }

    /// The URL trackers are given.
    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Stops it with SIGTERM by PID (Redis flushes its AOF) and waits for it to exit.
    pub(crate) fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Starts it again on the same port and directory, reading its AOF back.
    pub(crate) fn restart(&mut self) {
        assert!(
            self.spawn(),
            "redis-server could not take port {} back",
            self.port
        );
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
