//! The disk thread: the torrent's [`DiskJob`]s (block writes, block reads for peers, piece
//! checks, a failed piece's block hashes, flushes), in order, off the async threads.

use std::sync::mpsc as std_mpsc;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::piece_check::PieceHashes;

use crate::storage::{Storage, StorageError};
use crate::{BlockRequest, ConnId, DiskJob};

/// What the disk thread reports back.
#[derive(Debug)]
pub(super) enum DiskDone {
    Read {
        conn: ConnId,
        request: BlockRequest,
        data: Option<Vec<u8>>,
    },
    Verified {
        piece: u32,
        ok: bool,
    },
    /// The SHA-256 of each 16 KiB block of a failed piece's file data (`None`: unreadable).
    PieceLeaves {
        piece: u32,
        hashes: Option<Vec<[u8; 32]>>,
    },
    /// A block of this many bytes is written (the backlog shrinks).
    Written(usize),
    /// The leaf hashes of a [`DiskJob::HashBlocks`], per piece (`None`: unreadable).
    BlockHashes {
        conn: ConnId,
        request: torrentkit_wire::HashRequest,
        leaves: Option<Vec<Vec<[u8; 32]>>>,
    },
    Flushed,
    Failed(StorageError),
}

/// Starts the disk thread (writes, reads, flushes, in order) and the hashing thread it hands
/// completed pieces to; both end when the job sender is dropped.
pub(super) fn spawn(
    storage: Arc<dyn Storage>,
    hashes: Arc<dyn PieceHashes + Send + Sync>,
    done: mpsc::UnboundedSender<DiskDone>,
) -> std::io::Result<std_mpsc::Sender<DiskJob>> {
    let (tx, rx) = std_mpsc::channel::<DiskJob>();
    // A piece to check, or (with its file data's length) a failed piece's blocks to hash.
    let (hash_tx, hash_rx) = std_mpsc::channel::<(u32, Option<u32>)>();
    let (hash_storage, hash_done) = (storage.clone(), done.clone());
    std::thread::Builder::new()
        .name("torrentkit-hash".into())
        .spawn(move || {
            for (piece, blocks_of) in hash_rx {
                if let Some(len) = blocks_of {
                    let hashes =
                        leaf_hashes(&*hash_storage, &[(piece, len)]).and_then(|mut h| h.pop());
                    if hash_done
                        .send(DiskDone::PieceLeaves { piece, hashes })
                        .is_err()
                    {
                        return;
                    }
                    continue;
                }
                let ok = match hash_storage.read_piece(piece) {
                    Ok(bytes) => hashes.check(piece, &bytes),
                    Err(e) if e.is_absent() => false,
                    Err(e) => {
                        let _ = hash_done.send(DiskDone::Failed(e));
                        continue;
                    }
                };
                if hash_done.send(DiskDone::Verified { piece, ok }).is_err() {
                    return;
                }
            }
        })?;
    std::thread::Builder::new()
        .name("torrentkit-disk".into())
        .spawn(move || {
            for job in rx {
                let out = match job {
                    DiskJob::Write {
                        piece,
                        offset,
                        data,
                    } => match storage.write(piece, offset, &data) {
                        Ok(()) => DiskDone::Written(data.len()),
                        Err(e) => DiskDone::Failed(e),
                    },
                    DiskJob::Read { conn, request } => {
                        let mut buf = vec![0u8; request.len as usize];
                        let data = storage
                            .read(request.piece, request.offset, &mut buf)
                            .ok()
                            .map(|()| buf);
                        DiskDone::Read {
                            conn,
                            request,
                            data,
                        }
                    }
                    DiskJob::Verify { piece } => {
                        // Its blocks are written (jobs run in order): hash on the other thread
                        // while writes go on here.
                        if hash_tx.send((piece, None)).is_err() {
                            return;
                        }
                        continue;
                    }
                    DiskJob::PieceLeaves { piece, len } => {
                        if hash_tx.send((piece, Some(len))).is_err() {
                            return;
                        }
                        continue;
                    }
                    DiskJob::HashBlocks {
                        conn,
                        request,
                        pieces,
                    } => DiskDone::BlockHashes {
                        conn,
                        request,
                        leaves: leaf_hashes(storage.as_ref(), &pieces),
                    },
                    DiskJob::Flush => match storage.flush() {
                        Ok(()) => DiskDone::Flushed,
                        Err(e) => DiskDone::Failed(e),
                    },
                };
                if done.send(out).is_err() {
                    return;
                }
            }
        })?;
    Ok(tx)
}

/// The SHA-256 of every 16 KiB block of each piece's first `len` bytes (BEP 52 leaves).
fn leaf_hashes(storage: &dyn Storage, pieces: &[(u32, u32)]) -> Option<Vec<Vec<[u8; 32]>>> {
    let mut buf = Vec::new();
    pieces
        .iter()
        .map(|&(piece, len)| {
            buf.resize(len as usize, 0);
            storage.read(piece, 0, &mut buf).ok()?;
            Some(
                buf.chunks(torrentkit_metainfo::merkle::BLOCK_SIZE as usize)
                    .map(torrentkit_metainfo::merkle::leaf)
                    .collect(),
            )
        })
        .collect()
}

/// Checks every piece of `storage` against `hashes` (a re-check after a resume file could not
/// be trusted), on `threads` threads; returns the pieces that pass.
pub fn recheck<H: PieceHashes + Sync + ?Sized>(
    storage: &dyn Storage,
    hashes: &H,
    threads: usize,
) -> crate::Bitfield {
    let pieces = storage.layout().piece_count();
    let next = std::sync::atomic::AtomicU32::new(0);
    let good = std::sync::Mutex::new(crate::Bitfield::new(pieces));
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            s.spawn(|| loop {
                let p = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if p >= pieces {
                    return;
                }
                let ok = storage.read_piece(p).is_ok_and(|b| hashes.check(p, &b));
                if ok {
                    if let Ok(mut g) = good.lock() {
                        let _ = g.insert(p);
                    }
                }
            });
        }
    });
    good.into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
