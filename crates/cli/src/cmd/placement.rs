//! Where `bt download` and `bt seed` put a torrent's data (`--save-as PATH`, `--output DIR`, or
//! the current directory), and the pieces to start with, found by the engine
//! ([`Placement::find_start`]) with what it has to say printed on stderr.

use std::path::{Path, PathBuf};

use torrentkit_metainfo::Torrent;
use torrentkit_peer::session::Start;
use torrentkit_peer::storage::FileStorage;
// Re-exported for `bt publish` (cmd/publish.rs), which names it through this module.
pub(crate) use torrentkit_peer::Placement;

/// The placement `--save-as PATH` or `--output DIR` asks for (the current directory without
/// either).
pub(crate) fn from_args(
    torrent: &Torrent,
    save_as: Option<&Path>,
    output: Option<&Path>,
) -> anyhow::Result<Placement> {
    let placement = match (save_as, output) {
        (Some(path), _) => Placement::at(torrent, path),
        (None, Some(dir)) => Placement::in_dir(torrent, dir),
        (None, None) => Placement::in_dir(torrent, &PathBuf::from(".")),
    };
    Ok(placement?)
}

/// The pieces on disk: the resume file's if it still matches, else those that pass a check of
/// the data (`always_check` forces that), with the engine's notes on stderr.
pub(crate) fn start_state(
    torrent: &Torrent,
    placement: &Placement,
    storage: &FileStorage,
    always_check: bool,
) -> anyhow::Result<Start> {
    let mut say = |note: torrentkit_peer::session::StartNote<'_>| eprintln!("bt: {note}");
    let hashes = torrentkit_peer::session::piece_hashes(torrent);
    Ok(placement.find_start(storage, &*hashes, always_check, &mut say)?)
}
