//! Which `.torrent` files a directory holds now: an inotify watch (through `notify`) says
//! when to look again, and a periodic rescan catches whatever a watch can miss (network file
//! systems, overflowed event queues, a watch that could not be set up).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::Context;
use notify::Watcher as _;
use tokio::sync::mpsc;

/// A `.torrent` file as last seen: its size and modification time tell a file still being
/// written (or replaced) from one that did not change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    pub(crate) len: u64,
    pub(crate) modified: Option<SystemTime>,
}

/// Watches `dir`; the receiver gets a unit whenever something in it changed.
pub(crate) struct DirWatch {
    /// Kept alive for as long as we want events; `None` when the watch could not be set up.
    _watcher: Option<notify::RecommendedWatcher>,
    pub(crate) changed: mpsc::UnboundedReceiver<()>,
}

impl DirWatch {
    /// Starts watching; a watch that cannot be set up is a warning (the rescan still runs).
    pub(crate) fn start(dir: &Path) -> (Self, Option<String>) {
        let (tx, changed) = mpsc::unbounded_channel();
        let made = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            if calls_for_rescan(&event) {
                let _ = tx.send(());
            }
        })
        .and_then(|mut w| {
            w.watch(dir, notify::RecursiveMode::NonRecursive)?;
            Ok(w)
        });
        match made {
            Ok(w) => (
                DirWatch {
                    _watcher: Some(w),
                    changed,
                },
                None,
            ),
            Err(e) => (
                DirWatch {
                    _watcher: None,
                    changed,
                },
                Some(format!(
                    "cannot watch {} ({e}); relying on the periodic rescan",
                    dir.display()
                )),
            ),
        }
    }
}

/// The data and resume files are often written in the watched directory: only events about
/// .torrent files (or a lost event queue, or an error) call for a rescan.
fn calls_for_rescan(event: &notify::Result<notify::Event>) -> bool {
    match event {
        Ok(e) => e.need_rescan() || e.paths.iter().any(|p| is_torrent_name(p)),
        Err(_) => true,
    }
}

/// Whether `path` names a visible `.torrent` file.
fn is_torrent_name(path: &Path) -> bool {
    path.file_name().is_some_and(|n| {
        let n = n.to_string_lossy();
        !n.starts_with('.') && n.to_ascii_lowercase().ends_with(".torrent")
    })
}

/// The `.torrent` files directly in `dir` (not in subdirectories, not hidden), with stamps.
pub(crate) fn scan(dir: &Path) -> anyhow::Result<BTreeMap<PathBuf, Stamp>> {
    let mut found = BTreeMap::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let Ok(entry) = entry else { continue };
        let path = entry.path();
        if !is_torrent_name(&path) {
            continue;
        }
        // Follows a symlink to a .torrent: reading one is harmless, only data paths are guarded.
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.is_file() {
            found.insert(
                path,
                Stamp {
                    len: meta.len(),
                    modified: meta.modified().ok(),
                },
            );
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_lists_only_visible_torrent_files_at_the_top() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.torrent"), b"x").unwrap();
        std::fs::write(dir.path().join("B.TORRENT"), b"yy").unwrap();
        std::fs::write(dir.path().join(".hidden.torrent"), b"").unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"").unwrap();
        std::fs::create_dir(dir.path().join("sub.torrent")).unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/c.torrent"), b"").unwrap();
        let found = scan(dir.path()).unwrap();
        let names: Vec<_> = found
            .iter()
            .map(|(p, s)| (p.file_name().unwrap().to_str().unwrap().to_owned(), s.len))
            .collect();
        assert_eq!(
            names,
            [("B.TORRENT".to_owned(), 2), ("a.torrent".to_owned(), 1)]
        );
    }

    #[test]
    fn only_torrent_files_call_for_a_rescan() {
        use notify::event::{CreateKind, EventKind, ModifyKind};
        let event = |kind, name: &str| {
            Ok(notify::Event::new(kind).add_path(PathBuf::from("/dl").join(name)))
        };
        let write = EventKind::Modify(ModifyKind::Any);
        assert!(calls_for_rescan(&event(
            EventKind::Create(CreateKind::File),
            "new.torrent"
        )));
        assert!(calls_for_rescan(&event(write, "Old.TORRENT")));
        assert!(!calls_for_rescan(&event(write, "movie.mkv")));
        assert!(!calls_for_rescan(&event(write, ".movie.mkv.bt-resume")));
        assert!(!calls_for_rescan(&event(write, ".hidden.torrent")));
        assert!(calls_for_rescan(&Err(notify::Error::generic(
            "queue overflow"
        ))));
    }

    #[tokio::test]
    async fn the_watch_reports_a_new_file() {
        let dir = tempfile::tempdir().unwrap();
        let (mut watch, warning) = DirWatch::start(dir.path());
        assert_eq!(warning, None);
        std::fs::write(dir.path().join("new.torrent"), b"d").unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(10), watch.changed.recv())
            .await
            .expect("an inotify event within 10 s")
            .unwrap();
    }
}
