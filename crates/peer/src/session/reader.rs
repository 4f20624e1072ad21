//! [`Reader`]: one file of a running session (or its whole data) as a seekable byte stream
//! that fetches on demand. A read waits only for the piece under the position; the reader's
//! window (that piece, then the readahead) is the picker's first concern, moves with every read
//! and seek, and is released when the reader is dropped. [`BlockingReader`] is the same for
//! threads outside the runtime (`Read + Seek`, e.g. a FUSE file system).

use std::future::Future;
use std::io::{self, SeekFrom};
use std::ops::Range;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncSeek, ReadBuf};
use tokio::sync::{mpsc, watch};

use super::{Command, Progress};
use crate::storage::Storage;

/// The readahead a new [`Reader`] asks for past its position: 8 MiB, as anacrolix/torrent's
/// default, enough for a player to keep going at video bit rates.
pub const DEFAULT_READAHEAD: u64 = 8 << 20;

/// Reader ids: each reader's window is kept apart in the picker.
static NEXT_READER: AtomicU64 = AtomicU64::new(1);

/// Where a [`Session`](super::Session) keeps its storage for readers: set at the start, or
/// once a magnet's metadata is fetched.
#[derive(Clone, Default)]
pub(super) struct StorageCell(pub(super) Arc<std::sync::OnceLock<Arc<dyn Storage>>>);

impl std::fmt::Debug for StorageCell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "StorageCell(set)"
        } else {
            "StorageCell(unset)"
        })
    }
}

/// Makes [`Reader`]s of one session ([`Session::readers`](super::Session::readers)); cheap to
/// clone. Readers made after the session ended fail on their first read.
#[derive(Debug, Clone)]
pub struct Readers {
    pub(super) storage: StorageCell,
    pub(super) commands: mpsc::UnboundedSender<Command>,
    pub(super) progress: watch::Receiver<Progress>,
}

impl Readers {
    /// A reader of file `file` (`None`: all the data); `None` while a magnet's metadata is not
    /// fetched yet, or if there is no such file.
    pub fn reader(&self, file: Option<usize>) -> Option<Reader> {
        let storage = self.storage.0.get()?.clone();
        Reader::new(storage, file, self.commands.clone(), self.progress.clone())
    }

    /// The session's progress (the verified pieces among it).
    pub fn progress(&self) -> watch::Receiver<Progress> {
        self.progress.clone()
    }
}

type Wait = Pin<Box<dyn Future<Output = bool> + Send>>;

/// One file of a session's torrent (or all of its data) as `AsyncRead + AsyncSeek`.
///
/// Made by [`Session::reader`](super::Session::reader). Reads return verified data only; a read
/// of a piece not yet there waits for it (and only for it) while the session fetches it first.
/// The readahead ([`set_readahead`](Self::set_readahead), default [`DEFAULT_READAHEAD`]) is
/// fetched next, in order, and follows the position; a seek moves it at once. The window is
/// set on the first read or seek, so a reader that is made and never used costs nothing.
/// Reads fail with an error once the session has ended.
pub struct Reader {
    id: u64,
    storage: Arc<dyn Storage>,
    /// Offset of the first byte in the torrent's data.
    start: u64,
    len: u64,
    pos: u64,
    readahead: u64,
    commands: mpsc::UnboundedSender<Command>,
    progress: watch::Receiver<Progress>,
    /// The window the picker was last told.
    window: Option<Range<u32>>,
    /// Waiting for this piece to be verified.
    wait: Option<(u32, Wait)>,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("id", &self.id)
            .field("start", &self.start)
            .field("len", &self.len)
            .field("pos", &self.pos)
            .field("readahead", &self.readahead)
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

/// What one attempt at a read found.
enum Step {
    /// Bytes copied (0 at the end).
    Read(usize),
    /// The piece under the position is not verified yet.
    Wait(u32),
}

impl Reader {
    pub(super) fn new(
        storage: Arc<dyn Storage>,
        file: Option<usize>,
        commands: mpsc::UnboundedSender<Command>,
        progress: watch::Receiver<Progress>,
    ) -> Option<Reader> {
        let layout = storage.layout();
        let (start, len) = match file {
            None => (0, layout.total_length()),
            Some(i) => {
                let f = layout.files().get(i)?;
                (f.offset, f.length)
            }
        };
        Some(Reader {
            id: NEXT_READER.fetch_add(1, Ordering::Relaxed),
            storage,
            start,
            len,
            pos: 0,
            readahead: DEFAULT_READAHEAD,
            commands,
            progress,
            window: None,
            wait: None,
        })
    }

    /// The length in bytes of what the reader reads.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether there is nothing to read.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The read position.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Sets how many bytes past the position are fetched ahead (0: only what a read needs).
    /// Takes effect at once if the reader has a window.
    pub fn set_readahead(&mut self, bytes: u64) {
        self.readahead = bytes;
        if self.window.is_some() {
            self.update_window();
        }
    }

    /// The pieces of the reader's window now (`None` before the first read or seek, or at the end).
    pub fn window(&self) -> Option<Range<u32>> {
        self.window.clone()
    }

    /// This reader for a thread outside the tokio runtime: `Read + Seek`, blocking while a
    /// piece is fetched; `handle` is the session's runtime (`Handle::current()` inside it).
    pub fn into_blocking(self, handle: tokio::runtime::Handle) -> BlockingReader {
        BlockingReader {
            inner: self,
            handle,
        }
    }

    /// The piece and offset inside it of byte `pos` of the reader.
    fn locate(&self, pos: u64) -> (u32, u32) {
        let pl = u64::from(self.storage.layout().piece_length());
        let abs = self.start + pos;
        ((abs / pl) as u32, (abs % pl) as u32)
    }

    /// Tells the picker the window under the position, if it changed.
    fn update_window(&mut self) {
        let window = (self.pos < self.len).then(|| {
            let (first, _) = self.locate(self.pos);
            let end = self.pos.saturating_add(self.readahead.max(1)).min(self.len);
            let (last, _) = self.locate(end - 1);
            first..last + 1
        });
        if window != self.window {
            self.window.clone_from(&window);
            let _ = self.commands.send(Command::Window {
                reader: self.id,
                pieces: window,
            });
        }
    }

    fn seek_to(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        let Some(target) = target else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start of the file",
            ));
        };
        self.pos = target;
        self.wait = None;
        // A seek re-prioritises at once, before the next read.
        self.update_window();
        Ok(target)
    }

    /// Copies what is verified under the position into `buf`.
    fn step(&mut self, buf: &mut [u8]) -> io::Result<Step> {
        if self.pos >= self.len || buf.is_empty() {
            return Ok(Step::Read(0));
        }
        self.update_window();
        let (piece, offset) = self.locate(self.pos);
        if !self.progress.borrow().verified.contains(piece) {
            return Ok(Step::Wait(piece));
        }
        let in_piece = u64::from(self.storage.layout().piece_size(piece) - offset);
        let n = (buf.len() as u64).min(in_piece).min(self.len - self.pos) as usize;
        // A positional read of at most one piece's rest, of data just verified (so in the page
        // cache as a rule): short enough to do in place.
        self.storage
            .read(piece, offset, &mut buf[..n])
            .map_err(io::Error::other)?;
        self.pos += n as u64;
        self.update_window();
        Ok(Step::Read(n))
    }

    /// A future that is ready once `piece` is verified (`false`: the session ended).
    fn wait_for(&self, piece: u32) -> Wait {
        let mut rx = self.progress.clone();
        Box::pin(async move { rx.wait_for(|p| p.verified.contains(piece)).await.is_ok() })
    }
}

fn ended() -> io::Error {
    io::Error::new(
        io::ErrorKind::BrokenPipe,
        "the session ended before the piece was downloaded",
    )
}

impl Drop for Reader {
    fn drop(&mut self) {
        if self.window.is_some() {
            let _ = self.commands.send(Command::Window {
                reader: self.id,
                pieces: None,
            });
        }
    }
}

impl AsyncRead for Reader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            let dst = buf.initialize_unfilled();
            match this.step(dst)? {
                Step::Read(n) => {
                    this.wait = None;
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Step::Wait(piece) => {
                    if this.wait.as_ref().is_none_or(|(p, _)| *p != piece) {
                        this.wait = Some((piece, this.wait_for(piece)));
                    }
                    let Some((_, wait)) = this.wait.as_mut() else {
                        continue;
                    };
                    match wait.as_mut().poll(cx) {
                        Poll::Ready(true) => this.wait = None,
                        Poll::Ready(false) => return Poll::Ready(Err(ended())),
                        Poll::Pending => return Poll::Pending,
                    }
                }
            }
        }
    }
}

impl AsyncSeek for Reader {
    fn start_seek(self: Pin<&mut Self>, position: SeekFrom) -> io::Result<()> {
        self.get_mut().seek_to(position).map(drop)
    }

    fn poll_complete(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        Poll::Ready(Ok(self.pos))
    }
}

/// A [`Reader`] for threads outside the tokio runtime: `Read + Seek` that blocks while the
/// piece under the position is fetched. Never use it on a runtime thread (it would block the
/// runtime; tokio panics).
#[derive(Debug)]
pub struct BlockingReader {
    inner: Reader,
    handle: tokio::runtime::Handle,
}

impl BlockingReader {
    /// The reader it wraps (length, position, readahead).
    pub fn get_mut(&mut self) -> &mut Reader {
        &mut self.inner
    }

    /// The reader it wraps.
    pub fn get_ref(&self) -> &Reader {
        &self.inner
    }
}

impl io::Read for BlockingReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.inner.step(buf)? {
                Step::Read(n) => return Ok(n),
                Step::Wait(piece) => {
                    let wait = self.inner.wait_for(piece);
                    if !self.handle.block_on(wait) {
                        return Err(ended());
                    }
                }
            }
        }
    }
}

impl io::Seek for BlockingReader {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.inner.seek_to(pos)
    }
}
