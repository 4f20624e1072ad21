//! The in-memory storage backend, for tests and simulations.

use std::sync::{Mutex, PoisonError};

use super::{spans_or_err, Layout, Storage, StorageError};

/// Keeps the whole torrent in one zero-initialised buffer. Never fails except on ranges
/// outside a piece.
#[derive(Debug)]
pub struct MemoryStorage {
    layout: Layout,
    data: Mutex<Vec<u8>>,
}

impl MemoryStorage {
    /// A zero-filled storage for `layout`.
    ///
    /// The buffer is allocated up front; the length must fit in memory.
    pub fn new(layout: Layout) -> Self {
        let len = usize::try_from(layout.total_length()).unwrap_or(usize::MAX);
        MemoryStorage {
            data: Mutex::new(vec![0; len]),
            layout,
        }
    }

    /// A storage pre-filled with `data`, which must be exactly the torrent's length.
    pub fn with_data(layout: Layout, data: Vec<u8>) -> Option<Self> {
        (data.len() as u64 == layout.total_length()).then(|| MemoryStorage {
            data: Mutex::new(data),
            layout,
        })
    }

    /// A copy of the whole content.
    pub fn contents(&self) -> Vec<u8> {
        self.data
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Storage for MemoryStorage {
    fn layout(&self) -> &Layout {
        &self.layout
    }

    fn read(&self, piece: u32, offset: u32, buf: &mut [u8]) -> Result<(), StorageError> {
        spans_or_err(&self.layout, piece, offset, buf.len())?;
        let start = (self.layout.piece_offset(piece) + u64::from(offset)) as usize;
        let data = self.data.lock().unwrap_or_else(PoisonError::into_inner);
        buf.copy_from_slice(&data[start..start + buf.len()]);
        Ok(())
    }

    fn write(&self, piece: u32, offset: u32, src: &[u8]) -> Result<(), StorageError> {
        let spans = spans_or_err(&self.layout, piece, offset, src.len())?;
        let start = (self.layout.piece_offset(piece) + u64::from(offset)) as usize;
        let mut data = self.data.lock().unwrap_or_else(PoisonError::into_inner);
        // Pad files (BEP 47) stay zeros, as the file backend never writes them.
        for span in spans {
            if self.layout.files()[span.file].pad {
                continue;
            }
            let at = start + span.buf_offset;
            data[at..at + span.len]
                .copy_from_slice(&src[span.buf_offset..span.buf_offset + span.len]);
        }
        Ok(())
    }

    fn flush(&self) -> Result<(), StorageError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_range_checks() {
        let layout = Layout::new([(["a"], 5u64), (["b"], 6)], 4).unwrap();
        let s = MemoryStorage::new(layout);
        s.write(1, 1, b"xyz").unwrap();
        assert_eq!(s.read_piece(1).unwrap(), b"\0xyz");
        assert_eq!(s.read_piece(2).unwrap(), b"\0\0\0");
        let err = s.write(2, 2, b"xy").unwrap_err();
        assert_eq!(
            err.to_string(),
            "storage: 2 bytes at offset 2 are outside piece 2"
        );
        assert_eq!(&s.contents()[4..8], b"\0xyz");
        assert!(MemoryStorage::with_data(s.layout().clone(), vec![1; 10]).is_none());
    }
}
