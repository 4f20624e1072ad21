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
use tokio::sync::mpsc;
use torrentkit_metainfo::InfoHash;
use torrentkit_peer::manager::{Event, Manager, ManagerConfig, TorrentStatus};
use torrentkit_peer::session::SharedConfig;
use torrentkit_peer::Placement;

use self::entry::{load, state_word, stopped_report, Watched};
use self::watch::{scan, DirWatch, Stamp};
use super::transfer::{identity, runtime, NetArgs, PEER_RETRY};
use super::tui::{TorrentView, Tui, UserAction, NEEDS_TERMINAL};

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
    /// Where the data goes.
    output: PathBuf,
    manager: Manager,
    /// The `.torrent` files whose torrents the manager holds, in the table's order.
    entries: BTreeMap<PathBuf, Watched>,
    /// Files that could not be read as torrents, with the stamp they had: tried again only
    /// once they change (a copy still in progress, a fixed file).
    rejected: BTreeMap<PathBuf, Stamp>,
    /// For `--json`: every torrent stopped, while running (removed) or at the end.
    summaries: Vec<serde_json::Value>,
    /// The run's DHT node, which pings each new public torrent's `nodes`.
    dht: Option<Arc<torrentkit_dht::Dht>>,
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
                self.manager.remove(&e.info_hash);
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
                    self.manager.remove(&e.info_hash);
                }
            }
            if self.rejected.get(&path) == Some(&stamp) {
                continue;
            }
            match self.add(&path, stamp) {
                Ok(name) => {
                    self.rejected.remove(&path);
                    screen.note(&format!("checking {name}"));
                }
                Err(e) => {
                    screen.note(&format!("warning: {e:#}"));
                    self.rejected.insert(path, stamp);
                }
            }
        }
    }

    /// Reads the torrent of `path` and hands it to the manager; returns its name.
    fn add(&mut self, path: &std::path::Path, stamp: Stamp) -> anyhow::Result<String> {
        let torrent = load(path)?;
        let info_hash = torrent.info_hash();
        if let Some((other, _)) = self.entries.iter().find(|(_, e)| e.info_hash == info_hash) {
            bail!(
                "{} is the same torrent as {}; skipped",
                path.display(),
                other.display()
            );
        }
        let placement = Placement::in_dir(&torrent, &self.output)?;
        let name = torrent.info().name().to_owned();
        if let Some(d) = self.dht.as_ref().filter(|_| !torrent.info().is_private()) {
            super::dht_node::ping_contacts(d.clone(), torrent.dht_nodes());
        }
        self.manager.add(torrent, placement)?;
        self.entries.insert(
            path.to_path_buf(),
            Watched {
                stamp,
                info_hash,
                name: name.clone(),
            },
        );
        Ok(name)
    }

    /// The name of a torrent the manager holds.
    fn name(&self, info_hash: &InfoHash) -> String {
        self.manager
            .torrent(info_hash)
            .map_or_else(|| info_hash.to_hex(), |t| t.info().name().to_owned())
    }

    /// Says what happened to a torrent.
    fn event(&mut self, event: Event, screen: &Screen) {
        match event {
            Event::Started { info_hash, start } => screen.note(&format!(
                "started {} ({}/{} pieces on disk)",
                self.name(&info_hash),
                start.have.count(),
                start.have.len()
            )),
            Event::Failed { info_hash, error } => {
                screen.note(&format!("error: {}: {error}", self.name(&info_hash)));
            }
            Event::Note { line, .. } => screen.note(&line),
            Event::Completed { info_hash } => {
                screen.note(&format!("complete {}", self.name(&info_hash)));
            }
            Event::Stopped(stopped) => {
                let (line, json) = stopped_report(&stopped);
                screen.note(&line);
                keep_last(&mut self.summaries, json);
            }
            _ => {}
        }
    }

    fn statuses(&self) -> Vec<Option<TorrentStatus>> {
        self.entries
            .values()
            .map(|e| self.manager.status(&e.info_hash))
            .collect()
    }

    fn table(&self) -> String {
        let statuses = self.statuses();
        let states: Vec<String> = statuses.iter().map(|s| state_word(s.as_ref())).collect();
        let rows: Vec<table::Row<'_>> = self
            .entries
            .values()
            .zip(&statuses)
            .zip(&states)
            .map(|((e, status), state)| table::Row {
                name: &e.name,
                state,
                total: self
                    .manager
                    .torrent(&e.info_hash)
                    .map_or(0, |t| t.info().total_size()),
                progress: match status {
                    Some(TorrentStatus::Running(p)) => Some(p),
                    _ => None,
                },
            })
            .collect();
        let files = self.manager.files();
        table::render(&rows, files.open_files(), files.capacity())
    }

    /// Brings the live view's list in line with the entries (same order) and draws it.
    fn draw(&self, tui: &Tui, views: &mut Vec<TorrentView>) -> anyhow::Result<()> {
        let mut next = Vec::with_capacity(self.entries.len());
        for (e, status) in self.entries.values().zip(self.statuses()) {
            let Some(torrent) = self.manager.torrent(&e.info_hash) else {
                continue;
            };
            let hash = e.info_hash.to_hex();
            let mut view = match views.iter().position(|v| v.info_hash == hash) {
                Some(i) => views.swap_remove(i),
                None => TorrentView::new(torrent, e.name.clone()),
            };
            view.state = state_word(status.as_ref());
            if let Some(TorrentStatus::Running(p)) = status {
                view.update(p);
            }
            next.push(view);
        }
        *views = next;
        tui.draw(views)
    }

    fn toggle_pause(&self, index: usize, screen: &Screen) {
        let Some(e) = self.entries.values().nth(index) else {
            return;
        };
        if let Some(TorrentStatus::Running(p)) = self.manager.status(&e.info_hash) {
            if p.paused {
                self.manager.resume(&e.info_hash);
                screen.note(&format!("resumed {}", e.name));
            } else {
                self.manager.pause(&e.info_hash);
                screen.note(&format!("paused {}", e.name));
            }
        }
    }
}

async fn run_async(args: Args, peers: Vec<SocketAddr>) -> anyhow::Result<ExitCode> {
    let net = &args.net;
    let listener = net.listen().await?;
    let port = listener.local_addr().context("listener address")?.port();
    let (peer_id, seed) = identity();
    let mut config = ManagerConfig::new(peer_id.0, seed);
    config.shared = SharedConfig {
        max_connections: args.max_connections,
        max_upload_rate: (net.max_upload_rate > 0).then_some(net.max_upload_rate),
        max_download_rate: (net.max_download_rate > 0).then_some(net.max_download_rate),
        encryption: net.encryption,
    };
    config.max_open_files = args.max_open_files;
    config.listen_port = port;
    config.announce_ip = net.ip;
    config.peers = peers;
    // One DHT node and one uTP endpoint for every torrent of the directory, on the listener's
    // port number; private torrents never use the DHT (their sessions ignore it).
    let udp = net.start_udp(port, false, &[], seed).await;
    let dht = udp.dht();
    config.dht = dht.map(|d| d.dht());
    config.transport = net.transport;
    config.utp = udp.utp();
    let redial_peers = !config.peers.is_empty();
    let mut manager = Manager::new(config);
    manager.serve(listener);
    if let Some(utp) = udp.utp() {
        manager.serve_utp(utp);
    }
    let mut run = Run {
        dir: args.dir.clone(),
        output: args.output.clone().unwrap_or_else(|| args.dir.clone()),
        manager,
        entries: BTreeMap::new(),
        rejected: BTreeMap::new(),
        summaries: Vec::new(),
        dht: dht.map(|d| d.dht()),
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
    let mut redial = tokio::time::interval(PEER_RETRY);
    redial.tick().await;
    let mut dht_save = tokio::time::interval(super::dht_node::SAVE_INTERVAL);
    dht_save.tick().await;
    if let Some(d) = &dht {
        screen.note(&format!("DHT node on UDP {}", d.local_addr()));
    }
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
            event = run.manager.next_event() => run.event(event, &screen),
            _ = status.tick() => match &mut screen {
                Screen::Live(tui, views) => run.draw(tui, views)?,
                Screen::Plain => eprint!("{}", run.table()),
            },
            _ = redial.tick(), if redial_peers => run.manager.dial_peers(),
            _ = resume_tick.tick() => {
                for (hash, err) in run.manager.save_resume_files() {
                    screen.note(&format!("warning: {}: {err}", run.name(&hash)));
                }
            }
            _ = dht_save.tick(), if dht.is_some() => {
                if let Some(d) = &dht {
                    d.save().await;
                }
            }
        }
    }

    // Leave the live view first: what follows is printed on the terminal.
    drop(std::mem::replace(&mut screen, Screen::Plain));
    drop(actions);
    eprintln!("bt: launch-many: stopping {} torrents", run.entries.len());
    let Run {
        manager,
        mut summaries,
        ..
    } = run;
    for stopped in manager.stop_all().await {
        let (line, json) = stopped_report(&stopped);
        eprintln!("bt: launch-many: {line}");
        keep_last(&mut summaries, json);
    }
    if let Some(d) = &dht {
        d.save().await;
    }
    if args.net.json {
        // Every torrent stopped in this run, including those whose .torrent was removed.
        println!("{}", serde_json::Value::Array(summaries));
    }
    Ok(ExitCode::SUCCESS)
}

/// Adds a stopped torrent's `--json` summary, replacing an earlier one of the same info-hash: a
/// torrent stopped and started again in one run (its .torrent rewritten while it was checked,
/// say) is reported once, as it ended.
fn keep_last(summaries: &mut Vec<serde_json::Value>, json: serde_json::Value) {
    summaries.retain(|s| s["info_hash"] != json["info_hash"]);
    summaries.push(json);
}

#[cfg(test)]
mod tests {
    use super::keep_last;

    #[test]
    fn a_torrent_stopped_twice_is_summarised_once_as_it_ended() {
        let mut all = Vec::new();
        keep_last(
            &mut all,
            serde_json::json!({"info_hash": "aa", "name": "a"}),
        );
        keep_last(
            &mut all,
            serde_json::json!({"info_hash": "bb", "name": "b"}),
        );
        keep_last(
            &mut all,
            serde_json::json!({"info_hash": "aa", "name": "a", "complete": true}),
        );
        assert_eq!(
            all,
            vec![
                serde_json::json!({"info_hash": "bb", "name": "b"}),
                serde_json::json!({"info_hash": "aa", "name": "a", "complete": true}),
            ]
        );
    }
}
