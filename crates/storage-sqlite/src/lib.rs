//! A [`Storage`] backend that keeps a torrent's pieces as blobs in one SQLite database, the
//! worked example of torrentkit's storage extension point: the engine addresses data by piece
//! and offset, and any store that can keep bytes faithfully can hold a torrent.
//!
//! [`SqliteStorage`] opens (or creates) the database, one row per piece in the `pieces` table,
//! written in place through SQLite's incremental blob I/O (a block lands without rewriting its
//! piece). Writes go into one open transaction, committed by [`Storage::flush`] and whenever
//! 64 MiB have gathered, so a download does not pay one sync per block. Pieces never written read
//! as zeros; bytes of BEP 47 pad files are stored as zeros. A database holds one torrent: its
//! layout (piece length and count) is recorded and checked on open.
//!
//! ```
//! use torrentkit_peer::storage::{Layout, Storage};
//! use torrentkit_storage_sqlite::SqliteStorage;
//!
//! let dir = tempfile::tempdir()?;
//! let layout = Layout::new([(["movie.mkv"], 40_000u64)], 16_384)?;
//! let db = SqliteStorage::open(dir.path().join("data.sqlite"), layout)?;
//! db.write(1, 100, b"hello")?;
//! db.flush()?;
//! let mut buf = [0u8; 5];
//! db.read(1, 100, &mut buf)?;
//! assert_eq!(&buf, b"hello");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Feature flags
//!
//! None; SQLite is compiled in (rusqlite's `bundled`), so no system library is needed.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use rusqlite::{params, Connection, DatabaseName, OptionalExtension};
use torrentkit_peer::storage::{Layout, Storage, StorageError};

/// Commit the open transaction once this many bytes were written in it.
const COMMIT_EVERY: usize = 64 << 20;

/// A torrent's pieces in an SQLite database, one blob per piece.
#[derive(Debug)]
pub struct SqliteStorage {
    layout: Layout,
    path: PathBuf,
    db: Mutex<Db>,
}

#[derive(Debug)]
struct Db {
    conn: Connection,
    /// Bytes written in the open transaction (none open at 0).
    pending: usize,
}

fn backend(what: impl Into<String>, e: rusqlite::Error) -> StorageError {
    StorageError::Backend {
        what: format!("sqlite: {}", what.into()),
        source: Box::new(e),
    }
}

fn out_of_range(piece: u32, offset: u32, len: usize) -> StorageError {
    StorageError::OutOfRange { piece, offset, len }
}

impl SqliteStorage {
    /// Opens the database at `path` for `layout`, creating it (and its tables) if needed. A
    /// database made for another layout is refused.
    pub fn open(path: impl Into<PathBuf>, layout: Layout) -> Result<Self, StorageError> {
        let path = path.into();
        let shown = path.display().to_string();
        let conn = Connection::open(&path).map_err(|e| backend(format!("open {shown}"), e))?;
        // WAL with normal sync: a commit is durable without an fsync per transaction of blocks.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| backend(format!("{shown}: journal_mode"), e))?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| backend(format!("{shown}: synchronous"), e))?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS pieces (piece INTEGER PRIMARY KEY, data BLOB NOT NULL);
             CREATE TABLE IF NOT EXISTS layout (piece_length INTEGER NOT NULL, pieces INTEGER NOT NULL, total INTEGER NOT NULL);",
        )
        .map_err(|e| backend(format!("{shown}: create tables"), e))?;
        let recorded: Option<(i64, i64, i64)> = conn
            .query_row("SELECT piece_length, pieces, total FROM layout", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()
            .map_err(|e| backend(format!("{shown}: read layout"), e))?;
        let ours = (
            i64::from(layout.piece_length()),
            i64::from(layout.piece_count()),
            layout.total_length() as i64,
        );
        match recorded {
            None => {
                conn.execute(
                    "INSERT INTO layout VALUES (?1, ?2, ?3)",
                    params![ours.0, ours.1, ours.2],
                )
                .map_err(|e| backend(format!("{shown}: write layout"), e))?;
            }
            Some(r) if r == ours => {}
            Some((pl, n, total)) => {
                return Err(StorageError::Backend {
                    what: format!("sqlite: {shown}"),
                    source: format!(
                        "the database holds another torrent ({n} pieces of {pl} bytes, {total} bytes), not this one ({} pieces of {} bytes, {} bytes)",
                        ours.1, ours.0, ours.2
                    )
                    .into(),
                })
            }
        }
        Ok(SqliteStorage {
            layout,
            path,
            db: Mutex::new(Db { conn, pending: 0 }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn check(&self, piece: u32, offset: u32, len: usize) -> Result<u32, StorageError> {
        let size = if piece < self.layout.piece_count() {
            self.layout.piece_size(piece)
        } else {
            return Err(out_of_range(piece, offset, len));
        };
        if u64::from(offset) + len as u64 > u64::from(size) {
            return Err(out_of_range(piece, offset, len));
        }
        Ok(size)
    }

    /// Zeros over the bytes of `piece` at `offset` that belong to pad files.
    fn zero_pads(&self, piece: u32, offset: u32, buf: &mut [u8]) {
        if let Some(spans) = self.layout.spans(piece, offset, buf.len()) {
            for s in spans {
                if self.layout.files()[s.file].pad {
                    buf[s.buf_offset..s.buf_offset + s.len].fill(0);
                }
            }
        }
    }
}

impl Storage for SqliteStorage {
    fn layout(&self) -> &Layout {
        &self.layout
    }

    fn read(&self, piece: u32, offset: u32, buf: &mut [u8]) -> Result<(), StorageError> {
        self.check(piece, offset, buf.len())?;
        let db = self.db.lock().unwrap_or_else(PoisonError::into_inner);
        match db
            .conn
            .blob_open(DatabaseName::Main, "pieces", "data", i64::from(piece), true)
        {
            Ok(blob) => blob
                .read_at_exact(buf, offset as usize)
                .map_err(|e| backend(format!("read piece {piece}"), e))?,
            Err(rusqlite::Error::SqliteFailure(_, _))
            | Err(rusqlite::Error::QueryReturnedNoRows) => {
                // No row: a piece never written reads as zeros, as a sparse file would.
                let exists: bool = db
                    .conn
                    .query_row(
                        "SELECT EXISTS(SELECT 1 FROM pieces WHERE piece = ?1)",
                        [piece],
                        |r| r.get(0),
                    )
                    .map_err(|e| backend(format!("read piece {piece}"), e))?;
                if exists {
                    return Err(StorageError::Backend {
                        what: format!("sqlite: read piece {piece}"),
                        source: "the blob could not be opened".into(),
                    });
                }
                buf.fill(0);
            }
            Err(e) => return Err(backend(format!("read piece {piece}"), e)),
        }
        Ok(())
    }

    fn write(&self, piece: u32, offset: u32, data: &[u8]) -> Result<(), StorageError> {
        let size = self.check(piece, offset, data.len())?;
        let mut padded;
        let mut data = data;
        if self.layout.files().iter().any(|f| f.pad) {
            padded = data.to_vec();
            self.zero_pads(piece, offset, &mut padded);
            data = &padded;
        }
        let mut db = self.db.lock().unwrap_or_else(PoisonError::into_inner);
        if db.pending == 0 {
            db.conn
                .execute_batch("BEGIN")
                .map_err(|e| backend("begin", e))?;
        }
        db.conn
            .execute(
                "INSERT OR IGNORE INTO pieces (piece, data) VALUES (?1, zeroblob(?2))",
                params![piece, size],
            )
            .map_err(|e| backend(format!("write piece {piece}"), e))?;
        let mut blob = db
            .conn
            .blob_open(
                DatabaseName::Main,
                "pieces",
                "data",
                i64::from(piece),
                false,
            )
            .map_err(|e| backend(format!("write piece {piece}"), e))?;
        blob.write_at(data, offset as usize)
            .map_err(|e| backend(format!("write piece {piece}"), e))?;
        drop(blob);
        db.pending += data.len().max(1);
        if db.pending >= COMMIT_EVERY {
            db.conn
                .execute_batch("COMMIT")
                .map_err(|e| backend("commit", e))?;
            db.pending = 0;
        }
        Ok(())
    }

    fn flush(&self) -> Result<(), StorageError> {
        let mut db = self.db.lock().unwrap_or_else(PoisonError::into_inner);
        if db.pending > 0 {
            db.conn
                .execute_batch("COMMIT")
                .map_err(|e| backend("commit", e))?;
            db.pending = 0;
        }
        Ok(())
    }
}

impl Drop for SqliteStorage {
    fn drop(&mut self) {
        // What was written is kept even without a last flush.
        let _ = self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use torrentkit_peer::storage::conformance;

    #[test]
    fn passes_the_storage_suite() {
        let dir = tempfile::tempdir().unwrap();
        let n = std::sync::atomic::AtomicUsize::new(0);
        conformance::check(|layout| {
            let i = n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Box::new(SqliteStorage::open(dir.path().join(format!("{i}.sqlite")), layout).unwrap())
        })
        .unwrap();
    }

    #[test]
    fn data_survives_reopening_and_another_torrent_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sqlite");
        let layout = Layout::new([(["f"], 100_000u64)], 16_384).unwrap();
        {
            let s = SqliteStorage::open(&path, layout.clone()).unwrap();
            s.write(3, 10, b"kept").unwrap();
        }
        let s = SqliteStorage::open(&path, layout).unwrap();
        let mut buf = [0u8; 4];
        s.read(3, 10, &mut buf).unwrap();
        assert_eq!(&buf, b"kept");
        let mut zeros = [1u8; 8];
        s.read(0, 0, &mut zeros).unwrap();
        assert_eq!(zeros, [0; 8], "a piece never written reads as zeros");
        drop(s);
        let other = Layout::new([(["g"], 50u64)], 16).unwrap();
        let err = SqliteStorage::open(&path, other).unwrap_err();
        assert!(err.to_string().contains("holds another torrent"), "{err}");
    }
}
