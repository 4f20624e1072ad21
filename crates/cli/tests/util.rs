//! Running `bt` in tests: a scratch directory and a helper that captures exit status and output.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

/// A fresh scratch directory under the target directory, removed when dropped.
pub(crate) struct Scratch(PathBuf);

impl Scratch {
    pub(crate) fn new(name: &str) -> Self {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    pub(crate) fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `bt` as the tests run it: its state directory (`XDG_STATE_HOME`, where the DHT routing
/// table is saved) is under the target directory, never the user's; a test may set its own.
pub(crate) fn bt_command() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bt"));
    cmd.env(
        "XDG_STATE_HOME",
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("xdg-state"),
    );
    cmd
}

/// Runs `bt` with `args`, feeding `stdin`, and returns its output.
pub(crate) fn bt(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = bt_command()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bt runs");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

/// Standard error as text, trimmed.
pub(crate) fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).trim().to_owned()
}

/// Which of a running `bt`'s output streams arrive as lines.
#[derive(Clone, Copy)]
pub(crate) enum Lines {
    /// Standard error only; standard output is kept for [`Running::finish`].
    Stderr,
    /// Both, interleaved as they arrive (for commands that print results on stdout).
    Both,
}

/// A running `bt` whose output lines arrive on a channel; killed when dropped.
pub(crate) struct Running {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    pub(crate) fn spawn(args: &[&str]) -> Running {
        Running::spawn_env(args, &[])
    }

    pub(crate) fn spawn_env(args: &[&str], env: &[(&str, &Path)]) -> Running {
        Running::spawn_in(args, None, env, Lines::Stderr)
    }

    /// Starts `bt args` in `cwd` (or here) with `env` added, streaming `which` lines.
    pub(crate) fn spawn_in(
        args: &[&str],
        cwd: Option<&Path>,
        env: &[(&str, &Path)],
        which: Lines,
    ) -> Running {
        let mut cmd = bt_command();
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(dir) = cwd {
            cmd.current_dir(dir);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("bt runs");
        let (tx, lines) = channel();
        forward_lines(child.stderr.take().unwrap(), tx.clone());
        if let Lines::Both = which {
            forward_lines(child.stdout.take().unwrap(), tx);
        }
        Running {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits `secs` at most for a line for which `f` gives a value.
    pub(crate) fn wait_for<T>(&mut self, secs: u64, mut f: impl FnMut(&str) -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let found = f(&line);
                    self.seen.push(line);
                    if let Some(v) = found {
                        return v;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "no expected line within {secs} s; stderr so far:\n{}",
                        self.seen.join("\n")
                    )
                }
                Err(RecvTimeoutError::Disconnected) => panic!(
                    "bt exited ({:?}) before the expected line; stderr:\n{}",
                    self.child.try_wait(),
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// The port from the "listening for peers on ADDR:PORT" line.
    pub(crate) fn port(&mut self) -> u16 {
        self.wait_for(60, |l| {
            l.split_once("listening for peers on ")
                .and_then(|(_, a)| a.rsplit_once(':'))
                .and_then(|(_, p)| p.trim().parse().ok())
        })
    }

    /// Waits for exit (killing after `secs`) and returns status, stdout and all of stderr.
    pub(crate) fn finish(mut self, secs: u64) -> (ExitStatus, String, String) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "bt did not finish within {secs} s; stderr:\n{}",
                    self.seen.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut out = String::new();
        if let Some(mut s) = self.child.stdout.take() {
            let _ = std::io::Read::read_to_string(&mut s, &mut out);
        }
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.seen.push(line);
        }
        (status, out, self.seen.join("\n"))
    }

    /// The process id (for looking at it under /proc).
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, as a crash would, and reap the process.
    pub(crate) fn kill(&mut self) {
        self.child.kill().expect("bt is still running");
        let _ = self.child.wait();
    }

    pub(crate) fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("kill(1) runs (Debian package procps)");
        assert!(ok.success());
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends each line read from `stream` to `tx` until either ends.
fn forward_lines(stream: impl std::io::Read + Send + 'static, tx: Sender<String>) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
}
