//! Parallel piece hashing over a list of files read as one stream, shared by creation and
//! verification, for v1 (SHA-1 per piece) and v2 (SHA-256 per 16 KiB block of file data, the
//! leaves of BEP 52's Merkle trees) at once.
//!
//! The pieces are cut into jobs of consecutive pieces that free threads take in order; each job
//! is read once, in large sequential reads across file boundaries, feeding the hashers as it goes.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use sha1::{Digest, Sha1};
use sha2::Sha256;

use crate::error::{Error, Result};
use crate::merkle::{Hash256, BLOCK_SIZE};

/// Bytes per read: small enough that the data is still in the CPU cache when it is hashed,
/// large enough that system calls cost nothing.
const CHUNK: usize = 512 * 1024;

/// Bytes per job handed to a thread (rounded to whole pieces, at least one).
const JOB_BYTES: u64 = 32 * 1024 * 1024;

/// One stretch of the torrent's data.
#[derive(Debug, Clone)]
pub(crate) struct Span {
    /// The file holding it, or `None` for zeros (a pad file).
    pub(crate) path: Option<PathBuf>,
    /// Its length in bytes.
    pub(crate) length: u64,
}

/// A progress callback: bytes hashed so far and bytes in all, callable from any thread.
pub type Progress<'a> = &'a (dyn Fn(u64, u64) + Sync);

/// Which hashes to take of each piece.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Want {
    /// SHA-1 of the whole piece (v1).
    pub(crate) sha1: bool,
    /// SHA-256 of each 16 KiB block of file data in it, pad spans left out (v2 leaves).
    pub(crate) leaves: bool,
}

/// The hashes of one piece.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PieceDigest {
    /// Its SHA-1, when asked for.
    pub(crate) sha1: Option<[u8; 20]>,
    /// The SHA-256 of each 16 KiB block of file data (the last one short), when asked for.
    pub(crate) leaves: Vec<Hash256>,
}

/// Hashes every piece of the concatenation of `spans` with SHA-1.
///
/// With `strict`, any read failure or short file is an error (creation); otherwise the pieces
/// it touches come back as `None` (verification).
pub(crate) fn hash_pieces(
    spans: &[Span],
    piece_length: u64,
    threads: usize,
    strict: bool,
    progress: Progress<'_>,
) -> Result<Vec<Option<[u8; 20]>>> {
    hash_pieces_in_jobs(spans, piece_length, threads, strict, progress, JOB_BYTES)
}

/// Hashes every piece of the concatenation of `spans` as `want` says (see [`hash_pieces`] for
/// `strict`).
pub(crate) fn digest_pieces(
    spans: &[Span],
    piece_length: u64,
    threads: usize,
    strict: bool,
    want: Want,
    progress: Progress<'_>,
) -> Result<Vec<Option<PieceDigest>>> {
    digest_pieces_in_jobs(
        spans,
        piece_length,
        threads,
        strict,
        want,
        progress,
        JOB_BYTES,
    )
}

/// [`hash_pieces`] with jobs of about `job_bytes` (tests use small ones).
fn hash_pieces_in_jobs(
    spans: &[Span],
    piece_length: u64,
    threads: usize,
    strict: bool,
    progress: Progress<'_>,
    job_bytes: u64,
) -> Result<Vec<Option<[u8; 20]>>> {
    let want = Want {
        sha1: true,
        leaves: false,
    };
    let digests = digest_pieces_in_jobs(
        spans,
        piece_length,
        threads,
        strict,
        want,
        progress,
        job_bytes,
    )?;
    Ok(digests
        .into_iter()
        .map(|d| d.and_then(|d| d.sha1))
        .collect())
}

/// [`digest_pieces`] with jobs of about `job_bytes`.
fn digest_pieces_in_jobs(
    spans: &[Span],
    piece_length: u64,
    threads: usize,
    strict: bool,
    want: Want,
    progress: Progress<'_>,
    job_bytes: u64,
) -> Result<Vec<Option<PieceDigest>>> {
    let mut offsets = Vec::with_capacity(spans.len());
    let mut total = 0u64;
    for s in spans {
        offsets.push(total);
        total += s.length;
    }
    let pieces = total.div_ceil(piece_length);
    // Work is handed out in jobs of consecutive pieces (about 32 MiB each), taken in order by
    // whichever thread is free, so a thread that the scheduler holds back does not hold up the
    // others. Each job is read sequentially.
    let per_job = (job_bytes / piece_length).max(1);
    let jobs = pieces.div_ceil(per_job);
    let threads = (threads.max(1) as u64).min(jobs.max(1));
    let done = AtomicU64::new(0);
    let next = AtomicU64::new(0);
    let job = Job {
        spans,
        offsets: &offsets,
        piece_length,
        total,
        strict,
        want,
        done: &done,
        progress,
    };
    let results: Vec<Result<Vec<JobResult>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let (job, next) = (&job, &next);
                scope.spawn(move || {
                    let mut mine = Vec::new();
                    loop {
                        let j = next.fetch_add(1, Ordering::Relaxed);
                        if j >= jobs {
                            return Ok(mine);
                        }
                        let range = j * per_job..((j + 1) * per_job).min(pieces);
                        mine.push((j, job.run(range)?));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Error::build("a hashing thread panicked")))
            })
            .collect()
    });
    let mut parts = Vec::with_capacity(jobs as usize);
    for r in results {
        parts.extend(r?);
    }
    parts.sort_unstable_by_key(|(j, _)| *j);
    let mut out = Vec::with_capacity(pieces as usize);
    for (_, hashes) in parts {
        out.extend(hashes);
    }
    Ok(out)
}

/// A job's index and the hashes of its pieces (`None`: unreadable).
type JobResult = (u64, Vec<Option<PieceDigest>>);

struct Job<'a> {
    spans: &'a [Span],
    offsets: &'a [u64],
    piece_length: u64,
    total: u64,
    strict: bool,
    want: Want,
    done: &'a AtomicU64,
    progress: Progress<'a>,
}

/// The file currently being read by one thread.
struct Open {
    index: usize,
    /// `None` when it could not be opened (verification goes on without it).
    file: Option<File>,
    /// Where the next read lands, relative to the file's start.
    position: u64,
}

impl Job<'_> {
    fn run(&self, pieces: Range<u64>) -> Result<Vec<Option<PieceDigest>>> {
        let mut out = Vec::with_capacity((pieces.end - pieces.start) as usize);
        let start = pieces.start * self.piece_length;
        let end = (pieces.end * self.piece_length).min(self.total);
        let mut buf = vec![0u8; CHUNK];
        let mut hasher = Sha1::new();
        let mut leaf = Sha256::new();
        let mut in_leaf = 0u64;
        let mut leaves = Vec::new();
        let mut in_piece = 0u64;
        let mut piece_ok = true;
        let mut open: Option<Open> = None;
        let mut index = self
            .offsets
            .partition_point(|&o| o <= start)
            .saturating_sub(1);
        let mut pos = start;
        let mut finish = |hasher: &mut Sha1,
                          leaf: &mut Sha256,
                          in_leaf: &mut u64,
                          leaves: &mut Vec<Hash256>,
                          ok: bool| {
            if *in_leaf > 0 {
                leaves.push(leaf.finalize_reset().into());
                *in_leaf = 0;
            }
            let sha1 = self.want.sha1.then(|| hasher.finalize_reset().into());
            let digest = PieceDigest {
                sha1,
                leaves: std::mem::take(leaves),
            };
            out.push(ok.then_some(digest));
        };
        while pos < end {
            let span_end = self.offsets[index] + self.spans[index].length;
            if pos >= span_end {
                index += 1;
                continue;
            }
            let n = (CHUNK as u64).min(end - pos).min(span_end - pos) as usize;
            let good = self.read(index, pos - self.offsets[index], &mut buf[..n], &mut open)?;
            let is_data = self.want.leaves && self.spans[index].path.is_some();
            let mut data = &buf[..n];
            let mut used = 0;
            while !data.is_empty() {
                let take = data.len().min((self.piece_length - in_piece) as usize);
                if self.want.sha1 {
                    hasher.update(&data[..take]);
                }
                if is_data {
                    let mut rest = &data[..take];
                    while !rest.is_empty() {
                        let k = rest.len().min((BLOCK_SIZE - in_leaf) as usize);
                        leaf.update(&rest[..k]);
                        in_leaf += k as u64;
                        rest = &rest[k..];
                        if in_leaf == BLOCK_SIZE {
                            leaves.push(leaf.finalize_reset().into());
                            in_leaf = 0;
                        }
                    }
                }
                in_piece += take as u64;
                used += take;
                piece_ok &= used <= good;
                data = &data[take..];
                if in_piece == self.piece_length {
                    finish(&mut hasher, &mut leaf, &mut in_leaf, &mut leaves, piece_ok);
                    in_piece = 0;
                    piece_ok = true;
                }
            }
            pos += n as u64;
            let done = self.done.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
            (self.progress)(done, self.total);
        }
        if in_piece > 0 {
            finish(&mut hasher, &mut leaf, &mut in_leaf, &mut leaves, piece_ok);
        }
        Ok(out)
    }

    /// Fills `buf` from span `index` at `offset`; returns how many leading bytes are real data.
    /// Fewer than `buf.len()` only in non-strict mode, when the file is missing, short or
    /// unreadable: the rest of the buffer is then zeros.
    fn read(
        &self,
        index: usize,
        offset: u64,
        buf: &mut [u8],
        open: &mut Option<Open>,
    ) -> Result<usize> {
        let Some(path) = &self.spans[index].path else {
            buf.fill(0);
            return Ok(buf.len());
        };
        if open.as_ref().map(|o| o.index) != Some(index) {
            *open = Some(Open {
                index,
                file: match File::open(path) {
                    Ok(f) => Some(f),
                    Err(e) if self.strict => return Err(Error::io(path, e)),
                    Err(_) => None,
                },
                position: 0,
            });
        }
        let Some(o) = open.as_mut() else {
            return Ok(0);
        };
        let Some(file) = o.file.as_mut() else {
            buf.fill(0);
            return Ok(0);
        };
        let result = (|| {
            if o.position != offset {
                file.seek(SeekFrom::Start(offset))?;
                o.position = offset;
            }
            let mut filled = 0;
            while filled < buf.len() {
                match file.read(&mut buf[filled..]) {
                    Ok(0) => break,
                    Ok(k) => filled += k,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            o.position += filled as u64;
            Ok(filled)
        })();
        match result {
            Ok(filled) if filled == buf.len() => Ok(filled),
            Ok(filled) if self.strict => Err(Error::io(
                path,
                std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!(
                        "file ended at byte {} but {} bytes were expected (did it change while hashing?)",
                        offset + filled as u64,
                        self.spans[index].length
                    ),
                ),
            )),
            Err(e) if self.strict => Err(Error::io(path, e)),
            Ok(filled) => {
                buf[filled..].fill(0);
                o.file = None;
                Ok(filled)
            }
            Err(_) => {
                buf.fill(0);
                o.file = None;
                Ok(0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn sha1(data: &[u8]) -> [u8; 20] {
        Sha1::digest(data).into()
    }

    #[test]
    fn pieces_span_files_and_threads_agree() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let cuts = [0usize, 10, 10, 40_000, 40_001, 99_999, 100_000];
        let mut spans = Vec::new();
        for (i, w) in cuts.windows(2).enumerate() {
            let path = dir.path().join(format!("f{i}"));
            std::fs::File::create(&path)
                .unwrap()
                .write_all(&data[w[0]..w[1]])
                .unwrap();
            spans.push(Span {
                path: Some(path),
                length: (w[1] - w[0]) as u64,
            });
        }
        let expected: Vec<Option<[u8; 20]>> = data.chunks(16384).map(|c| Some(sha1(c))).collect();
        for threads in [1, 2, 3, 7, 64] {
            for job_bytes in [1, 16384, 40_000, JOB_BYTES] {
                let got = hash_pieces_in_jobs(&spans, 16384, threads, true, &|_, _| {}, job_bytes)
                    .unwrap();
                assert_eq!(
                    got, expected,
                    "threads = {threads}, job_bytes = {job_bytes}"
                );
            }
        }
    }

    #[test]
    fn missing_and_short_files_fail_only_their_pieces() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::fs::write(&a, vec![1u8; 32768]).unwrap();
        let short = dir.path().join("short");
        std::fs::write(&short, vec![2u8; 100]).unwrap();
        let spans = vec![
            Span {
                path: Some(a.clone()),
                length: 32768,
            },
            Span {
                path: None,
                length: 16384,
            },
            Span {
                path: Some(dir.path().join("missing")),
                length: 16384,
            },
            Span {
                path: Some(short.clone()),
                length: 16384,
            },
        ];
        let got = hash_pieces_in_jobs(&spans, 16384, 2, false, &|_, _| {}, 16384).unwrap();
        assert_eq!(got.len(), 5);
        assert_eq!(got[0], Some(sha1(&[1u8; 16384])));
        assert_eq!(got[1], Some(sha1(&[1u8; 16384])));
        assert_eq!(got[2], Some(sha1(&[0u8; 16384])));
        assert_eq!(got[3], None);
        assert_eq!(got[4], None);
        let err = hash_pieces(&spans, 16384, 2, true, &|_, _| {}).unwrap_err();
        assert!(err.to_string().contains("missing"), "{err}");
    }

    #[test]
    fn progress_reaches_the_total() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::fs::write(&a, vec![9u8; 3 * CHUNK + 5]).unwrap();
        let spans = vec![Span {
            path: Some(a),
            length: 3 * CHUNK as u64 + 5,
        }];
        let max = AtomicU64::new(0);
        hash_pieces(&spans, 1 << 20, 2, true, &|done, total| {
            assert_eq!(total, 3 * CHUNK as u64 + 5);
            max.fetch_max(done, Ordering::Relaxed);
        })
        .unwrap();
        assert_eq!(max.into_inner(), 3 * CHUNK as u64 + 5);
    }
}
