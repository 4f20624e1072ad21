//! The status table `bt launch-many` prints at each interval when it is not showing the live
//! view: a summary line, then a row per torrent.

use std::fmt::Write as _;

use torrentkit_peer::session::{Percent, Progress};

use super::super::torrent_common::human_size;
use super::super::units::{eta, human_rate};

/// One torrent's row.
pub(crate) struct Row<'a> {
    pub(crate) name: &'a str,
    pub(crate) state: &'a str,
    pub(crate) total: u64,
    pub(crate) progress: Option<&'a Progress>,
}

/// The whole table: a summary line starting `bt: launch-many:`, then one line per torrent.
pub(crate) fn render(rows: &[Row<'_>], open_files: usize, max_open_files: usize) -> String {
    let mut out = String::new();
    let (mut down, mut up, mut peers) = (0u64, 0u64, 0usize);
    let mut states: Vec<(&str, usize)> = Vec::new();
    for row in rows {
        if let Some(p) = row.progress {
            down += p.download_rate;
            up += p.upload_rate;
            peers += p.peers;
        }
        let word = row.state.split(':').next().unwrap_or(row.state);
        match states.iter_mut().find(|(s, _)| *s == word) {
            Some((_, n)) => *n += 1,
            None => states.push((word, 1)),
        }
    }
    states.sort();
    let counts: Vec<String> = states.iter().map(|(s, n)| format!("{n} {s}")).collect();
    let _ = writeln!(
        out,
        "bt: launch-many: {} torrents ({}), {peers} peers, down {} up {}, {open_files}/{max_open_files} open files",
        rows.len(),
        if counts.is_empty() { "none".to_owned() } else { counts.join(", ") },
        human_rate(down as f64),
        human_rate(up as f64),
    );
    for row in rows {
        let (percent, rates, peers, eta) = match row.progress {
            Some(p) => (
                p.percent_done(),
                format!(
                    "down {:>10} up {:>10}",
                    human_rate(p.download_rate as f64),
                    human_rate(p.upload_rate as f64)
                ),
                format!("{}/{}", p.peers, p.seeds),
                eta(p),
            ),
            None => (
                Percent::of(0, 1),
                format!("{:>15}{:>14}", "", ""),
                "-".to_owned(),
                "-".to_owned(),
            ),
        };
        let _ = writeln!(
            out,
            "  {:<12} {percent:>6} {:>10}  {rates}  peers {peers:<6} ETA {eta:<8} {}",
            row.state,
            human_size(row.total),
            row.name
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_sums_rates_and_counts_states() {
        let seeding = Progress {
            upload_rate: 2048,
            peers: 2,
            complete: true,
            ..Progress::default()
        };
        let half = Progress {
            total: 1000,
            bytes_left: 500,
            download_rate: 100,
            peers: 1,
            seeds: 1,
            ..Progress::default()
        };
        let rows = [
            Row {
                name: "a.bin",
                state: "seeding",
                total: 1000,
                progress: Some(&seeding),
            },
            Row {
                name: "b dir",
                state: "downloading",
                total: 1000,
                progress: Some(&half),
            },
            Row {
                name: "c.iso",
                state: "checking",
                total: 1 << 20,
                progress: None,
            },
        ];
        let text = render(&rows, 3, 8);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(
            lines[0].starts_with(
                "bt: launch-many: 3 torrents (1 checking, 1 downloading, 1 seeding), 3 peers"
            ),
            "{text}"
        );
        assert!(lines[0].ends_with("3/8 open files"), "{text}");
        assert!(
            lines[1].contains("seeding") && lines[1].contains("100.0%"),
            "{text}"
        );
        assert!(lines[1].ends_with("a.bin"), "{text}");
        assert!(
            lines[2].contains(" 50.0%") && lines[2].contains("ETA 5s"),
            "{text}"
        );
        assert!(
            lines[3].contains("checking") && lines[3].ends_with("c.iso"),
            "{text}"
        );
    }
}
