//! `bt -v`: the library crates' log records (why a peer was dropped, why a handshake failed) on
//! stderr. Without `-v` nothing is installed and the engine's records go nowhere.

use log::{LevelFilter, Log, Metadata, Record};

/// Writes every record at or above its level to stderr as `bt: LEVEL target: message`.
struct Stderr;

impl Log for Stderr {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if self.enabled(record.metadata()) {
            eprintln!(
                "bt: {} {}: {}",
                record.level().as_str().to_lowercase(),
                record.target(),
                record.args()
            );
        }
    }

    fn flush(&self) {}
}

/// Installs the stderr logger for `verbosity` (`-v` info, `-vv` debug, `-vvv` trace); 0 installs
/// nothing.
pub(crate) fn init(verbosity: u8) {
    let level = match verbosity {
        0 => return,
        1 => LevelFilter::Info,
        2 => LevelFilter::Debug,
        _ => LevelFilter::Trace,
    };
    if log::set_logger(&Stderr).is_ok() {
        log::set_max_level(level);
    }
}
