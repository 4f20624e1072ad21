//! The storage test suite every backend passes: the file and memory backends here, and any
//! backend written elsewhere against [`Storage`] (the SQLite example crate runs it too).

use std::sync::Arc;

use super::{Layout, Storage, StorageError};

/// Runs the suite against the backend `make` builds for a layout (each call a fresh, empty
/// storage); returns the first failure, described.
///
/// What it checks: writes read back across file boundaries and with pad files (read as zeros,
/// never stored); whole pieces through [`Storage::read_piece`]; the short last piece; ranges
/// outside a piece refused with [`StorageError::OutOfRange`] (and nothing written); writes
/// from several threads at once land; data survives a [`Storage::flush`]; zero-length files
/// take no bytes.
///
/// ```
/// use torrentkit_peer::storage::{conformance, MemoryStorage};
///
/// conformance::check(|layout| Box::new(MemoryStorage::new(layout))).unwrap();
/// ```
pub fn check<F>(make: F) -> Result<(), String>
where
    F: Fn(Layout) -> Box<dyn Storage>,
{
    boundaries(&make)?;
    pads(&make)?;
    out_of_range(&make)?;
    threads(&make)?;
    Ok(())
}

fn fail<T>(what: impl Into<String>) -> Result<T, String> {
    Err(what.into())
}

fn ok<T>(r: Result<T, StorageError>, what: &str) -> Result<T, String> {
    r.map_err(|e| format!("{what}: {e}"))
}

/// Bytes of the whole torrent, each a function of its position.
fn pattern(len: u64) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

fn write_all(s: &dyn Storage, data: &[u8]) -> Result<(), String> {
    let layout = s.layout().clone();
    for p in 0..layout.piece_count() {
        let start = layout.piece_offset(p) as usize;
        let size = layout.piece_size(p) as usize;
        // In two writes, the second first, so order does not matter.
        let half = size / 2;
        ok(
            s.write(p, half as u32, &data[start + half..start + size]),
            "write",
        )?;
        ok(s.write(p, 0, &data[start..start + half]), "write")?;
    }
    Ok(())
}

fn read_all(s: &dyn Storage) -> Result<Vec<u8>, String> {
    let layout = s.layout().clone();
    let mut out = Vec::new();
    for p in 0..layout.piece_count() {
        out.extend(ok(s.read_piece(p), "read_piece")?);
    }
    Ok(out)
}

fn boundaries<F: Fn(Layout) -> Box<dyn Storage>>(make: &F) -> Result<(), String> {
    // Files of 5, 0, 7 and 9 bytes in 4-byte pieces: pieces cross every boundary, the last is
    // short (21 = 5*4 + 1).
    let layout = Layout::new(
        [
            (vec!["t", "a"], 5u64),
            (vec!["t", "empty"], 0),
            (vec!["t", "sub", "b"], 7),
            (vec!["t", "c"], 9),
        ],
        4,
    )
    .map_err(|e| e.to_string())?;
    let s = make(layout.clone());
    let data = pattern(layout.total_length());
    write_all(s.as_ref(), &data)?;
    if read_all(s.as_ref())? != data {
        return fail("data read back differs from data written");
    }
    // A read inside a piece, across a file boundary.
    let mut buf = [0u8; 3];
    ok(s.read(1, 0, &mut buf), "read")?;
    if buf[..] != data[4..7] {
        return fail("a read across a file boundary differs");
    }
    if ok(s.read_piece(5), "read_piece")?.len() != 1 {
        return fail("the short last piece is not 1 byte");
    }
    ok(s.flush(), "flush")?;
    if read_all(s.as_ref())? != data {
        return fail("data differs after a flush");
    }
    // Overwrites replace.
    ok(s.write(2, 1, b"xy"), "write")?;
    let mut two = [0u8; 2];
    ok(s.read(2, 1, &mut two), "read")?;
    if &two != b"xy" {
        return fail("an overwrite did not replace the bytes");
    }
    Ok(())
}

fn pads<F: Fn(Layout) -> Box<dyn Storage>>(make: &F) -> Result<(), String> {
    let layout = Layout::with_pad_files(
        [
            (vec!["a".to_owned()], 6u64, false),
            (vec![".pad".to_owned(), "2".to_owned()], 2, true),
            (vec!["b".to_owned()], 5, false),
        ],
        8,
    )
    .map_err(|e| e.to_string())?;
    let s = make(layout);
    ok(s.write(0, 0, b"abcdef\x01\x02"), "write")?;
    let piece = ok(s.read_piece(0), "read_piece")?;
    if piece != b"abcdef\0\0" {
        return fail(format!("a pad file does not read as zeros: {piece:?}"));
    }
    ok(s.write(1, 0, b"ghijk"), "write")?;
    if ok(s.read_piece(1), "read_piece")? != b"ghijk" {
        return fail("the piece after a pad file differs");
    }
    Ok(())
}

fn out_of_range<F: Fn(Layout) -> Box<dyn Storage>>(make: &F) -> Result<(), String> {
    let layout = Layout::new([(["f"], 10u64)], 4).map_err(|e| e.to_string())?;
    let s = make(layout);
    let refused = |r: Result<(), StorageError>, what: &str| match r {
        Err(StorageError::OutOfRange { .. }) => Ok(()),
        Err(e) => fail(format!("{what}: wrong error {e}")),
        Ok(()) => fail(format!("{what}: accepted")),
    };
    refused(s.write(0, 2, b"xyz"), "a write past the end of a piece")?;
    refused(
        s.write(3, 0, b"x"),
        "a write to a piece that does not exist",
    )?;
    refused(s.write(2, 0, b"xyz"), "a write past the short last piece")?;
    refused(
        s.read(0, 3, &mut [0u8; 2]),
        "a read past the end of a piece",
    )?;
    refused(
        s.read(9, 0, &mut [0u8; 1]),
        "a read of a piece that does not exist",
    )?;
    Ok(())
}

fn threads<F: Fn(Layout) -> Box<dyn Storage>>(make: &F) -> Result<(), String> {
    let layout =
        Layout::new([(["x"], 100_000u64), (["y"], 60_001)], 16_384).map_err(|e| e.to_string())?;
    let s: Arc<dyn Storage> = Arc::from(make(layout.clone()));
    let data = Arc::new(pattern(layout.total_length()));
    let workers: Vec<_> = (0..4u32)
        .map(|w| {
            let (s, data, layout) = (s.clone(), data.clone(), layout.clone());
            std::thread::spawn(move || -> Result<(), String> {
                for p in (w..layout.piece_count()).step_by(4) {
                    let start = layout.piece_offset(p) as usize;
                    let end = start + layout.piece_size(p) as usize;
                    ok(s.write(p, 0, &data[start..end]), "write")?;
                }
                Ok(())
            })
        })
        .collect();
    for w in workers {
        w.join()
            .map_err(|_| "a writer thread panicked".to_owned())??;
    }
    ok(s.flush(), "flush")?;
    if read_all(s.as_ref())? != *data {
        return fail("writes from several threads did not all land");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{FileStorage, FileStorageConfig, MemoryStorage};

    #[test]
    fn the_file_backend_passes() {
        let dir = tempfile::tempdir().unwrap();
        let n = std::sync::atomic::AtomicUsize::new(0);
        check(|layout| {
            // A fresh directory per storage.
            let i = n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Box::new(FileStorage::new(
                dir.path().join(i.to_string()),
                layout,
                FileStorageConfig::default(),
            ))
        })
        .unwrap();
    }

    #[test]
    fn the_memory_backend_passes() {
        check(|layout| Box::new(MemoryStorage::new(layout))).unwrap();
    }

    /// A backend that drops writes to piece 1 must fail: the suite can fail.
    #[test]
    fn a_broken_backend_fails() {
        struct Lossy(MemoryStorage);
        impl Storage for Lossy {
            fn layout(&self) -> &Layout {
                self.0.layout()
            }
            fn read(&self, piece: u32, offset: u32, buf: &mut [u8]) -> Result<(), StorageError> {
                self.0.read(piece, offset, buf)
            }
            fn write(&self, piece: u32, offset: u32, data: &[u8]) -> Result<(), StorageError> {
                if piece == 1 {
                    return Ok(());
                }
                self.0.write(piece, offset, data)
            }
            fn flush(&self) -> Result<(), StorageError> {
                Ok(())
            }
        }
        let err = check(|layout| Box::new(Lossy(MemoryStorage::new(layout)))).unwrap_err();
        assert!(err.contains("differs"), "{err}");
    }
}
