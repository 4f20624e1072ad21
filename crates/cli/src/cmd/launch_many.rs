//! `bt launch-many DIR`: download or seed every `.torrent` in a directory from one process on
//! one port (btlaunchmany), starting torrents added to the directory later and stopping those
//! removed; `--tui` shows them live (btlaunchmanycurses).

mod entry;
mod table;
mod watch;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::sync::{mpsc, Semaphore};
use torrentkit_peer::session::{Shared, SharedConfig};
use torrentkit_peer::storage::FileCache;

use self::entry::{Common, Entry, Event, State};
use self::watch::{scan, DirWatch, Stamp};
use super::transfer::{identity, runtime, NetArgs};
use super::tui::{TorrentView, Tui, UserAction, NEEDS_TERMINAL};

/// How often `--peer` addresses are dialled again by torrents still downloading.
const PEER_RETRY: Duration = Duration::from_secs(10);
/// How often completions are looked for.
const POLL: Duration = Duration::from_millis(250);

/// Arguments of `bt launch-many`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Each torrent's data goes in --output (default: DIR) under its name, \
with its resume file .NAME.bt-resume beside it. Torrents run until Ctrl-C or SIGTERM, which stops \
them all, announces `stopped` and saves every resume file."
)]
pub(crate) struct Args {
    /// The directory of .torrent files to serve.
    dir: PathBuf,
    /// Where the data goes (default: DIR).
    #[arg(short, long, value_name = "DIR")]
    output: Option<PathBuf>,
    /// Most peer connections over all torrents together.
    #[arg(long, value_name = "N", default_value_t = 200)]
    max_connections: usize,
    /// Most data files open at once over all torrents together.
    #[arg(long, value_name = "N", default_value_t = 64)]
    max_open_files: usize,
    /// Seconds between rescans of DIR (changes are also noticed at once through inotify).
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    rescan: f64,
    #[command(flatten)]
    net: NetArgs,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    if !args.dir.is_dir() {
        bail!("{}: not a directory", args.dir.display());
    }
    if args.max_connections == 0 || args.max_open_files == 0 {
        bail!("--max-connections and --max-open-files must be at least 1");
    }
    let peers = args.net.peer_addrs()?;
    runtime()?.block_on(run_async(args, peers))
}

/// Where lines go: stderr, or the live view's message area.
enum Screen {
    Plain,
    Live(Tui, Vec<TorrentView>),
}

impl Screen {
    fn note(&self, line: &str) {
        match self {
            Screen::Live(tui, _) => {
                let _ = tui.note(line);
            }
            Screen::Plain => eprintln!("bt: launch-many: {line}"),
        }
    }
}

struct Run {
    dir: PathBuf,
    common: Common,
    entries: BTreeMap<PathBuf, Entry>,
    /// Files that could not be read as torrents, with the stamp they had: tried again only
    /// once they change (a copy still in progress, a fixed file).
    rejected: BTreeMap<PathBuf, Stamp>,
    next_id: u64,
    stopping: Vec<tokio::task::JoinHandle<()>>,
    peers: Vec<SocketAddr>,
}

impl Run {
    /// Starts what is new in the directory and stops what is gone.
    fn rescan(&mut self, screen: &Screen) {
        let found = match scan(&self.dir) {
            Ok(f) => f,
            Err(e) => {
                screen.note(&format!("warning: {e:#}"));
                return;
            }
        };
        let gone: Vec<PathBuf> = self
            .entries
            .keys()
            .filter(|p| !found.contains_key(*p))
            .cloned()
            .collect();
        for path in gone {
            if let Some(e) = self.entries.remove(&path) {
                screen.note(&format!(
                    "stopping {}: {} was removed",
                    e.name,
                    path.display()
                ));
                self.stopping.push(e.stop(self.common.events.clone()));
            }
        }
        self.rejected.retain(|p, _| found.contains_key(p));
        for (path, stamp) in found {
            if let Some(e) = self.entries.get(&path) {
                if e.stamp == stamp {
                    continue;
                }
                // The .torrent was replaced: stop the old one and read the new one.
                if let Some(e) = self.entries.remove(&path) {
                    screen.note(&format!("{} changed; restarting it", path.display()));
                    self.stopping.push(e.stop(self.common.events.clone()));
                }
            }
            if self.rejected.get(&path) == Some(&stamp) {
                continue;
            }
            self.next_id += 1;
            match Entry::load(self.next_id, &path, stamp, &self.common) {
                Ok(entry) => {
                    let hash = entry.torrent.info_hash();
                    if let Some(other) = self
                        .entries
                        .iter()
                        .find(|(_, e)| e.torrent.info_hash() == hash)
                        .map(|(p, _)| p.clone())
                    {
                        screen.note(&format!(
                            "warning: {} is the same torrent as {}; skipped",
                            path.display(),
                            other.display()
                        ));
                        self.rejected.insert(path, stamp);
                        continue;
                    }
                    self.rejected.remove(&path);
                    screen.note(&format!("checking {}", entry.name));
                    self.entries.insert(path, entry);
                }
                Err(e) => {
                    screen.note(&format!("warning: {e:#}"));
                    self.rejected.insert(path, stamp);
                }
            }
        }
    }

    fn checked(
        &mut self,
        id: u64,
        result: anyhow::Result<(
            torrentkit_peer::storage::FileStorage,
            super::placement::Start,
        )>,
        screen: &Screen,
    ) {
        let Some(entry) = self.entries.values_mut().find(|e| e.id == id) else {
            return; // removed while it was being checked
        };
        let started = result.and_then(|(storage, start)| {
            let (have, pieces) = (start.have.count(), start.have.len());
            entry.start(storage, start, &self.common, &self.peers)?;
            Ok((have, pieces))
        });
        match started {
            Ok((have, pieces)) => screen.note(&format!(
                "started {} ({have}/{pieces} pieces on disk)",
                entry.name
            )),
            Err(e) => {
                screen.note(&format!("error: {}: {e:#}", entry.name));
                entry.state = State::Failed(format!("{e:#}"));
            }
        }
    }

    fn say_completions(&mut self, screen: &Screen) {
        for e in self.entries.values_mut() {
            if !e.complete_said && e.is_complete() {
                e.complete_said = true;
                screen.note(&format!("complete {}", e.name));
            }
        }
    }

    fn table(&self) -> String {
        let progress: Vec<_> = self.entries.values().map(Entry::progress).collect();
        let states: Vec<String> = self.entries.values().map(Entry::state_word).collect();
        let rows: Vec<table::Row<'_>> = self
            .entries
            .values()
            .zip(&progress)
            .zip(&states)
            .map(|((e, p), s)| table::Row {
                name: &e.name,
                state: s,
                total: e.torrent.info().total_size(),
                progress: p.as_ref(),
            })
            .collect();
        let files = &self.common.files;
        table::render(&rows, files.open_files(), files.capacity())
    }

    /// Brings the live view's list in line with the entries (same order) and draws it.
    fn draw(&self, tui: &Tui, views: &mut Vec<TorrentView>) -> anyhow::Result<()> {
        let mut next = Vec::with_capacity(self.entries.len());
        for e in self.entries.values() {
            let hash = e.torrent.info_hash().to_hex();
            let mut view = match views.iter().position(|v| v.info_hash == hash) {
                Some(i) => views.swap_remove(i),
                None => TorrentView::new(&e.torrent, e.name.clone()),
            };
            if let Some(p) = e.progress() {
                view.update(p);
            }
            view.state = e.state_word();
            next.push(view);
        }
        *views = next;
        tui.draw(views)
    }

    fn toggle_pause(&self, index: usize, screen: &Screen) {
        let Some(e) = self.entries.values().nth(index) else {
            return;
        };
        if let State::Running { session, progress } = &e.state {
            if progress.borrow().paused {
                session.resume();
                screen.note(&format!("resumed {}", e.name));
            } else {
                session.pause();
                screen.note(&format!("paused {}", e.name));
            }
        }
    }
}

async fn run_async(args: Args, peers: Vec<SocketAddr>) -> anyhow::Result<ExitCode> {
    let net = &args.net;
    let listener = net.listen().await?;
    let port = listener.local_addr().context("listener address")?.port();
    let shared = Shared::new(SharedConfig {
        max_connections: args.max_connections,
        max_upload_rate: (net.max_upload_rate > 0).then_some(net.max_upload_rate),
        max_download_rate: (net.max_download_rate > 0).then_some(net.max_download_rate),
    });
    let server = shared.serve(listener);

    let (peer_id, seed) = identity();
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let mut run = Run {
        dir: args.dir.clone(),
        common: Common {
            shared,
            files: FileCache::new(args.max_open_files),
            checks: Arc::new(Semaphore::new(1)),
            events: events_tx,
            peer_id: peer_id.0,
            seed,
            port,
            announce_ip: net.ip,
            output: args.output.clone().unwrap_or_else(|| args.dir.clone()),
        },
        entries: BTreeMap::new(),
        rejected: BTreeMap::new(),
        next_id: 0,
        stopping: Vec::new(),
        peers,
    };

    let mut screen = Screen::Plain;
    if net.tui {
        if Tui::available() {
            screen = Screen::Live(Tui::start()?, Vec::new());
        } else {
            eprintln!("{NEEDS_TERMINAL}");
        }
    }
    let mut actions = match &screen {
        Screen::Live(tui, _) => tui.actions(),
        Screen::Plain => mpsc::unbounded_channel().1,
    };
    screen.note(&format!(
        "listening for peers on {}:{port}; watching {}",
        net.bind,
        args.dir.display()
    ));
    let (mut dir_watch, warning) = DirWatch::start(&args.dir);
    if let Some(w) = warning {
        screen.note(&format!("warning: {w}"));
    }
    run.rescan(&screen);

    // Made once: a `ctrl_c()` future made anew each turn of the loop misses a signal that
    // arrives between two turns.
    let signal = |kind| tokio::signal::unix::signal(kind).context("installing a signal handler");
    let mut sigint = signal(tokio::signal::unix::SignalKind::interrupt())?;
    let mut sigterm = signal(tokio::signal::unix::SignalKind::terminate())?;
    let live = matches!(screen, Screen::Live(..));
    let mut status = tokio::time::interval(if live {
        Duration::from_millis(250)
    } else {
        Duration::from_secs_f64(net.status_interval.clamp(0.05, 3600.0))
    });
    let mut rescan =
        tokio::time::interval(Duration::from_secs_f64(args.rescan.clamp(0.1, 86400.0)));
    rescan.tick().await;
    let mut resume_tick = tokio::time::interval(Duration::from_secs_f64(
        net.resume_interval.clamp(0.05, 86400.0),
    ));
    resume_tick.tick().await;
    let mut poll = tokio::time::interval(POLL);
    let mut redial = tokio::time::interval(PEER_RETRY);
    redial.tick().await;
    // For `--json`: every torrent stopped, while running (removed) or at the end.
    let mut summaries = Vec::new();
    loop {
        tokio::select! {
            _ = sigint.recv() => break,
            _ = sigterm.recv() => break,
            Some(action) = actions.recv() => match action {
                UserAction::Quit => break,
                UserAction::TogglePause(i) => run.toggle_pause(i, &screen),
            },
            Some(()) = dir_watch.changed.recv() => {
                // A burst of events (a copy in progress) is one rescan.
                while dir_watch.changed.try_recv().is_ok() {}
                run.rescan(&screen);
            }
            _ = rescan.tick() => run.rescan(&screen),
            Some(event) = events.recv() => match event {
                Event::Checked { id, result } => run.checked(id, result, &screen),
                Event::Stopped { line, summary } => {
                    screen.note(&line);
                    summaries.push(summary);
                }
                Event::Note { line } => screen.note(&line),
            },
            _ = poll.tick() => run.say_completions(&screen),
            _ = status.tick() => match &mut screen {
                Screen::Live(tui, views) => run.draw(tui, views)?,
                Screen::Plain => eprint!("{}", run.table()),
            },
            _ = redial.tick(), if !run.peers.is_empty() => {
                for e in run.entries.values() {
                    if let State::Running { session, progress } = &e.state {
                        let idle = { let p = progress.borrow(); p.complete || p.paused };
                        if !idle {
                            for p in &run.peers {
                                session.add_peer(*p);
                            }
                        }
                    }
                }
            }
            _ = resume_tick.tick() => {
                for e in run.entries.values_mut() {
                    if let Err(err) = e.save_if_changed() {
                        screen.note(&format!("warning: {}: {err:#}", e.name));
                    }
                }
            }
        }
    }

    // Leave the live view first: what follows is printed on the terminal.
    drop(std::mem::replace(&mut screen, Screen::Plain));
    drop(actions);
    let count = run.entries.len();
    eprintln!("bt: launch-many: stopping {count} torrents");
    let events_tx = run.common.events.clone();
    let mut tasks = std::mem::take(&mut run.stopping);
    tasks.extend(
        std::mem::take(&mut run.entries)
            .into_values()
            .map(|e| e.stop(events_tx.clone())),
    );
    drop(events_tx);
    for t in tasks {
        let _ = t.await;
    }
    while let Ok(event) = events.try_recv() {
        match event {
            Event::Stopped { line, summary } => {
                eprintln!("bt: launch-many: {line}");
                summaries.push(summary);
            }
            Event::Note { line } => eprintln!("bt: launch-many: {line}"),
            Event::Checked { .. } => {}
        }
    }
    if args.net.json {
        // Every torrent stopped in this run, including those whose .torrent was removed.
        println!("{}", serde_json::Value::Array(summaries));
    }
    server.abort();
    Ok(ExitCode::SUCCESS)
}
