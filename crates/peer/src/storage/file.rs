//! The file storage backend: positional I/O on lazily created sparse files through a bounded
//! cache of open descriptors, with every path checked to stay inside the download directory.

use std::fs::OpenOptions;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::fd_cache::{FileCache, OpenFile};
use super::path::{prepare, PrepareError};
use super::{spans_or_err, Layout, Storage, StorageError};

/// Settings for [`FileStorage`].
#[derive(Debug, Clone)]
pub struct FileStorageConfig {
    /// The most files kept open at once; older ones are closed least-recently-used first.
    /// At least 1.
    pub max_open_files: usize,
}

impl Default for FileStorageConfig {
    fn default() -> Self {
        FileStorageConfig { max_open_files: 64 }
    }
}

/// Stores a torrent's files under a download directory.
///
/// Files are created on first write, sized with `set_len` (sparse on file systems that support
/// it), and read and written with positional I/O (`pread`/`pwrite`), so concurrent callers
/// never share a file cursor. At most [`FileStorageConfig::max_open_files`] descriptors are open,
/// or, with [`with_cache`](Self::with_cache), at most the shared [`FileCache`]'s capacity over
/// every storage using it.
///
/// Paths are joined under the directory only after each component is checked, no existing
/// parent directory may be a symlink, and files are opened with `O_NOFOLLOW`: a hostile torrent
/// cannot create or write a file outside the directory.
#[derive(Debug)]
pub struct FileStorage {
    root: PathBuf,
    layout: Layout,
    cache: FileCache,
    /// This storage's id in `cache`.
    owner: u64,
}

impl Drop for FileStorage {
    fn drop(&mut self) {
        self.cache.remove_owner(self.owner);
    }
}

impl FileStorage {
    /// A storage for `layout` under `root` (which must exist or be creatable), with its own
    /// cache of open files.
    pub fn new(root: impl Into<PathBuf>, layout: Layout, config: FileStorageConfig) -> Self {
        Self::with_cache(root, layout, FileCache::new(config.max_open_files))
    }

    /// A storage whose open files count against `cache`, shared with other storages.
    pub fn with_cache(root: impl Into<PathBuf>, layout: Layout, cache: FileCache) -> Self {
        let owner = cache.new_owner();
        FileStorage {
            root: root.into(),
            layout,
            cache,
            owner,
        }
    }

    /// The download directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The on-disk path of file `index` (not checked; for display and metadata).
    pub fn file_path(&self, index: usize) -> PathBuf {
        let mut p = self.root.clone();
        if let Some(f) = self.layout.files().get(index) {
            p.extend(&f.path);
        }
        p
    }

    /// How many of this storage's files are cached open now (never more than the cache's
    /// capacity).
    pub fn open_files(&self) -> usize {
        self.cache.cached(self.owner)
    }

    /// How many times a file has been opened in total in this storage's cache (cache misses).
    pub fn total_opens(&self) -> u64 {
        self.cache.total_opens()
    }

    /// Creates the zero-length files of the torrent, which no piece write ever touches; call it
    /// once the download completes.
    pub fn create_empty_files(&self) -> Result<(), StorageError> {
        for (index, f) in self.layout.files().iter().enumerate() {
            if f.length == 0 && !f.pad {
                self.open(index, true)?;
            }
        }
        Ok(())
    }

    fn file(&self, index: usize, write: bool) -> Result<Arc<OpenFile>, StorageError> {
        if let Some(f) = self.cache.get((self.owner, index), write) {
            return Ok(f);
        }
        self.open(index, write)
    }

    fn open(&self, index: usize, write: bool) -> Result<Arc<OpenFile>, StorageError> {
        let entry = &self.layout.files()[index];
        let path = prepare(&self.root, &entry.path, write).map_err(|e| match e {
            PrepareError::Unsafe(problem) => StorageError::UnsafePath {
                path: entry.display_path(),
                problem,
            },
            PrepareError::Symlink(path) => StorageError::Symlink { path },
            PrepareError::NotADirectory(path) => StorageError::NotADirectory { path },
            PrepareError::Io(path, source) => {
                StorageError::from_io("create directory", path, source)
            }
        })?;
        let mut options = OpenOptions::new();
        options
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
        if write {
            options.write(true).create(true);
        }
        let reservation = self.cache.reserve();
        let file = options
            .open(&path)
            .map_err(|e| StorageError::from_io("open", path.clone(), e))?;
        let meta = file
            .metadata()
            .map_err(|e| StorageError::from_io("open", path.clone(), e))?;
        if !meta.is_file() {
            return Err(StorageError::Io {
                op: "open",
                path,
                source: std::io::Error::other("not a regular file"),
            });
        }
        if write && meta.len() < entry.length {
            // Sparse allocation: the file gets its final size without writing the gaps.
            file.set_len(entry.length)
                .map_err(|e| StorageError::from_io("allocate", path.clone(), e))?;
        }
        let file = reservation.fill(file);
        self.cache.insert((self.owner, index), file.clone(), write);
        Ok(file)
    }
}

impl Storage for FileStorage {
    fn layout(&self) -> &Layout {
        &self.layout
    }

    fn read(&self, piece: u32, offset: u32, buf: &mut [u8]) -> Result<(), StorageError> {
        for span in spans_or_err(&self.layout, piece, offset, buf.len())? {
            if self.layout.files()[span.file].pad {
                buf[span.buf_offset..span.buf_offset + span.len].fill(0);
                continue;
            }
            let file = self.file(span.file, false)?;
            file.read_exact_at(
                &mut buf[span.buf_offset..span.buf_offset + span.len],
                span.file_offset,
            )
            .map_err(|e| StorageError::from_io("read", self.file_path(span.file), e))?;
        }
        Ok(())
    }

    fn write(&self, piece: u32, offset: u32, data: &[u8]) -> Result<(), StorageError> {
        for span in spans_or_err(&self.layout, piece, offset, data.len())? {
            if self.layout.files()[span.file].pad {
                continue;
            }
            let file = self.file(span.file, true)?;
            file.write_all_at(
                &data[span.buf_offset..span.buf_offset + span.len],
                span.file_offset,
            )
            .map_err(|e| StorageError::from_io("write", self.file_path(span.file), e))?;
        }
        Ok(())
    }

    fn flush(&self) -> Result<(), StorageError> {
        let (dirty, unsynced) = self.cache.take_dirty(self.owner);
        // Each descriptor is dropped once synced: holding them while reopening the evicted ones
        // below could wait forever on a full shared cache.
        for (index, file) in dirty {
            file.sync_data()
                .map_err(|e| StorageError::from_io("sync", self.file_path(index), e))?;
        }
        for index in unsynced {
            // fsync through a read-only descriptor syncs the file's data all the same, and
            // leaves the cache entry clean.
            self.file(index, false)?
                .sync_data()
                .map_err(|e| StorageError::from_io("sync", self.file_path(index), e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    use std::fs;

    fn storage(dir: &Path, files: &[(&[&str], u64)], pl: u32, max_open: usize) -> FileStorage {
        let layout = Layout::new(files.iter().map(|(p, l)| (p.iter().copied(), *l)), pl).unwrap();
        FileStorage::new(
            dir,
            layout,
            FileStorageConfig {
                max_open_files: max_open,
            },
        )
    }

    #[test]
    fn writes_land_in_the_right_files_across_boundaries() {
        let dir = tempfile::tempdir().unwrap();
        let s = storage(
            dir.path(),
            &[(&["t", "a"], 5), (&["t", "e"], 0), (&["t", "sub", "b"], 7)],
            4,
            8,
        );
        let data: Vec<u8> = (0u8..12).collect();
        for p in 0..3u32 {
            let start = p as usize * 4;
            let end = (start + 4).min(12);
            s.write(p, 0, &data[start..end]).unwrap();
        }
        s.flush().unwrap();
        assert_eq!(fs::read(dir.path().join("t/a")).unwrap(), &data[..5]);
        assert_eq!(fs::read(dir.path().join("t/sub/b")).unwrap(), &data[5..]);
        assert!(
            !dir.path().join("t/e").exists(),
            "empty files are made on completion"
        );
        s.create_empty_files().unwrap();
        assert_eq!(fs::metadata(dir.path().join("t/e")).unwrap().len(), 0);
        for p in 0..3u32 {
            let start = p as usize * 4;
            let end = (start + 4).min(12);
            assert_eq!(s.read_piece(p).unwrap(), &data[start..end]);
        }
    }

    #[test]
    fn flush_syncs_files_whose_descriptor_was_evicted() {
        let dir = tempfile::tempdir().unwrap();
        let s = storage(dir.path(), &[(&["a"], 4), (&["b"], 4), (&["c"], 4)], 4, 1);
        s.write(0, 0, b"aaaa").unwrap();
        s.write(1, 0, b"bbbb").unwrap(); // evicts a's dirty descriptor
        assert_eq!(s.cache.entries().unsynced.len(), 1, "a awaits its sync");
        // c does not exist: a read never creates it. Trying closed b first (the cap is one
        // descriptor, counted before open(2)), so b awaits its sync too.
        s.read_piece(2).unwrap_err();
        assert_eq!(s.open_files(), 0);
        assert_eq!(
            s.cache.entries().unsynced.len(),
            2,
            "a and b await their sync"
        );
        s.flush().unwrap();
        assert!(s.cache.entries().unsynced.is_empty());
        assert!(s.open_files() <= 1);
        assert!(!dir.path().join("c").exists());
        assert_eq!(fs::read(dir.path().join("a")).unwrap(), b"aaaa");
        assert_eq!(fs::read(dir.path().join("b")).unwrap(), b"bbbb");
    }

    #[test]
    fn storages_sharing_a_cache_stay_under_its_cap_together() {
        let dir = tempfile::tempdir().unwrap();
        let cache = FileCache::new(3);
        let make = |name: &str| {
            let files: Vec<(Vec<String>, u64)> = (0..4)
                .map(|i| (vec![name.to_string(), format!("f{i}")], 4))
                .collect();
            FileStorage::with_cache(dir.path(), Layout::new(files, 4).unwrap(), cache.clone())
        };
        let storages = [make("x"), make("y"), make("z")];
        let mut max_open = 0;
        for round in 0..3u8 {
            for s in &storages {
                for p in 0..4 {
                    s.write(p, 0, &[round; 4]).unwrap();
                    max_open = max_open.max(cache.open_files());
                }
            }
        }
        assert_eq!(max_open, 3, "the cap is over all three storages");
        for s in &storages {
            s.flush().unwrap();
            for p in 0..4 {
                assert_eq!(s.read_piece(p).unwrap(), [2; 4]);
            }
        }
        drop(storages);
        assert_eq!(cache.open_files(), 0, "dropped storages close their files");
    }

    #[test]
    fn pad_files_are_never_created_and_read_as_zeros() {
        let dir = tempfile::tempdir().unwrap();
        let files = vec![
            (vec!["t".to_string(), "a".to_string()], 3u64, false),
            (
                vec!["t".to_string(), ".pad".to_string(), "1".to_string()],
                1,
                true,
            ),
            (vec!["t".to_string(), "b".to_string()], 4, false),
            (
                vec!["t".to_string(), ".pad".to_string(), "1".to_string()],
                0,
                true,
            ),
        ];
        let layout = Layout::with_pad_files(files, 4).unwrap();
        let s = FileStorage::new(dir.path(), layout, FileStorageConfig::default());
        s.write(0, 0, b"abcX").unwrap();
        s.write(1, 0, b"defg").unwrap();
        s.create_empty_files().unwrap();
        assert_eq!(s.read_piece(0).unwrap(), b"abc\0");
        assert_eq!(fs::read(dir.path().join("t/a")).unwrap(), b"abc");
        assert_eq!(fs::read(dir.path().join("t/b")).unwrap(), b"defg");
        assert!(!dir.path().join("t/.pad").exists());
    }

    #[test]
    fn files_are_created_lazily_and_sparse_at_full_size() {
        let dir = tempfile::tempdir().unwrap();
        let big = 64 << 20;
        let s = storage(dir.path(), &[(&["x"], 4), (&["big"], big)], 1 << 20, 4);
        assert!(!dir.path().join("big").exists());
        let err = s.read_piece(10).unwrap_err();
        assert!(err.is_absent(), "{err}");
        s.write(10, 0, b"hello").unwrap();
        let meta = fs::metadata(dir.path().join("big")).unwrap();
        assert_eq!(meta.len(), big);
        use std::os::unix::fs::MetadataExt;
        assert!(
            meta.blocks() * 512 < big / 4,
            "allocated {} bytes: not sparse",
            meta.blocks() * 512
        );
        assert!(!dir.path().join("x").exists(), "untouched file not created");
        // The gap reads back as zeros.
        let mut buf = [1u8; 3];
        s.read(20, 0, &mut buf).unwrap();
        assert_eq!(buf, [0; 3]);
    }

    #[test]
    fn twenty_thousand_files_use_a_bounded_number_of_descriptors() {
        // ext4 on a busy disk spends minutes creating 20,000 inodes; tmpfs takes a second.
        let shm = Path::new("/dev/shm");
        let dir = if shm.is_dir() {
            tempfile::tempdir_in(shm)
        } else {
            tempfile::tempdir()
        }
        .unwrap();
        let n = 20_000usize;
        let names: Vec<(Vec<String>, u64)> = (0..n)
            .map(|i| {
                (
                    vec![
                        "many".to_string(),
                        format!("d{}", i / 1000),
                        format!("f{i}"),
                    ],
                    3,
                )
            })
            .collect();
        let layout = Layout::new(names, 16384).unwrap();
        let s = FileStorage::new(dir.path(), layout, FileStorageConfig { max_open_files: 32 });
        let mut max_open = 0;
        for p in 0..s.layout().piece_count() {
            let data = vec![p as u8 + 1; s.layout().piece_size(p) as usize];
            s.write(p, 0, &data).unwrap();
            max_open = max_open.max(s.open_files());
        }
        assert_eq!(max_open, 32);
        assert!(s.total_opens() >= n as u64);
        // Reading back in a random order still works through the cache.
        let mut rng = Rng::new(5);
        let mut order: Vec<usize> = (0..n).step_by(97).collect();
        rng.shuffle(&mut order);
        for i in order {
            assert_eq!(fs::read(s.file_path(i)).unwrap().len(), 3);
        }
        assert_eq!(
            fs::read(dir.path().join("many/d19/f19999")).unwrap(),
            vec![4, 4, 4]
        );
    }

    /// Lists every path under `dir`, following nothing.
    fn tree(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if fs::symlink_metadata(&p).unwrap().is_dir() {
                    stack.push(p.clone());
                }
                out.push(p);
            }
        }
        out.sort();
        out
    }

    #[test]
    fn symlinked_parent_directories_are_refused_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("t")).unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("t/evil")).unwrap();
        let s = storage(dir.path(), &[(&["t", "evil", "f"], 4)], 4, 4);
        let err = s.write(0, 0, b"pwnd").unwrap_err();
        assert!(matches!(err, StorageError::Symlink { .. }), "{err}");
        assert!(err.to_string().contains("t/evil"), "{err}");
        assert!(tree(outside.path()).is_empty());
        let err = s.read_piece(0).unwrap_err();
        assert!(matches!(err, StorageError::Symlink { .. }), "{err}");
    }

    #[test]
    fn a_symlink_in_place_of_the_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let target = outside.path().join("victim");
        fs::write(&target, b"keep").unwrap();
        std::os::unix::fs::symlink(&target, dir.path().join("f")).unwrap();
        let s = storage(dir.path(), &[(&["f"], 4)], 4, 4);
        let err = s.write(0, 0, b"pwnd").unwrap_err();
        assert!(matches!(err, StorageError::Symlink { .. }), "{err}");
        assert_eq!(fs::read(&target).unwrap(), b"keep");
        // A dangling symlink is refused too, rather than creating its target.
        let dangling = outside.path().join("new");
        std::os::unix::fs::symlink(&dangling, dir.path().join("g")).unwrap();
        let s = storage(dir.path(), &[(&["g"], 4)], 4, 4);
        assert!(matches!(
            s.write(0, 0, b"pwnd").unwrap_err(),
            StorageError::Symlink { .. }
        ));
        assert!(!dangling.exists());
    }

    #[test]
    fn a_file_where_a_directory_is_needed_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("t"), b"").unwrap();
        let s = storage(dir.path(), &[(&["t", "f"], 4)], 4, 4);
        let err = s.write(0, 0, b"data").unwrap_err();
        assert!(matches!(err, StorageError::NotADirectory { .. }), "{err}");
    }

    /// Seeded random hostile layouts: whatever components and pre-planted symlinks a torrent
    /// combines, nothing is ever created or written outside the download directory.
    #[test]
    fn hostile_layouts_never_escape_the_directory() {
        let pool = [
            "..", ".", "", "/", "/etc", "a/../..", "..\\..", "ok", "sub", "link", "x\0y", "a",
            "...",
        ];
        let mut rng = Rng::new(0x5eed);
        for round in 0..300 {
            let root = tempfile::tempdir().unwrap();
            let dir = root.path().join("dl");
            let outside = root.path().join("outside");
            fs::create_dir(&dir).unwrap();
            fs::create_dir(&outside).unwrap();
            std::os::unix::fs::symlink(&outside, dir.join("link")).unwrap();
            std::os::unix::fs::symlink(outside.join("target"), dir.join("ok")).unwrap();
            let files: Vec<(Vec<String>, u64)> = (0..1 + rng.index(3))
                .map(|_| {
                    let depth = 1 + rng.index(4);
                    (
                        (0..depth)
                            .map(|_| pool[rng.index(pool.len())].to_string())
                            .collect(),
                        1 + rng.below(9),
                    )
                })
                .collect();
            let Ok(layout) = Layout::new(files.clone(), 4) else {
                continue;
            };
            let s = FileStorage::new(&dir, layout, FileStorageConfig::default());
            for p in 0..s.layout().piece_count() {
                let data = vec![7u8; s.layout().piece_size(p) as usize];
                let _ = s.write(p, 0, &data);
            }
            let _ = s.create_empty_files();
            assert!(
                tree(&outside).is_empty(),
                "round {round}: {files:?} escaped: {:?}",
                tree(&outside)
            );
            for p in tree(root.path()) {
                assert!(
                    p.starts_with(&dir) || p.starts_with(&outside),
                    "round {round}: {files:?} made {p:?}"
                );
            }
        }
    }
}
