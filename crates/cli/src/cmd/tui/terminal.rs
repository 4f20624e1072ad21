//! [`Tui`]: the terminal in raw mode on the alternate screen, a thread reading keys, and the
//! restoring of the terminal on drop and on panic.

use std::io::{IsTerminal, Stdout};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Once, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context as _;
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event::{self, Event};
use ratatui::crossterm::{cursor, execute, terminal};
use ratatui::Terminal;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use super::keys::{KeyOutcome, UiState, UserAction};
use super::model::TorrentView;
use super::render::render;

/// What to print instead of starting the view when [`Tui::available`] says no.
pub(crate) const NEEDS_TERMINAL: &str = "bt: --tui needs a terminal; showing plain status lines";

/// How long the key thread waits for an event before looking whether it should stop.
const KEY_POLL: Duration = Duration::from_millis(50);

/// Notes kept for display.
const MAX_NOTES: usize = 3;

/// The terminal is in raw mode on the alternate screen (read by the panic hook).
static ACTIVE: AtomicBool = AtomicBool::new(false);
static PANIC_HOOK: Once = Once::new();

/// The live view on the terminal. See the [module documentation](super).
pub(crate) struct Tui {
    screen: Arc<Mutex<Screen>>,
    stop: Arc<AtomicBool>,
    keys: Option<JoinHandle<()>>,
}

/// Everything a redraw needs, shared with the key thread.
struct Screen {
    terminal: Terminal<CrosstermBackend<Stdout>>,
    views: Vec<TorrentView>,
    ui: UiState,
    notes: Vec<String>,
    actions: UnboundedSender<UserAction>,
}

impl Screen {
    fn draw(&mut self) -> anyhow::Result<()> {
        self.ui.clamp(self.views.len());
        let rows = self
            .views
            .get(self.ui.selected)
            .map_or(0, |v| v.progress.peer_list.len().max(v.files.len()));
        self.ui.clamp_scroll(rows);
        let Screen {
            terminal,
            views,
            ui,
            notes,
            ..
        } = self;
        terminal
            .draw(|frame| render(frame, views, ui, notes))
            .context("drawing the --tui view")?;
        Ok(())
    }
}

impl Tui {
    /// Whether standard input and output are both terminals, as the view needs.
    pub(crate) fn available() -> bool {
        std::io::stdin().is_terminal() && std::io::stdout().is_terminal()
    }

    /// Switches the terminal to raw mode on the alternate screen and starts reading keys.
    pub(crate) fn start() -> anyhow::Result<Tui> {
        PANIC_HOOK.call_once(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                if ACTIVE.swap(false, Ordering::SeqCst) {
                    restore();
                }
                previous(info);
            }));
        });
        terminal::enable_raw_mode().context("--tui: switching the terminal to raw mode")?;
        ACTIVE.store(true, Ordering::SeqCst);
        let mut stdout = std::io::stdout();
        let terminal = execute!(stdout, terminal::EnterAlternateScreen, cursor::Hide)
            .context("--tui: entering the alternate screen")
            .and_then(|()| {
                Terminal::new(CrosstermBackend::new(stdout)).context("--tui: opening the terminal")
            });
        let terminal = match terminal {
            Ok(t) => t,
            Err(e) => {
                ACTIVE.store(false, Ordering::SeqCst);
                restore();
                return Err(e);
            }
        };
        let (actions, _) = unbounded_channel();
        let screen = Arc::new(Mutex::new(Screen {
            terminal,
            views: Vec::new(),
            ui: UiState::default(),
            notes: Vec::new(),
            actions,
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let keys = std::thread::Builder::new()
            .name("bt-tui-keys".to_owned())
            .spawn({
                let (screen, stop) = (screen.clone(), stop.clone());
                move || read_keys(&screen, &stop)
            })
            .context("--tui: starting the key reader")?;
        Ok(Tui {
            screen,
            stop,
            keys: Some(keys),
        })
    }

    /// The receiver of the user's actions; a new call ends the receiver given before.
    pub(crate) fn actions(&self) -> UnboundedReceiver<UserAction> {
        let (tx, rx) = unbounded_channel();
        self.lock().actions = tx;
        rx
    }

    /// Draws `views` (kept for redraws on keys and notes).
    pub(crate) fn draw(&self, views: &[TorrentView]) -> anyhow::Result<()> {
        let mut screen = self.lock();
        screen.views.clear();
        screen.views.extend_from_slice(views);
        screen.draw()
    }

    /// Shows `line` under the tables with the last few before it, and redraws.
    pub(crate) fn note(&self, line: impl Into<String>) -> anyhow::Result<()> {
        let mut screen = self.lock();
        screen.notes.push(line.into());
        if screen.notes.len() > MAX_NOTES {
            screen.notes.remove(0);
        }
        screen.draw()
    }

    fn lock(&self) -> MutexGuard<'_, Screen> {
        lock(&self.screen)
    }
}

impl Drop for Tui {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(keys) = self.keys.take() {
            let _ = keys.join();
        }
        if ACTIVE.swap(false, Ordering::SeqCst) {
            restore();
        }
    }
}

/// A screen whose holder panicked is still fine to draw on.
fn lock(screen: &Mutex<Screen>) -> MutexGuard<'_, Screen> {
    screen.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The key thread: keys move the selection and pane (redrawn here at once) or become actions;
/// a resize redraws. Ends when `stop` is set or the terminal cannot be read.
fn read_keys(screen: &Mutex<Screen>, stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        match event::poll(KEY_POLL) {
            Ok(false) => continue,
            Ok(true) => {}
            Err(_) => return,
        }
        let Ok(event) = event::read() else { return };
        let mut screen = lock(screen);
        match event {
            Event::Key(key) => {
                let count = screen.views.len();
                match screen.ui.on_key(key, count) {
                    KeyOutcome::Ignored => {}
                    KeyOutcome::Redraw => {
                        let _ = screen.draw();
                    }
                    KeyOutcome::Act(action) => {
                        let _ = screen.actions.send(action);
                    }
                }
            }
            Event::Resize(..) => {
                let _ = screen.terminal.autoresize();
                let _ = screen.draw();
            }
            _ => {}
        }
    }
}

/// Leaves the alternate screen and raw mode and shows the cursor; errors are ignored, since
/// there is nothing better to do with a terminal that cannot be restored.
fn restore() {
    let _ = execute!(
        std::io::stdout(),
        terminal::LeaveAlternateScreen,
        cursor::Show
    );
    let _ = terminal::disable_raw_mode();
}
