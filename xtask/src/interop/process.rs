//! Managed child processes: each in its own process group, output logged to files, the whole group
//! killed on drop, and deadline-bounded waits for a log line, a TCP port or the exit.

use std::ffi::{OsStr, OsString};
use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use regex_lite::Regex;

use super::packages;

/// How often the wait loops look again; short, and only ever inside a loop bounded by a deadline.
pub(crate) const POLL: Duration = Duration::from_millis(20);

/// The process groups still alive, shared with whoever must be able to end them all at once
/// (the interop runner does so when a case overruns its deadline).
#[derive(Debug, Default)]
pub(crate) struct Groups(Mutex<Vec<u32>>);

impl Groups {
    fn add(&self, pgid: u32) {
        self.lock().push(pgid);
    }

    fn remove(&self, pgid: u32) {
        self.lock().retain(|&g| g != pgid);
    }

    /// Kills every registered process group (SIGKILL); returns how many there were.
    pub(crate) fn kill_all(&self) -> usize {
        let groups = std::mem::take(&mut *self.lock());
        for &pgid in &groups {
            let _ = signal_group(pgid, "KILL");
        }
        groups.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<u32>> {
        // A panic while holding this lock cannot leave the list inconsistent: recover it.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// What [`Managed::wait_for_line`] looks for: a plain substring (from `&str`) or a regex.
#[derive(Debug, Clone)]
pub(crate) enum LinePattern {
    /// The line contains this text.
    Substr(String),
    /// The line matches this regular expression.
    Regex(Regex),
}

impl LinePattern {
    fn matches(&self, line: &str) -> bool {
        match self {
            LinePattern::Substr(s) => line.contains(s.as_str()),
            LinePattern::Regex(re) => re.is_match(line),
        }
    }
}

impl std::fmt::Display for LinePattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinePattern::Substr(s) => write!(f, "{s:?}"),
            LinePattern::Regex(re) => write!(f, "/{}/", re.as_str()),
        }
    }
}

impl From<&str> for LinePattern {
    fn from(s: &str) -> Self {
        LinePattern::Substr(s.to_owned())
    }
}

impl From<Regex> for LinePattern {
    fn from(re: Regex) -> Self {
        LinePattern::Regex(re)
    }
}

/// A program about to be started as a [`Managed`] process.
#[derive(Debug)]
pub(crate) struct Spawn {
    name: String,
    program: OsString,
    args: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
    cwd: Option<PathBuf>,
    log_dir: PathBuf,
    lifetime: Option<Duration>,
    groups: Option<Arc<Groups>>,
}

impl Spawn {
    /// A process called `name` (used for its log file names) running `program`, logging into
    /// `log_dir` as `NAME.stdout.log` and `NAME.stderr.log` (`NAME-2...` if those exist).
    pub(crate) fn new(name: &str, program: impl AsRef<OsStr>, log_dir: &Path) -> Self {
        Spawn {
            name: name.to_owned(),
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            envs: Vec::new(),
            cwd: None,
            log_dir: log_dir.to_owned(),
            lifetime: None,
            groups: None,
        }
    }

    pub(crate) fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub(crate) fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    pub(crate) fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.envs
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    pub(crate) fn current_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.cwd = Some(dir.as_ref().to_owned());
        self
    }

    /// A hard bound on the process's life that holds even if xtask itself is killed: the program
    /// runs under coreutils `timeout -s KILL`, inside the same process group.
    pub(crate) fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = Some(lifetime);
        self
    }

    /// Registers the process group in `groups` while the process is managed.
    pub(crate) fn groups(mut self, groups: Arc<Groups>) -> Self {
        self.groups = Some(groups);
        self
    }

    /// Starts the process in a new process group, standard input from `/dev/null`.
    pub(crate) fn start(self) -> anyhow::Result<Managed> {
        let program = packages::which(&self.program).with_context(|| {
            format!(
                "cannot start {}: `{}` is not on PATH",
                self.name,
                self.program.to_string_lossy()
            )
        })?;
        let (name, stdout_log, stdout) = create_log(&self.log_dir, &self.name, "stdout")?;
        let stderr_log = self.log_dir.join(format!("{name}.stderr.log"));
        let stderr = File::create(&stderr_log)
            .with_context(|| format!("creating {}", stderr_log.display()))?;

        let mut command = match self.lifetime {
            Some(lifetime) => {
                let mut c = Command::new("timeout");
                c.arg("-s")
                    .arg("KILL")
                    .arg(format!("{}", lifetime.as_secs().max(1)));
                c.arg(&program);
                c
            }
            None => Command::new(&program),
        };
        command
            .args(&self.args)
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .process_group(0);
        if let Some(cwd) = &self.cwd {
            command.current_dir(cwd);
        }
        let child = command
            .spawn()
            .with_context(|| format!("starting {name} ({})", program.display()))?;
        let pgid = child.id();
        if let Some(groups) = &self.groups {
            groups.add(pgid);
        }
        Ok(Managed {
            name,
            child,
            pgid,
            status: None,
            stdout_log,
            stderr_log,
            groups: self.groups,
            under_timeout: self.lifetime.is_some(),
        })
    }

    /// Starts the process and waits for it to exit successfully; returns its standard output.
    pub(crate) fn run(self, deadline: Instant) -> anyhow::Result<Vec<u8>> {
        let mut process = self.start()?;
        let status = process.wait_exit(deadline)?;
        if !status.success() {
            bail!(
                "{} failed ({status}){}",
                process.name,
                process.stderr_tail()
            );
        }
        process.stdout()
    }
}

/// Creates `DIR/NAME.KIND.log`, or `DIR/NAME-2.KIND.log`... if it exists; returns the name used.
fn create_log(dir: &Path, name: &str, kind: &str) -> anyhow::Result<(String, PathBuf, File)> {
    for n in 1.. {
        let candidate = if n == 1 {
            name.to_owned()
        } else {
            format!("{name}-{n}")
        };
        let path = dir.join(format!("{candidate}.{kind}.log"));
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(file) => return Ok((candidate, path, file)),
            Err(err) if err.kind() == ErrorKind::AlreadyExists => continue,
            Err(err) => return Err(err).with_context(|| format!("creating {}", path.display())),
        }
    }
    unreachable!("the loop above only ends by returning")
}

/// A running child process in its own process group; dropping it kills the whole group.
#[derive(Debug)]
pub(crate) struct Managed {
    name: String,
    child: Child,
    pgid: u32,
    status: Option<ExitStatus>,
    stdout_log: PathBuf,
    stderr_log: PathBuf,
    groups: Option<Arc<Groups>>,
    /// Whether the leader is `timeout` running the program as its child.
    under_timeout: bool,
}

impl Managed {
    /// The name its logs are filed under.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The process id, which is also its process group id.
    pub(crate) fn pid(&self) -> u32 {
        self.pgid
    }

    pub(crate) fn stdout_log(&self) -> &Path {
        &self.stdout_log
    }

    pub(crate) fn stderr_log(&self) -> &Path {
        &self.stderr_log
    }

    /// The pid of the program itself: the group leader, or, when it runs under `timeout` (a
    /// [`Spawn::lifetime`]), the leader's child once `timeout` has started it.
    pub(crate) fn program_pid(&mut self, deadline: Instant) -> anyhow::Result<u32> {
        if !self.under_timeout {
            return Ok(self.pgid);
        }
        let children = format!("/proc/{0}/task/{0}/children", self.pgid);
        loop {
            let listed = std::fs::read_to_string(&children).unwrap_or_default();
            if let Some(pid) = listed.split_whitespace().find_map(|p| p.parse().ok()) {
                return Ok(pid);
            }
            if let Some(status) = self.try_status()? {
                bail!("{} exited ({status}) before its program started", self.name);
            }
            if Instant::now() >= deadline {
                bail!("{}: `timeout` started no program in time", self.name);
            }
            std::thread::sleep(POLL);
        }
    }

    /// Everything written to standard output so far.
    pub(crate) fn stdout(&self) -> anyhow::Result<Vec<u8>> {
        std::fs::read(&self.stdout_log)
            .with_context(|| format!("reading {}", self.stdout_log.display()))
    }

    /// Everything written to standard error so far.
    pub(crate) fn stderr(&self) -> anyhow::Result<Vec<u8>> {
        std::fs::read(&self.stderr_log)
            .with_context(|| format!("reading {}", self.stderr_log.display()))
    }

    /// The exit status, if the process has exited.
    pub(crate) fn try_status(&mut self) -> anyhow::Result<Option<ExitStatus>> {
        if self.status.is_none() {
            self.status = self
                .child
                .try_wait()
                .with_context(|| format!("waiting for {}", self.name))?;
        }
        Ok(self.status)
    }

    /// Waits until the process exits, or fails at `deadline` (the process keeps running until
    /// dropped).
    pub(crate) fn wait_exit(&mut self, deadline: Instant) -> anyhow::Result<ExitStatus> {
        loop {
            if let Some(status) = self.try_status()? {
                return Ok(status);
            }
            if Instant::now() >= deadline {
                bail!("{} did not exit in time{}", self.name, self.stderr_tail());
            }
            std::thread::sleep(POLL);
        }
    }

    /// Waits until a line of standard output or standard error matches `pattern` (searching
    /// the logs from their start) and returns that line. Fails early if the process exits first.
    pub(crate) fn wait_for_line(
        &mut self,
        pattern: impl Into<LinePattern>,
        deadline: Instant,
    ) -> anyhow::Result<String> {
        let pattern = pattern.into();
        loop {
            // Read the status before the logs, so output written just before exiting is seen.
            let exited = self.try_status()?;
            for log in [&self.stdout_log, &self.stderr_log] {
                let text = read_lossy(log);
                if let Some(line) = text.lines().find(|line| pattern.matches(line)) {
                    return Ok(line.to_owned());
                }
            }
            if let Some(status) = exited {
                bail!(
                    "{} exited ({status}) without printing a line matching {pattern}{}",
                    self.name,
                    self.stderr_tail()
                );
            }
            if Instant::now() >= deadline {
                bail!(
                    "{} printed no line matching {pattern} in time{}",
                    self.name,
                    self.stderr_tail()
                );
            }
            std::thread::sleep(POLL);
        }
    }

    /// Waits until `addr` accepts TCP connections; fails early if the process exits first.
    pub(crate) fn wait_for_tcp(
        &mut self,
        addr: SocketAddr,
        deadline: Instant,
    ) -> anyhow::Result<()> {
        loop {
            if let Some(status) = self.try_status()? {
                bail!(
                    "{} exited ({status}) before accepting connections on {addr}{}",
                    self.name,
                    self.stderr_tail()
                );
            }
            if super::net::try_connect(addr, deadline) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "{} did not accept connections on {addr} in time{}",
                    self.name,
                    self.stderr_tail()
                );
            }
            std::thread::sleep(POLL);
        }
    }

    /// Sends a signal (a name such as `HUP` or `TERM`) to the whole process group.
    pub(crate) fn signal(&self, signal: &str) -> anyhow::Result<()> {
        signal_group(self.pgid, signal)
            .with_context(|| format!("sending SIG{signal} to {}", self.name))
    }

    /// The last lines of standard error (else of standard output), formatted for an error
    /// message, with the log's path.
    pub(crate) fn stderr_tail(&self) -> String {
        for log in [&self.stderr_log, &self.stdout_log] {
            let text = read_lossy(log);
            let lines: Vec<&str> = text.lines().collect();
            if !lines.is_empty() {
                let tail = lines[lines.len().saturating_sub(12)..].join("\n    ");
                return format!("; last lines of {}:\n    {tail}", log.display());
            }
        }
        format!("; it printed nothing (logs: {})", self.stdout_log.display())
    }
}

impl Drop for Managed {
    fn drop(&mut self) {
        // Kill the group even if the leader has exited: its children may live on.
        let _ = signal_group(self.pgid, "KILL");
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(groups) = &self.groups {
            groups.remove(self.pgid);
        }
    }
}

fn read_lossy(path: &Path) -> String {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// Signals a process group through the shell's `kill` builtin (no `libc`; `unsafe` is forbidden).
fn signal_group(pgid: u32, signal: &str) -> anyhow::Result<()> {
    kill(&format!("-{pgid}"), signal)
}

/// Signals one process only, not its group: e.g. the program a [`Managed`] runs under `timeout`,
/// which would otherwise get the signal twice (once forwarded by `timeout`).
pub(crate) fn signal_pid(pid: u32, signal: &str) -> anyhow::Result<()> {
    kill(&pid.to_string(), signal)
}

/// `kill -s SIGNAL -- TARGET` (a pid, or `-PGID` for a group) through the shell's builtin.
fn kill(target: &str, signal: &str) -> anyhow::Result<()> {
    let output = Command::new("/bin/sh")
        .arg("-c")
        .arg(format!("kill -s {signal} -- {target}"))
        .stdin(Stdio::null())
        .output()
        .context("running /bin/sh to send a signal")?;
    if !output.status.success() {
        bail!(
            "kill -s {signal} -- {target}: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-process-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(10)
    }

    fn sh(dir: &Path, script: &str) -> Spawn {
        Spawn::new("sh", "sh", dir).arg("-c").arg(script)
    }

    #[test]
    fn wait_for_line_returns_the_matching_line_from_either_log() {
        let dir = scratch("line");
        let mut p = sh(
            &dir,
            "echo starting; echo 'listening on port 4242' >&2; sleep 30",
        )
        .start()
        .unwrap();
        assert_eq!(
            p.wait_for_line("listening", soon()).unwrap(),
            "listening on port 4242"
        );
        let re = Regex::new(r"port (\d+)").unwrap();
        let line = p.wait_for_line(re.clone(), soon()).unwrap();
        assert_eq!(&re.captures(&line).unwrap()[1], "4242");
        assert_eq!(p.stdout().unwrap(), b"starting\n");
        drop(p);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn wait_for_line_fails_early_when_the_process_exits() {
        let dir = scratch("exit");
        let mut p = sh(&dir, "echo oops >&2; exit 3").start().unwrap();
        let started = Instant::now();
        let err = p
            .wait_for_line("never", Instant::now() + Duration::from_secs(60))
            .unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "waited for the deadline"
        );
        let msg = err.to_string();
        assert!(
            msg.contains("exited (exit status: 3)") && msg.contains("oops"),
            "{msg}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn wait_exit_gives_up_at_the_deadline_and_run_reports_failure() {
        let dir = scratch("deadline");
        let mut p = sh(&dir, "sleep 30").start().unwrap();
        let err = p
            .wait_exit(Instant::now() + Duration::from_millis(100))
            .unwrap_err();
        assert!(err.to_string().contains("did not exit in time"), "{err}");
        drop(p);
        assert_eq!(sh(&dir, "printf hi").run(soon()).unwrap(), b"hi");
        let err = sh(&dir, "echo bad input >&2; exit 1")
            .run(soon())
            .unwrap_err();
        assert!(err.to_string().contains("bad input"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn drop_kills_the_whole_process_group() {
        let dir = scratch("group");
        let groups = Arc::new(Groups::default());
        let mut p = sh(&dir, "sleep 60 & echo child $!; wait")
            .groups(groups.clone())
            .start()
            .unwrap();
        let line = p
            .wait_for_line(Regex::new(r"^child \d+$").unwrap(), soon())
            .unwrap();
        let child: u32 = line["child ".len()..].parse().unwrap();
        assert!(alive(child), "the grandchild should be running");
        assert_eq!(groups.lock().len(), 1);
        drop(p);
        assert!(groups.lock().is_empty());
        let deadline = soon();
        while alive(child) && Instant::now() < deadline {
            std::thread::sleep(POLL);
        }
        assert!(!alive(child), "the grandchild {child} survived the drop");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn log_names_do_not_clobber_earlier_logs() {
        let dir = scratch("names");
        let a = sh(&dir, "true").start().unwrap();
        let b = sh(&dir, "true").start().unwrap();
        assert_eq!((a.name(), b.name()), ("sh", "sh-2"));
        assert!(b.stderr_log().ends_with("sh-2.stderr.log"));
        drop((a, b));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_missing_program_is_named() {
        let dir = scratch("missing");
        let err = Spawn::new("x", "no-such-program-xyz", &dir)
            .start()
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("`no-such-program-xyz` is not on PATH"),
            "{err}"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// Running and not a zombie (a killed orphan lingers as one until init reaps it).
    fn alive(pid: u32) -> bool {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(stat) => !stat
                .rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z'),
            Err(_) => false,
        }
    }
}
