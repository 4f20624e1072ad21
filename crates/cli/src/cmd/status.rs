//! Progress of a running transfer: with `--tui` on a terminal the live view, otherwise on
//! stderr an indicatif bar on a terminal (percent, rates, peers, seeds, ETA) or one plain status
//! line per interval.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::mpsc::UnboundedReceiver;
use torrentkit_metainfo::Torrent;
use torrentkit_peer::session::Progress;

use super::torrent_common::human_size;
use super::tui::{state_of, TorrentView, Tui, UserAction, NEEDS_TERMINAL};
use super::units::{eta, human_rate};

/// The progress display of one torrent.
pub(crate) struct Status {
    name: String,
    bar: Option<ProgressBar>,
    live: Option<Live>,
}

/// The `--tui` view of the one torrent.
struct Live {
    tui: Tui,
    view: TorrentView,
    /// The first failure to draw, reported once the terminal is restored.
    error: Option<anyhow::Error>,
}

impl Live {
    fn draw(&mut self) {
        if let Err(e) = self.tui.draw(std::slice::from_ref(&self.view)) {
            self.error.get_or_insert(e);
        }
    }
}

impl Status {
    /// The `--tui` view when `tui` is set and stdin and stdout are terminals, otherwise (with a
    /// note saying so when `tui` is set) what [`Status::new`] shows.
    pub(crate) fn start(name: &str, torrent: &Torrent, tui: bool) -> Self {
        if tui && !Tui::available() {
            eprintln!("{NEEDS_TERMINAL}");
        } else if tui {
            match Tui::start() {
                Ok(tui) => {
                    let mut live = Live {
                        tui,
                        view: TorrentView::new(torrent, name),
                        error: None,
                    };
                    live.draw();
                    return Status {
                        name: name.to_owned(),
                        bar: None,
                        live: Some(live),
                    };
                }
                Err(e) => eprintln!("bt: {e:#}; showing plain status lines"),
            }
        }
        Status::new(name, torrent.info().total_size())
    }

    /// A bar when stderr is a terminal, status lines otherwise.
    pub(crate) fn new(name: &str, total: u64) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template(
                    // The share done is in the message: indicatif's `{percent}` rounds to
                    // nearest, which shows 99.6% as 100%.
                    "{prefix} [{bar:30}] {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.set_prefix(name.to_owned());
            bar
        });
        Status {
            name: name.to_owned(),
            bar,
            live: None,
        }
    }

    /// The keys pressed in the `--tui` view, if it is shown.
    pub(crate) fn actions(&self) -> Option<UnboundedReceiver<UserAction>> {
        self.live.as_ref().map(|live| live.tui.actions())
    }

    /// Redraws the `--tui` view with `p` (the bar and the status lines wait for [`show`]).
    ///
    /// [`show`]: Status::show
    pub(crate) fn refresh(&mut self, p: &Progress) {
        if let Some(live) = &mut self.live {
            live.view.update(p.clone());
            live.draw();
        }
    }

    /// Shows `state` as the `--tui` view's state label until the next progress.
    pub(crate) fn set_state(&mut self, state: &str) {
        if let Some(live) = &mut self.live {
            live.view.state = state.to_owned();
            live.draw();
        }
    }

    /// Shows `p`; `seeding` says the download is done and we only upload.
    pub(crate) fn show(&mut self, p: &Progress) {
        if self.live.is_some() {
            return self.refresh(p);
        }
        let eta = eta(p);
        let state = state_of(p);
        match &self.bar {
            Some(bar) => {
                bar.set_position(p.done_bytes());
                bar.set_message(format!(
                    "{:>6} {}/{} {state} down {} up {} peers {} seeds {} ETA {eta}",
                    p.percent_done(),
                    human_size(p.done_bytes()),
                    human_size(p.total),
                    human_rate(p.download_rate as f64),
                    human_rate(p.upload_rate as f64),
                    p.peers,
                    p.seeds
                ));
            }
            None => eprintln!(
                "bt: {}: {state} {} {}/{} pieces, down {} up {}, peers {} seeds {}, ETA {eta}",
                self.name,
                p.percent_done(),
                p.have,
                p.pieces,
                human_rate(p.download_rate as f64),
                human_rate(p.upload_rate as f64),
                p.peers,
                p.seeds
            ),
        }
    }

    /// Prints a line above the bar (or as is).
    pub(crate) fn note(&self, line: &str) {
        if let Some(live) = &self.live {
            // A failure to draw shows up at the next draw.
            let _ = live.tui.note(line);
            return;
        }
        match &self.bar {
            Some(bar) => bar.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }

    /// Removes the bar, or ends the `--tui` view and restores the terminal.
    pub(crate) fn finish(&mut self) {
        if let Some(live) = self.live.take() {
            drop(live.tui);
            if let Some(e) = live.error {
                eprintln!("bt: warning: {e:#}");
            }
        }
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
