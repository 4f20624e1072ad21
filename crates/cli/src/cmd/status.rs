//! Progress of a running transfer on stderr: an indicatif bar on a terminal (percent, rates,
//! peers, seeds, ETA), otherwise one plain status line per interval.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};
use torrentkit_peer::session::Progress;

use super::units::{human_duration, human_rate};

/// The progress display of one torrent.
pub(crate) struct Status {
    name: String,
    total: u64,
    bar: Option<ProgressBar>,
}

impl Status {
    /// A bar when stderr is a terminal, status lines otherwise.
    pub(crate) fn new(name: &str, total: u64) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {percent:>3}% {binary_bytes}/{binary_total_bytes} {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.set_prefix(name.to_owned());
            bar
        });
        Status {
            name: name.to_owned(),
            total,
            bar,
        }
    }

    /// Shows `p`; `seeding` says the download is done and we only upload.
    pub(crate) fn show(&self, p: &Progress) {
        let done = self.total - p.bytes_left.min(self.total);
        let eta = if p.complete {
            "done".to_owned()
        } else if p.download_rate > 0 {
            human_duration(p.bytes_left as f64 / p.download_rate as f64)
        } else {
            "-".to_owned()
        };
        let state = if p.complete { "seeding" } else { "downloading" };
        match &self.bar {
            Some(bar) => {
                bar.set_position(done);
                bar.set_message(format!(
                    "{state} down {} up {} peers {} seeds {} ETA {eta}",
                    human_rate(p.download_rate as f64),
                    human_rate(p.upload_rate as f64),
                    p.peers,
                    p.seeds
                ));
            }
            None => eprintln!(
                "bt: {}: {state} {:.1}% {}/{} pieces, down {} up {}, peers {} seeds {}, ETA {eta}",
                self.name,
                if self.total == 0 {
                    100.0
                } else {
                    done as f64 * 100.0 / self.total as f64
                },
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
        match &self.bar {
            Some(bar) => bar.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }

    /// Removes the bar.
    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
