//! Drawing the live view: a header, the torrent table with the selected row, a detail line, the
//! selected torrent's peers and files, the last notes and the help line.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style, Stylize};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, TableState};
use ratatui::Frame;

use torrentkit_peer::session::Percent;

use super::keys::{Pane, UiState, HELP};
use super::model::{client_name, TorrentView};
use crate::cmd::torrent_common::human_size;
use crate::cmd::units::{eta, human_rate};

/// Most torrent rows shown before the table scrolls.
const MAX_TORRENT_ROWS: u16 = 10;

/// Draws `views` with `ui`'s selection and pane, and the last `notes`.
pub(super) fn render(frame: &mut Frame<'_>, views: &[TorrentView], ui: &UiState, notes: &[String]) {
    let rows = (views.len() as u16).clamp(1, MAX_TORRENT_ROWS);
    let note_lines = notes.len().min(3) as u16;
    let [header, torrents, detail, lower, notes_area, help] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(rows + 3),
        Constraint::Length(1),
        Constraint::Min(4),
        Constraint::Length(note_lines),
        Constraint::Length(1),
    ])
    .areas(frame.area());

    frame.render_widget(Paragraph::new(header_line(views)), header);
    render_torrents(frame, torrents, views, ui.selected);
    let selected = views.get(ui.selected);
    if let Some(view) = selected {
        frame.render_widget(Paragraph::new(detail_line(view)).dim(), detail);
        match ui.pane {
            Pane::Both => {
                let [peers, files] =
                    Layout::vertical([Constraint::Percentage(60), Constraint::Percentage(40)])
                        .areas(lower);
                render_peers(frame, peers, view, ui.scroll);
                render_files(frame, files, view, ui.scroll);
            }
            Pane::Peers => render_peers(frame, lower, view, ui.scroll),
            Pane::Files => render_files(frame, lower, view, ui.scroll),
        }
    }
    let shown = &notes[notes.len().saturating_sub(note_lines as usize)..];
    let note_text: Vec<Line<'_>> = shown.iter().map(|n| Line::from(n.as_str())).collect();
    frame.render_widget(Paragraph::new(note_text).dim(), notes_area);
    frame.render_widget(
        Paragraph::new(Line::from(HELP)).style(Style::new().add_modifier(Modifier::REVERSED)),
        help,
    );
}

fn header_line(views: &[TorrentView]) -> Line<'static> {
    let down: u64 = views.iter().map(|v| v.progress.download_rate).sum();
    let up: u64 = views.iter().map(|v| v.progress.upload_rate).sum();
    let count = match views.len() {
        1 => "1 torrent".to_owned(),
        n => format!("{n} torrents"),
    };
    Line::from(format!(
        " bt · {count} · down {} · up {}",
        human_rate(down as f64),
        human_rate(up as f64)
    ))
    .bold()
}

fn render_torrents(frame: &mut Frame<'_>, area: Rect, views: &[TorrentView], selected: usize) {
    let header = Row::new([
        "Name", "State", "Done", "Size", "Down", "Up", "Peers", "Seeds", "ETA",
    ])
    .bold();
    let rows = views.iter().map(|v| {
        let p = &v.progress;
        Row::new([
            Cell::from(v.name.clone()),
            Cell::from(v.state.clone()),
            Cell::from(p.percent_done().to_string()),
            Cell::from(human_size(v.total)),
            Cell::from(human_rate(p.download_rate as f64)),
            Cell::from(human_rate(p.upload_rate as f64)),
            Cell::from(p.peers.to_string()),
            Cell::from(p.seeds.to_string()),
            Cell::from(eta(p)),
        ])
    });
    // The name keeps some room on a narrow terminal; the other columns give way first.
    let widths = [
        Constraint::Min(12),
        Constraint::Length(14),
        Constraint::Length(7),
        Constraint::Length(11),
        Constraint::Length(12),
        Constraint::Length(12),
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Length(8),
    ];
    let table = Table::new(rows, widths)
        .header(header)
        .block(Block::new().borders(Borders::ALL).title(" Torrents "))
        .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED))
        .highlight_symbol("> ");
    let mut state = TableState::default().with_selected((!views.is_empty()).then_some(selected));
    frame.render_stateful_widget(table, area, &mut state);
}

fn detail_line(v: &TorrentView) -> Line<'static> {
    let p = &v.progress;
    Line::from(format!(
        " {} · info-hash {} · {}/{} pieces of {} · {} down, {} up · {} hash failures",
        v.name,
        v.info_hash,
        p.have,
        p.pieces,
        human_size(v.piece_length),
        human_size(p.downloaded),
        human_size(p.uploaded),
        p.hash_failures
    ))
}

/// `title` with `(count)`, and where the list starts when scrolled.
fn list_title(title: String, count: usize, skip: usize) -> String {
    if skip == 0 {
        format!(" {title} ({count}) ")
    } else {
        format!(" {title} ({count}, from row {}) ", skip + 1)
    }
}

fn render_peers(frame: &mut Frame<'_>, area: Rect, v: &TorrentView, scroll: usize) {
    let header = Row::new(["Address", "Client", "Flags", "From", "Down", "Up", "Has"]).bold();
    let count = v.progress.peer_list.len() + v.progress.web_seeds.len();
    let skip = scroll.min(count.saturating_sub(1));
    let peers = v.progress.peer_list.iter().map(|peer| {
        Row::new([
            Cell::from(peer.addr.to_string()),
            Cell::from(client_name(peer)),
            Cell::from(peer.flags()),
            Cell::from(peer.source.as_str()),
            Cell::from(human_rate(peer.download_rate as f64)),
            Cell::from(human_rate(peer.upload_rate as f64)),
            Cell::from(v.peer_percent(peer)),
        ])
    });
    // Web seeds follow the peers, source `web`, with the bytes they sent so far.
    let web = v.progress.web_seeds.iter().map(|w| {
        let state = match &w.dropped {
            Some(why) => format!("web seed, dropped: {why}"),
            None => "web seed".to_string(),
        };
        Row::new([
            Cell::from(w.url.clone()),
            Cell::from(state),
            Cell::from("web"),
            Cell::from(human_size(w.downloaded)),
            Cell::from(""),
            Cell::from("100%"),
        ])
    });
    let rows = peers.chain(web).skip(skip);
    let widths = [
        Constraint::Length(24),
        Constraint::Fill(1),
        Constraint::Length(6),
        Constraint::Length(9),
        Constraint::Length(12),
        Constraint::Length(12),
        Constraint::Length(7),
    ];
    let title = list_title(format!("Peers of {}", v.name), count, skip)
        + "· D/d download, U/u upload, S snubbed, I incoming, E encrypted, P uTP ";
    let table = Table::new(rows, widths)
        .header(header)
        .block(Block::new().borders(Borders::ALL).title(title));
    frame.render_widget(table, area);
}

fn render_files(frame: &mut Frame<'_>, area: Rect, v: &TorrentView, scroll: usize) {
    let header = Row::new(["Path", "Size", "Done"]).bold();
    let done = v.file_done();
    let skip = scroll.min(v.files.len().saturating_sub(1));
    let rows = v.files.iter().zip(done).skip(skip).map(|(f, d)| {
        Row::new([
            Cell::from(f.path.clone()),
            Cell::from(human_size(f.length)),
            Cell::from(Percent::of(d, f.length).to_string()),
        ])
    });
    let widths = [
        Constraint::Fill(1),
        Constraint::Length(11),
        Constraint::Length(7),
    ];
    let title = list_title(format!("Files of {}", v.name), v.files.len(), skip);
    let table = Table::new(rows, widths)
        .header(header)
        .block(Block::new().borders(Borders::ALL).title(title));
    frame.render_widget(table, area);
}

#[cfg(test)]
mod tests {
    use ratatui::backend::TestBackend;
    use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use ratatui::Terminal;
    use torrentkit_peer::session::{PeerInfo, Progress};
    use torrentkit_peer::Bitfield;
    use torrentkit_wire::PeerId;

    use super::*;
    use crate::cmd::tui::model::FileView;

    /// A two-file torrent of 4 pieces of 16 KiB (64 KiB - 1 000 bytes), piece 0 and 3 verified,
    /// talking to a libtorrent seed and an incoming torrentkit peer.
    fn album() -> TorrentView {
        let mut verified = Bitfield::new(4);
        verified.insert(0).unwrap();
        verified.insert(3).unwrap();
        let seed = PeerInfo {
            addr: "127.0.0.1:51413".parse().unwrap(),
            peer_id: Some(PeerId(*b"-LT2080-0123456789ab")),
            outgoing: true,
            am_interested: true,
            am_choking: true,
            peer_interested: false,
            peer_choking: false,
            snubbed: false,
            download_rate: 300 * 1024,
            upload_rate: 0,
            downloaded: 32_768,
            uploaded: 0,
            pieces: 4,
            encrypted: false,
            utp: false,
            source: torrentkit_peer::PeerSource::Tracker,
        };
        let leech = PeerInfo {
            addr: "127.0.0.1:40000".parse().unwrap(),
            peer_id: Some(PeerId(*b"-TK0100-abcdefghijkl")),
            outgoing: false,
            am_interested: false,
            peer_interested: true,
            am_choking: false,
            pieces: 1,
            source: torrentkit_peer::PeerSource::Incoming,
            download_rate: 0,
            upload_rate: 2048,
            ..seed.clone()
        };
        let total = 4 * 16_384 - 1_000;
        let mut view = TorrentView {
            name: "album".to_owned(),
            info_hash: "00112233445566778899aabbccddeeff00112233".to_owned(),
            total,
            piece_length: 16_384,
            files: vec![
                // a.flac: pieces 0..=1 and 1 616 bytes of piece 2; b.txt: the rest.
                FileView {
                    path: "album/cd1/a.flac".to_owned(),
                    offset: 0,
                    length: 34_384,
                },
                FileView {
                    path: "album/b.txt".to_owned(),
                    offset: 34_384,
                    length: total - 34_384,
                },
            ],
            state: String::new(),
            progress: Progress::default(),
        };
        view.update(Progress {
            pieces: 4,
            have: 2,
            total,
            bytes_left: total - 16_384 - 15_384,
            downloaded: 32_768,
            download_rate: 300 * 1024,
            upload_rate: 2048,
            peers: 2,
            seeds: 1,
            verified,
            peer_list: vec![seed, leech],
            ..Progress::default()
        });
        view
    }

    fn draw(views: &[TorrentView], ui: &UiState, notes: &[String], w: u16, h: u16) -> Vec<String> {
        let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
        terminal
            .draw(|frame| render(frame, views, ui, notes))
            .unwrap();
        let buffer = terminal.backend().buffer();
        (0..h)
            .map(|y| (0..w).map(|x| buffer[(x, y)].symbol()).collect::<String>())
            .collect()
    }

    /// The line that contains every one of `parts`, in order.
    fn line_with<'a>(screen: &'a [String], parts: &[&str]) -> Option<&'a str> {
        screen
            .iter()
            .find(|line| {
                let mut rest = line.as_str();
                parts.iter().all(|p| match rest.find(p) {
                    Some(i) => {
                        rest = &rest[i + p.len()..];
                        true
                    }
                    None => false,
                })
            })
            .map(String::as_str)
    }

    #[test]
    fn one_torrent_shows_progress_peers_files_and_the_keys() {
        let view = album();
        let screen = draw(
            &[view],
            &UiState::default(),
            &["bt: album: listening for peers on 0.0.0.0:6881".to_owned()],
            160,
            45,
        );
        let text = screen.join("\n");
        // The torrent row: name, state, done (31 768 of 64 536 bytes), size, rates, peers,
        // seeds and the ETA of 32 768 bytes at 300 KiB/s.
        assert!(
            line_with(
                &screen,
                &[
                    "> album",
                    "downloading",
                    "49.2%",
                    "63.02 KiB",
                    "300.00 KiB/s",
                    "2.00 KiB/s",
                    "2",
                    "1",
                    "0s"
                ]
            )
            .is_some(),
            "{text}"
        );
        // The peers: address, client name, flags, rates and share of the pieces.
        assert!(
            line_with(
                &screen,
                &[
                    "127.0.0.1:51413",
                    "libtorrent (Rasterbar) 2.0.8",
                    "D",
                    "300.00 KiB/s",
                    "100.0%"
                ]
            )
            .is_some(),
            "{text}"
        );
        assert!(
            line_with(
                &screen,
                &[
                    "127.0.0.1:40000",
                    "torrentkit 0.1.0",
                    "UI",
                    "2.00 KiB/s",
                    "25.0%"
                ]
            )
            .is_some(),
            "{text}"
        );
        // The files: a.flac has piece 0 (16 384 of 34 384 bytes), b.txt has piece 3
        // (15 384 of 30 152 bytes).
        assert!(
            line_with(&screen, &["album/cd1/a.flac", "33.58 KiB", "47.6%"]).is_some(),
            "{text}"
        );
        assert!(
            line_with(&screen, &["album/b.txt", "29.45 KiB", "51.0%"]).is_some(),
            "{text}"
        );
        assert!(
            text.contains("info-hash 00112233445566778899aabbccddeeff00112233"),
            "{text}"
        );
        assert!(
            text.contains("listening for peers on 0.0.0.0:6881"),
            "{text}"
        );
        assert!(text.contains("q quit · p/space pause/resume"), "{text}");
    }

    #[test]
    fn the_lower_pane_follows_the_selection_and_tab() {
        let mut other = album();
        other.name = "other".to_owned();
        other.progress.paused = true;
        other.update(other.progress.clone());
        other.progress.peer_list.clear();
        other.files[0].path = "other/only.iso".to_owned();
        let views = [album(), other];
        let mut ui = UiState::default();
        let screen = draw(&views, &ui, &[], 160, 45);
        let text = screen.join("\n");
        assert!(
            line_with(&screen, &["> album", "downloading"]).is_some(),
            "{text}"
        );
        assert!(
            line_with(&screen, &["  other", "paused"]).is_some(),
            "{text}"
        );
        assert!(text.contains("2 torrents · down 600.00 KiB/s"), "{text}");
        assert!(text.contains("Peers of album (2)"), "{text}");

        ui.on_key(
            KeyEvent::new(KeyCode::Down, KeyModifiers::NONE),
            views.len(),
        );
        let screen = draw(&views, &ui, &[], 160, 45);
        let text = screen.join("\n");
        assert!(
            line_with(&screen, &["> other", "paused"]).is_some(),
            "{text}"
        );
        assert!(text.contains("Peers of other (0)"), "{text}");
        assert!(text.contains("other/only.iso"), "{text}");
        assert!(!text.contains("libtorrent (Rasterbar)"), "{text}");

        // Tab: peers only, then files only.
        ui.on_key(KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE), views.len());
        let text = draw(&views, &ui, &[], 160, 45).join("\n");
        assert!(
            text.contains("Peers of other") && !text.contains("Files of other"),
            "{text}"
        );
        ui.on_key(KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE), views.len());
        let text = draw(&views, &ui, &[], 160, 45).join("\n");
        assert!(
            !text.contains("Peers of other") && text.contains("Files of other"),
            "{text}"
        );
    }

    #[test]
    fn page_down_scrolls_the_peer_and_file_lists() {
        let mut view = album();
        let mut peers = Vec::new();
        for i in 0..30u16 {
            let mut p = view.progress.peer_list[0].clone();
            p.addr = format!("127.0.0.1:{}", 50_000 + i).parse().unwrap();
            peers.push(p);
        }
        view.progress.peer_list = peers;
        let ui = UiState {
            scroll: 10,
            ..UiState::default()
        };
        let text = draw(&[view], &ui, &[], 160, 45).join("\n");
        assert!(text.contains("Peers of album (30, from row 11)"), "{text}");
        assert!(!text.contains("127.0.0.1:50009 "), "{text}");
        assert!(text.contains("127.0.0.1:50010 "), "{text}");
        // Two files: the file list stops at its last row.
        assert!(text.contains("Files of album (2, from row 2)"), "{text}");
        assert!(!text.contains("album/cd1/a.flac"), "{text}");
        assert!(text.contains("album/b.txt"), "{text}");
    }

    #[test]
    fn a_small_terminal_and_an_empty_list_still_draw() {
        // On 90 columns the fixed columns alone would leave no room for the name.
        let screen = draw(&[album()], &UiState::default(), &[], 90, 20);
        assert!(
            line_with(&screen, &["> album", "downloading"]).is_some(),
            "{}",
            screen.join("\n")
        );
        let text = draw(&[album()], &UiState::default(), &[], 40, 8).join("\n");
        assert!(text.contains("album"), "{text}");
        let text = draw(&[], &UiState::default(), &[], 80, 20).join("\n");
        assert!(text.contains("0 torrents"), "{text}");
        // A 1x1 terminal: nothing fits, nothing panics.
        draw(&[album()], &UiState::default(), &["note".to_owned()], 1, 1);
    }
}
