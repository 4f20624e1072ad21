//! Storage: the torrent's file layout, the [`Storage`] trait and its file and memory backends.
//!
//! [`Storage`] is the extension point for keeping a torrent's data anywhere: implement its four
//! methods over pieces and offsets (a database, object storage, an archive), check the
//! implementation with [`conformance::check`], and hand it to
//! [`Session::start`](crate::session::Session::start) as an `Arc<dyn Storage>`. The engine
//! hash-checks every piece it reads back, so a backend only has to store bytes faithfully.
//! [`FileStorage`] (the default: files on disk, as the torrent names them) and
//! [`MemoryStorage`] live here; the `torrentkit-storage-sqlite` crate is a worked example of a
//! backend outside this crate (pieces as SQLite blobs).

pub mod conformance;
mod error;
mod fd_cache;
mod file;
mod layout;
mod memory;
mod path;

pub use error::StorageError;
pub use fd_cache::FileCache;
pub use file::{FileStorage, FileStorageConfig};
pub use layout::{FileEntry, FileSpan, Layout, LayoutError, BLOCK_SIZE};
pub use memory::MemoryStorage;
pub use path::PathProblem;

pub(crate) use layout::piece_size;

/// Where a torrent's data is read from and written to, addressed by piece and offset.
///
/// Methods take `&self` so that several threads (piece verification, disk writes, readers) can
/// share one storage; backends synchronise internally. Reads and writes never reach outside a
/// piece: a range outside one is [`StorageError::OutOfRange`]. A backend reports its own
/// failures as [`StorageError::Backend`]. Bytes of BEP 47 pad files ([`FileEntry::pad`]) read as
/// zeros and need not be stored. Data written need only be durable after [`flush`](Self::flush).
/// See the [module documentation](self) and [`conformance::check`], the suite a backend passes.
pub trait Storage: Send + Sync {
    /// The file layout this storage serves.
    fn layout(&self) -> &Layout;

    /// Fills `buf` from `offset` inside `piece`.
    fn read(&self, piece: u32, offset: u32, buf: &mut [u8]) -> Result<(), StorageError>;

    /// Writes `data` at `offset` inside `piece`, creating files as needed.
    fn write(&self, piece: u32, offset: u32, data: &[u8]) -> Result<(), StorageError>;

    /// Makes written data durable (fsync of the files written since the last flush).
    fn flush(&self) -> Result<(), StorageError>;

    /// Reads a whole piece.
    fn read_piece(&self, piece: u32) -> Result<Vec<u8>, StorageError> {
        let mut buf = vec![0; self.layout().piece_size(piece) as usize];
        self.read(piece, 0, &mut buf)?;
        Ok(buf)
    }
}

/// The spans of a range, or the out-of-range error.
pub(crate) fn spans_or_err(
    layout: &Layout,
    piece: u32,
    offset: u32,
    len: usize,
) -> Result<Vec<FileSpan>, StorageError> {
    layout
        .spans(piece, offset, len)
        .ok_or(StorageError::OutOfRange { piece, offset, len })
}
