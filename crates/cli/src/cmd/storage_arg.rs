//! `--storage KIND` of `bt download` and `bt stream`: where the data is kept. `file` (the
//! default: the files the torrent names, with the resume file), `memory` (gone at exit), or
//! `sqlite:PATH` (pieces as blobs in one SQLite database, torrentkit-storage-sqlite).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use torrentkit_metainfo::Torrent;
use torrentkit_peer::session::{recheck, RecheckReason, Start, StartKind};
use torrentkit_peer::storage::{Layout, MemoryStorage, Storage};
use torrentkit_peer::Placement;
use torrentkit_storage_sqlite::SqliteStorage;

use super::placement::start_state;

/// A `--storage` value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum StorageKind {
    /// Files on disk.
    #[default]
    File,
    /// In memory.
    Memory,
    /// An SQLite database at this path.
    Sqlite(PathBuf),
}

/// Parses `file`, `memory` or `sqlite:PATH`.
pub(crate) fn parse_storage(s: &str) -> Result<StorageKind, String> {
    match s {
        "file" => Ok(StorageKind::File),
        "memory" => Ok(StorageKind::Memory),
        _ => match s.strip_prefix("sqlite:") {
            Some("") => Err("sqlite: needs a database path, as in sqlite:data.sqlite".into()),
            Some(path) => Ok(StorageKind::Sqlite(PathBuf::from(path))),
            None => Err(format!(
                "`{s}` is not a storage: file, memory or sqlite:PATH"
            )),
        },
    }
}

/// Opens the storage `kind` for `torrent` and finds the pieces it already holds: through the
/// resume file for files, by hashing for a database (an empty one has nothing to hash).
pub(crate) fn open(
    kind: &StorageKind,
    torrent: &Torrent,
    placement: &Placement,
    check: bool,
) -> anyhow::Result<(Arc<dyn Storage>, Start)> {
    let info = torrent.info();
    let layout = || Layout::from_info(info).with_context(|| format!("{}: layout", info.name()));
    let storage: Arc<dyn Storage> = match kind {
        StorageKind::File => {
            let storage = placement.storage();
            let start = start_state(torrent, placement, &storage, check)?;
            return Ok((Arc::new(storage), start));
        }
        StorageKind::Memory => {
            if usize::try_from(info.total_size()).is_err() {
                bail!("--storage memory: {} does not fit in memory", info.name());
            }
            Arc::new(MemoryStorage::new(layout()?))
        }
        StorageKind::Sqlite(path) => Arc::new(
            SqliteStorage::open(path, layout()?)
                .with_context(|| format!("--storage sqlite:{}", path.display()))?,
        ),
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let have = recheck(storage.as_ref(), info.pieces(), threads);
    let kind = if have.is_clear() {
        StartKind::Fresh
    } else {
        eprintln!(
            "bt: {}: {}/{} pieces verified in the storage",
            info.name(),
            have.count(),
            have.len()
        );
        StartKind::Rechecked(RecheckReason::NoResumeFile)
    };
    Ok((
        storage,
        Start {
            have,
            kind,
            previous: None,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_kinds_parse_and_bad_ones_say_what_is_allowed() {
        assert_eq!(parse_storage("file"), Ok(StorageKind::File));
        assert_eq!(parse_storage("memory"), Ok(StorageKind::Memory));
        assert_eq!(
            parse_storage("sqlite:/tmp/x.db"),
            Ok(StorageKind::Sqlite("/tmp/x.db".into()))
        );
        assert!(parse_storage("sqlite:").unwrap_err().contains("path"));
        assert!(parse_storage("s3")
            .unwrap_err()
            .contains("file, memory or sqlite:PATH"));
    }
}
