//! Keys of the live view: the selection and pane they move, and the actions they ask of the
//! caller ([`UserAction`]).

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// What the user asks of the program running the view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UserAction {
    /// `q` or Ctrl-C: stop everything as a Ctrl-C would outside the view.
    Quit,
    /// `p` or space: pause the torrent at this index of the slice last drawn, or resume it.
    TogglePause(usize),
}

/// What the lower half of the screen shows for the selected torrent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) enum Pane {
    /// Peers above, files below.
    #[default]
    Both,
    /// Only the peers.
    Peers,
    /// Only the files.
    Files,
}

impl Pane {
    fn next(self) -> Pane {
        match self {
            Pane::Both => Pane::Peers,
            Pane::Peers => Pane::Files,
            Pane::Files => Pane::Both,
        }
    }

    fn previous(self) -> Pane {
        match self {
            Pane::Both => Pane::Files,
            Pane::Peers => Pane::Both,
            Pane::Files => Pane::Peers,
        }
    }
}

/// The view's own state: which torrent is selected and what the lower pane shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct UiState {
    /// Index of the selected torrent in the slice last drawn.
    pub(super) selected: usize,
    /// What the lower pane shows.
    pub(super) pane: Pane,
    /// Rows of the peer and file lists scrolled past (back to 0 when the selection changes).
    pub(super) scroll: usize,
}

/// Rows that PgUp/PgDn scroll.
const PAGE: usize = 10;

/// The result of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum KeyOutcome {
    /// Not a key of ours (or a key release).
    Ignored,
    /// The selection or the pane changed: draw again.
    Redraw,
    /// Something for the caller to do.
    Act(UserAction),
}

/// The help line.
pub(super) const HELP: &str =
    "q quit · p/space pause/resume · ↑/↓ j/k select · tab peers/files · PgUp/PgDn scroll";

impl UiState {
    /// Keeps the selection inside `torrents` entries.
    pub(super) fn clamp(&mut self, torrents: usize) {
        self.selected = self.selected.min(torrents.saturating_sub(1));
    }

    /// Keeps the scroll inside lists of at most `rows` rows (the last row stays visible).
    pub(super) fn clamp_scroll(&mut self, rows: usize) {
        self.scroll = self.scroll.min(rows.saturating_sub(1));
    }

    /// Applies `key` with `torrents` torrents on screen.
    pub(super) fn on_key(&mut self, key: KeyEvent, torrents: usize) -> KeyOutcome {
        if key.kind == KeyEventKind::Release {
            return KeyOutcome::Ignored;
        }
        self.clamp(torrents);
        let before = *self;
        match key.code {
            KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                return KeyOutcome::Act(UserAction::Quit)
            }
            KeyCode::Char('q' | 'Q') => return KeyOutcome::Act(UserAction::Quit),
            KeyCode::Char('p' | 'P' | ' ') if torrents > 0 => {
                return KeyOutcome::Act(UserAction::TogglePause(self.selected))
            }
            KeyCode::Up | KeyCode::Char('k') => self.selected = self.selected.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => {
                self.selected = (self.selected + 1).min(torrents.saturating_sub(1));
            }
            KeyCode::Home | KeyCode::Char('g') => self.selected = 0,
            KeyCode::End | KeyCode::Char('G') => self.selected = torrents.saturating_sub(1),
            KeyCode::Tab => self.pane = self.pane.next(),
            KeyCode::BackTab => self.pane = self.pane.previous(),
            KeyCode::PageDown => self.scroll = self.scroll.saturating_add(PAGE),
            KeyCode::PageUp => self.scroll = self.scroll.saturating_sub(PAGE),
            _ => return KeyOutcome::Ignored,
        }
        if self.selected != before.selected {
            self.scroll = 0;
        }
        if *self == before {
            KeyOutcome::Ignored
        } else {
            KeyOutcome::Redraw
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn quit_keys_include_ctrl_c_which_raw_mode_turns_into_a_key() {
        let mut ui = UiState::default();
        let quit = KeyOutcome::Act(UserAction::Quit);
        assert_eq!(ui.on_key(key(KeyCode::Char('q')), 1), quit);
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(ui.on_key(ctrl_c, 1), quit);
        // A plain `c` is not a quit.
        assert_eq!(ui.on_key(key(KeyCode::Char('c')), 1), KeyOutcome::Ignored);
    }

    #[test]
    fn pause_names_the_selected_torrent() {
        let mut ui = UiState::default();
        assert_eq!(
            ui.on_key(key(KeyCode::Char('p')), 3),
            KeyOutcome::Act(UserAction::TogglePause(0))
        );
        assert_eq!(ui.on_key(key(KeyCode::Down), 3), KeyOutcome::Redraw);
        assert_eq!(ui.on_key(key(KeyCode::Char('j')), 3), KeyOutcome::Redraw);
        assert_eq!(
            ui.on_key(key(KeyCode::Char(' ')), 3),
            KeyOutcome::Act(UserAction::TogglePause(2))
        );
        // Nothing to pause with no torrent on screen.
        assert_eq!(ui.on_key(key(KeyCode::Char('p')), 0), KeyOutcome::Ignored);
    }

    #[test]
    fn the_selection_stays_in_range() {
        let mut ui = UiState::default();
        assert_eq!(ui.on_key(key(KeyCode::Up), 3), KeyOutcome::Ignored);
        assert_eq!(ui.on_key(key(KeyCode::End), 3), KeyOutcome::Redraw);
        assert_eq!(ui.selected, 2);
        assert_eq!(ui.on_key(key(KeyCode::Down), 3), KeyOutcome::Ignored);
        assert_eq!(ui.on_key(key(KeyCode::Char('k')), 3), KeyOutcome::Redraw);
        assert_eq!(ui.selected, 1);
        // The list shrank to one torrent: the selection follows.
        assert_eq!(
            ui.on_key(key(KeyCode::Char('p')), 1),
            KeyOutcome::Act(UserAction::TogglePause(0))
        );
        assert_eq!(ui.selected, 0);
    }

    #[test]
    fn tab_cycles_the_lower_pane_both_ways() {
        let mut ui = UiState::default();
        assert_eq!(ui.pane, Pane::Both);
        for want in [Pane::Peers, Pane::Files, Pane::Both] {
            assert_eq!(ui.on_key(key(KeyCode::Tab), 1), KeyOutcome::Redraw);
            assert_eq!(ui.pane, want);
        }
        ui.on_key(key(KeyCode::BackTab), 1);
        assert_eq!(ui.pane, Pane::Files);
    }

    #[test]
    fn page_keys_scroll_the_lists_and_a_new_selection_starts_at_the_top() {
        let mut ui = UiState::default();
        assert_eq!(ui.on_key(key(KeyCode::PageUp), 2), KeyOutcome::Ignored);
        assert_eq!(ui.on_key(key(KeyCode::PageDown), 2), KeyOutcome::Redraw);
        assert_eq!(ui.on_key(key(KeyCode::PageDown), 2), KeyOutcome::Redraw);
        assert_eq!(ui.scroll, 20);
        // Lists of 15 rows: the scroll stops at the last row.
        ui.clamp_scroll(15);
        assert_eq!(ui.scroll, 14);
        assert_eq!(ui.on_key(key(KeyCode::PageUp), 2), KeyOutcome::Redraw);
        assert_eq!(ui.scroll, 4);
        assert_eq!(ui.on_key(key(KeyCode::Down), 2), KeyOutcome::Redraw);
        assert_eq!((ui.selected, ui.scroll), (1, 0));
        // Tab keeps the scroll.
        ui.on_key(key(KeyCode::PageDown), 2);
        ui.on_key(key(KeyCode::Tab), 2);
        assert_eq!(ui.scroll, 10);
    }

    #[test]
    fn releases_and_other_keys_are_ignored() {
        let mut ui = UiState::default();
        let mut release = key(KeyCode::Char('q'));
        release.kind = KeyEventKind::Release;
        assert_eq!(ui.on_key(release, 1), KeyOutcome::Ignored);
        assert_eq!(ui.on_key(key(KeyCode::Char('x')), 1), KeyOutcome::Ignored);
        assert_eq!(ui.on_key(key(KeyCode::F(5)), 1), KeyOutcome::Ignored);
    }
}
