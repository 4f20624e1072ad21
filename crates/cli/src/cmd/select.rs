//! File selection for `bt download` and `bt stream`: `--only GLOB`, `--skip GLOB`, a magnet
//! link's `so=` (BEP 53) and `--sequential`, turned into the engine's piece priorities.

use anyhow::bail;
use torrentkit_metainfo::{glob_matches_path, Torrent};
use torrentkit_peer::storage::Layout;
use torrentkit_peer::{piece_priorities, Priority};

/// The selection flags.
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct SelectArgs {
    /// Download only the files matching GLOB (repeatable): `*`, `?`, `[a-z]` against a file's
    /// name or its path inside the torrent (`*.mkv`, `Season 1/*`). The pieces shared with
    /// neighbouring files are fetched too (and those files' bytes in them written).
    #[arg(long, value_name = "GLOB")]
    pub(crate) only: Vec<String>,
    /// Do not download the files matching GLOB (repeatable; after --only).
    #[arg(long, value_name = "GLOB")]
    pub(crate) skip: Vec<String>,
    /// Fetch pieces in order (for playing while downloading) instead of rarest first.
    #[arg(long)]
    pub(crate) sequential: bool,
}

/// What the engine is told: the piece priorities (empty: everything) and the order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Selection {
    /// Each piece's priority; empty when every file is wanted.
    pub(crate) priorities: Vec<Priority>,
    /// Pieces in order.
    pub(crate) sequential: bool,
}

impl Selection {
    /// Whether `have` holds every wanted piece.
    pub(crate) fn done(&self, have: &torrentkit_peer::Bitfield) -> bool {
        if self.priorities.is_empty() {
            return have.is_full();
        }
        self.priorities
            .iter()
            .enumerate()
            .all(|(p, prio)| !prio.is_wanted() || have.contains(p as u32))
    }
}

/// The path of a file as globs see it: inside the torrent, and with the torrent's name first.
fn matches(glob: &str, name: &str, path: &[String]) -> bool {
    if glob_matches_path(glob, path) {
        return true;
    }
    let mut with_name = vec![name.to_owned()];
    with_name.extend(path.iter().cloned());
    glob_matches_path(glob, &with_name)
}

/// Each file's priority from `--only`/`--skip` and a magnet link's `so` ranges (inclusive file
/// indices), or `None` when every file is wanted.
pub(crate) fn file_priorities(
    torrent: &Torrent,
    args: &SelectArgs,
    select_only: &[(usize, usize)],
) -> anyhow::Result<Option<Vec<Priority>>> {
    if args.only.is_empty() && args.skip.is_empty() && select_only.is_empty() {
        return Ok(None);
    }
    let info = torrent.info();
    let name = info.name();
    let files = info.files();
    let mut wanted: Vec<bool> = files
        .iter()
        .enumerate()
        .map(|(i, _)| {
            select_only.is_empty() || select_only.iter().any(|&(a, b)| (a..=b).contains(&i))
        })
        .collect();
    for glob in &args.only {
        if !files.iter().any(|f| !f.pad && matches(glob, name, &f.path)) {
            bail!("--only {glob}: matches no file of {name}");
        }
    }
    if !args.only.is_empty() {
        for (w, f) in wanted.iter_mut().zip(files) {
            *w &= args.only.iter().any(|g| matches(g, name, &f.path));
        }
    }
    for (w, f) in wanted.iter_mut().zip(files) {
        *w &= !args.skip.iter().any(|g| matches(g, name, &f.path));
    }
    if !files
        .iter()
        .zip(&wanted)
        .any(|(f, &w)| w && !f.pad && f.length > 0)
    {
        bail!("{name}: the selection (--only, --skip, so=) leaves no file to download");
    }
    Ok(Some(
        wanted
            .into_iter()
            .map(|w| if w { Priority::NORMAL } else { Priority::SKIP })
            .collect(),
    ))
}

/// The engine's selection for `torrent`.
pub(crate) fn selection(
    torrent: &Torrent,
    args: &SelectArgs,
    select_only: &[(usize, usize)],
) -> anyhow::Result<Selection> {
    let priorities = match file_priorities(torrent, args, select_only)? {
        None => Vec::new(),
        Some(files) => {
            let layout = Layout::from_info(torrent.info())
                .map_err(|e| anyhow::anyhow!("{}: {e}", torrent.info().name()))?;
            piece_priorities(&layout, &files)
        }
    };
    Ok(Selection {
        priorities,
        sequential: args.sequential,
    })
}
