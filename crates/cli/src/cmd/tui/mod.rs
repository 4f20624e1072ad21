//! The `--tui` live view (btdownloadcurses, btlaunchmanycurses): a ratatui screen with a table of
//! torrents, and for the selected one its peers and the progress of each file.
//!
//! # Using it
//!
//! ```text
//! use super::tui::{Tui, TorrentView, UserAction};
//!
//! if !Tui::available() {
//!     eprintln!("{}", tui::NEEDS_TERMINAL);      // and show plain status lines instead
//! }
//! let tui = Tui::start()?;                        // raw mode + alternate screen
//! let mut actions = tui.actions();                // UnboundedReceiver<UserAction>
//! let mut views = vec![TorrentView::new(&torrent, name)];
//! loop {
//!     tokio::select! {
//!         Some(action) = actions.recv() => match action {
//!             UserAction::Quit => break,
//!             UserAction::TogglePause(i) => { /* views[i]: session.pause() or resume() */ }
//!         },
//!         _ = tick.tick() => {
//!             views[0].update(progress.borrow().clone());   // progress + its state label
//!             tui.draw(&views)?;
//!         }
//!     }
//! }
//! drop(tui);                                      // the terminal is back; print the summary
//! ```
//!
//! - [`Tui::start`] puts the terminal in raw mode on the alternate screen and starts a thread that
//!   reads keys. Dropping the [`Tui`] restores the terminal; so does a panic (a hook installed on
//!   the first start restores it before the panic message is printed).
//! - [`Tui::draw`] draws a slice of [`TorrentView`]s (one for `bt download`, many for
//!   `bt launch-many`; the order is the caller's and should stay stable between draws). The
//!   views are kept, so keys that only move the selection or switch panes redraw at once without
//!   the caller.
//! - [`Tui::actions`] gives the receiver of [`UserAction`]s: `Quit` (`q`, or Ctrl-C, which raw
//!   mode delivers as a key instead of SIGINT) and `TogglePause(i)` (`p` or space), where `i` is
//!   the index in the slice last drawn of the selected torrent. The caller pauses or resumes it
//!   and sets [`TorrentView::state`] accordingly. Calling `actions` again returns a new receiver
//!   and ends the previous one.
//! - [`Tui::note`] shows a message line (the last few are kept) under the tables, for what would
//!   otherwise be printed on stderr (which would tear the screen).
//! - The selection (up/down, `j`/`k`, Home/End), the lower pane (tab: peers and files, peers
//!   only, files only) and its scroll (PgUp/PgDn) are the [`Tui`]'s own state; the selection is
//!   clamped when the slice shrinks.
//!
//! [`TorrentView::new`] builds a view from a torrent's metainfo (name, info-hash, size, piece
//! length, the files without pad files); [`TorrentView::update`] sets its
//! [`Progress`](torrentkit_peer::session::Progress) and the state label that goes with it
//! ("downloading", "seeding", "paused"); the caller may set [`TorrentView::state`] to anything
//! else afterwards ("checking", "stopping", "error: ...").

mod files;
mod keys;
mod model;
mod render;
mod terminal;

pub(crate) use keys::UserAction;
pub(crate) use model::{client_name, state_of, TorrentView};
pub(crate) use terminal::{Tui, NEEDS_TERMINAL};
