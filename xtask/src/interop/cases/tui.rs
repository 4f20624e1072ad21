//! Cases `tui` and `tui-launch-many`: `bt download --tui` and `bt launch-many --tui` in a real
//! terminal. tmux (on a private server) runs it at a slow download rate against a `bt seed`;
//! `capture-pane` must show the progress, rising, and the peer list with the seed's client name;
//! `p` pauses and resumes it; `q` ends it with exit status 0, the session gone and the resume
//! file saved.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use regex_lite::Regex;

use super::peer_clients::{bt_seed, Swarm, FILE};
use super::Case;
use crate::interop::context::Ctx;
use crate::interop::packages;
use crate::interop::process::POLL;

pub(super) const CASE: Case = Case {
    name: "tui",
    about: "bt download --tui in tmux: progress and peer list on screen, p pauses, q exits 0",
    timeout: Duration::from_secs(120),
    run: run_download,
};

pub(super) const LAUNCH_MANY: Case = Case {
    name: "tui-launch-many",
    about: "bt launch-many --tui in tmux: the torrent, its peer list and files on screen, p pauses, q exits 0",
    timeout: Duration::from_secs(120),
    run: run_launch_many,
};

/// Slow enough that the 4 MiB download is still running (about 30 s) while the case looks.
const RATE: &str = "128K";
/// The seed's client name as the peer list shows it (from its peer id).
const SEED_CLIENT: &str = "torrentkit 0.1.0";
/// The size of the terminal tmux gives the view.
const COLUMNS: u16 = 160;
const ROWS: u16 = 45;
/// The tmux session's name on the private server.
const SESSION: &str = "bt-tui";
/// How long each step may take (the whole case is bounded by its own timeout too).
const STEP: Duration = Duration::from_secs(30);

fn run_download(ctx: &Ctx) -> anyhow::Result<()> {
    let view = View {
        label: "bt download",
        summary: "(quit)".to_owned(),
    };
    run_view(ctx, &view, |swarm, dir| {
        Ok(format!(
            "download {} --output {}",
            quote(&swarm.torrent),
            quote(dir)
        ))
    })
}

fn run_launch_many(ctx: &Ctx) -> anyhow::Result<()> {
    let view = View {
        label: "bt launch-many",
        summary: format!("stopped {FILE}"),
    };
    run_view(ctx, &view, |swarm, dir| {
        let torrents = ctx.path("torrents");
        std::fs::create_dir_all(&torrents)?;
        std::fs::copy(&swarm.torrent, torrents.join("payload.torrent"))?;
        Ok(format!(
            "launch-many {} --output {}",
            quote(&torrents),
            quote(dir)
        ))
    })
}

/// The program under test: its name for messages, and the line on its stderr after `q`.
struct View {
    label: &'static str,
    summary: String,
}

/// Runs `bt ARGS --tui` in tmux, where `args` gets the swarm and the download directory.
fn run_view(
    ctx: &Ctx,
    view: &View,
    args: impl FnOnce(&Swarm, &Path) -> anyhow::Result<String>,
) -> anyhow::Result<()> {
    packages::require(&[("tmux", "tmux")])?;
    let swarm = Swarm::new(ctx)?;
    let _seed = bt_seed(ctx, &swarm)?;
    swarm.wait_seeds(ctx, 1, "the bt seed")?;

    let dir = ctx.path("bt-download");
    std::fs::create_dir_all(&dir)?;
    let args = args(&swarm, &dir)?;
    let stderr_log = ctx.path("bt-download.stderr.log");
    let status_file = ctx.path("bt-download.status");
    let stty_file = ctx.path("stty-after.txt");
    let lifetime = ctx
        .deadline()
        .saturating_duration_since(Instant::now())
        .as_secs()
        + 5;
    // The program's exit status goes to a file, after the terminal's settings as bt left them;
    // then the pane (and with it the session) ends.
    // `timeout --foreground` leaves bt in the terminal's foreground process group: in a
    // background one, setting raw mode would stop it (SIGTTOU).
    let script = format!(
        "timeout --foreground -s KILL {lifetime} {bt} {args} --port 0 \
         --bind 127.0.0.1 --max-download-rate {RATE} --tui 2>{stderr}; s=$?; stty -a >{stty}; echo $s >{status}",
        bt = quote(ctx.bt()?),
        stderr = quote(&stderr_log),
        status = quote(&status_file),
        stty = quote(&stty_file),
    );
    let tmux = Tmux::start(ctx, &script)?;
    let result = drive(ctx, view, &tmux, &stderr_log, &status_file, &stty_file);
    if result.is_err() {
        // What the screen showed last, for the failure's diagnosis.
        if let Ok(screen) = tmux.capture() {
            let _ = std::fs::write(ctx.path("last-screen.txt"), screen);
        }
    }
    drop(tmux);
    result?;

    let resume = dir.join(format!(".{FILE}.bt-resume"));
    if !resume.is_file() {
        bail!(
            "q did not leave the resume file {} (bt's stderr: {})",
            resume.display(),
            read(&stderr_log)
        );
    }
    ctx.note(format!("the resume file {} was saved", resume.display()));
    Ok(())
}

/// Watches the screen, pauses, resumes and quits.
fn drive(
    ctx: &Ctx,
    view: &View,
    tmux: &Tmux,
    stderr_log: &Path,
    status_file: &Path,
    stty_file: &Path,
) -> anyhow::Result<()> {
    let row = Regex::new(&format!(
        r"{} +(downloading|paused|seeding|stopping) +(\d{{1,3}}\.\d)%",
        regex_lite::escape(FILE)
    ))?;
    // `E`: both sides run `--encryption prefer` (the default), so the connection is RC4; `P`:
    // both run `--transport both` (the default), so bt dials bt over uTP; the next column says
    // where the peer came from: the tracker.
    let peer = Regex::new(&format!(
        r"127\.0\.0\.1:\d+ +{} +DEP +tracker +\S+ \S+/s",
        regex_lite::escape(SEED_CLIENT)
    ))?;
    let file_row = Regex::new(&format!(
        r"{} +\S+ \S+ +\d{{1,3}}\.\d%",
        regex_lite::escape(FILE)
    ))?;
    let state_and_percent = |screen: &str| -> Option<(String, f64)> {
        let caps = row.captures(screen)?;
        Some((caps[1].to_owned(), caps[2].parse().ok()?))
    };

    // The first view: downloading, a percentage, the seed in the peer list, the file's progress.
    let screen = tmux.wait(ctx, "the progress and the seed in the peer list", |s| {
        state_and_percent(s).is_some_and(|(state, _)| state == "downloading")
            && peer.is_match(s)
            && file_row.is_match(s)
    })?;
    std::fs::write(ctx.path("first-screen.txt"), &screen)?;
    let (_, first) = state_and_percent(&screen).context("the torrent row")?;
    if tmux.format("#{alternate_on}")? != "1" {
        bail!("the view is not on the alternate screen");
    }
    let peer_line = screen
        .lines()
        .find(|l| peer.is_match(l))
        .unwrap_or_default()
        .trim_matches(|c| c == '│' || c == ' ')
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    ctx.note(format!(
        "on screen: {FILE} downloading at {first}%, peer: {peer_line}"
    ));
    // The view is live: the percentage rises.
    let screen = tmux.wait(ctx, "the percentage to rise", |s| {
        state_and_percent(s).is_some_and(|(state, pct)| state == "downloading" && pct > first)
    })?;
    let (_, later) = state_and_percent(&screen).context("the torrent row")?;
    ctx.note(format!("the percentage rose from {first}% to {later}%"));

    tmux.keys("p")?;
    tmux.wait(ctx, "the torrent paused after p", |s| {
        state_and_percent(s).is_some_and(|(state, _)| state == "paused")
    })?;
    tmux.keys("p")?;
    tmux.wait(ctx, "the download resumed, the seed back, after p", |s| {
        state_and_percent(s).is_some_and(|(state, _)| state == "downloading") && peer.is_match(s)
    })?;
    ctx.note("p paused the download and p resumed it (the seed reconnected)");

    tmux.keys("q")?;
    let deadline = ctx.deadline_in(STEP);
    let status = loop {
        if let Ok(text) = std::fs::read_to_string(status_file) {
            if text.ends_with('\n') {
                break text.trim().to_owned();
            }
        }
        if Instant::now() >= deadline {
            bail!(
                "{} did not exit within {} s of q; stderr: {}",
                view.label,
                STEP.as_secs(),
                read(stderr_log)
            );
        }
        std::thread::sleep(POLL);
    };
    if status != "0" {
        bail!(
            "{} exited with status {status} after q; stderr: {}",
            view.label,
            read(stderr_log)
        );
    }
    let stderr = read(stderr_log);
    let summary = stderr
        .lines()
        .find(|l| l.contains(&view.summary))
        .with_context(|| format!("no line with `{}` on bt's stderr: {stderr}", view.summary))?;
    ctx.note(format!("q: exit status 0, {summary}"));
    // Raw mode is over: line editing and echo are back.
    let stty = read(stty_file);
    let words: Vec<&str> = stty.split_whitespace().collect();
    if !(words.contains(&"icanon") && words.contains(&"echo")) {
        bail!("bt left the terminal in raw mode; stty -a after it: {stty}");
    }
    while tmux.alive()? {
        if Instant::now() >= deadline {
            bail!("the tmux session outlived {}", view.label);
        }
        std::thread::sleep(POLL);
    }
    Ok(())
}

/// A private tmux server (its own socket file, no configuration file) with one detached session;
/// dropping it kills the server and everything in it and removes the socket.
struct Tmux {
    socket: PathBuf,
}

impl Tmux {
    /// Starts the server with a `COLUMNS`x`ROWS` session running `script` under `/bin/sh`.
    fn start(ctx: &Ctx, script: &str) -> anyhow::Result<Tmux> {
        // In the case directory, unless that path is too long for a Unix socket (108 bytes).
        let mut socket = ctx.path("tmux.sock");
        if socket.as_os_str().len() > 100 {
            socket = std::env::temp_dir().join(format!(
                "torrentkit-interop-{}-{}.sock",
                ctx.name(),
                std::process::id()
            ));
        }
        let tmux = Tmux { socket };
        // A server left by an earlier run would be reused: end it first.
        let _ = tmux.run(&["kill-server"]);
        let _ = std::fs::remove_file(&tmux.socket);
        let (columns, rows) = (COLUMNS.to_string(), ROWS.to_string());
        let out = tmux.run(&[
            "new-session",
            "-d",
            "-s",
            SESSION,
            "-x",
            &columns,
            "-y",
            &rows,
            "/bin/sh",
            "-c",
            script,
        ])?;
        if !out.status.success() {
            bail!(
                "tmux new-session failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(tmux)
    }

    fn run(&self, args: &[&str]) -> anyhow::Result<Output> {
        Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(["-f", "/dev/null"])
            .args(args)
            .env("TERM", "xterm-256color")
            .stdin(Stdio::null())
            .output()
            .context("running tmux")
    }

    /// The text on the session's screen.
    fn capture(&self) -> anyhow::Result<String> {
        let out = self.run(&["capture-pane", "-p", "-t", SESSION])?;
        if !out.status.success() {
            bail!(
                "tmux capture-pane failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Captures the screen until `ready` holds for it and returns it, failing after `STEP`
    /// with the last screen.
    fn wait(&self, ctx: &Ctx, what: &str, ready: impl Fn(&str) -> bool) -> anyhow::Result<String> {
        let deadline = ctx.deadline_in(STEP);
        loop {
            let screen = self.capture()?;
            if ready(&screen) {
                return Ok(screen);
            }
            if Instant::now() >= deadline {
                bail!(
                    "the screen did not show {what} within {} s; it showed:\n{screen}",
                    STEP.as_secs()
                );
            }
            std::thread::sleep(POLL * 5);
        }
    }

    /// Types `keys` (tmux key names) into the session.
    fn keys(&self, keys: &str) -> anyhow::Result<()> {
        let out = self.run(&["send-keys", "-t", SESSION, keys])?;
        if !out.status.success() {
            bail!(
                "tmux send-keys {keys} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    }

    /// A tmux format (such as `#{alternate_on}`) expanded for the session's pane.
    fn format(&self, format: &str) -> anyhow::Result<String> {
        let out = self.run(&["display-message", "-p", "-t", SESSION, format])?;
        if !out.status.success() {
            bail!(
                "tmux display-message {format} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    /// Whether the session still exists.
    fn alive(&self) -> anyhow::Result<bool> {
        Ok(self.run(&["has-session", "-t", SESSION])?.status.success())
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
        let _ = std::fs::remove_file(&self.socket);
    }
}

/// `path` quoted for `/bin/sh`.
fn quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_quoted_for_the_shell() {
        assert_eq!(quote(Path::new("/a b/it's")), r"'/a b/it'\''s'");
    }
}
