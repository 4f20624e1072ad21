//! `v2-bad-block`: a bad block of a v2 torrent is identified, not only a bad piece. libtorrent
//! seeds a v2-only torrent beside a bad `bt seed` whose copy has one 16 KiB block of each of
//! many pieces spoiled (it trusts its resume file, so it serves them as good). `bt download -v`
//! must finish intact; every bad block its log names must be one the bad seed spoiled, named
//! against the bad seed; and it must fetch no more than the torrent plus one block per bad
//! block it reported (and its endgame duplicates): no failed piece fetched whole again.
//!
//! The bad seed listens on 127.0.0.2 and announces that address (`--ip`, the tracker runs with
//! `--trust-ip-param`): bans are by IP, and libtorrent is on 127.0.0.1.

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context as _};

use super::peer_clients::{bt_finished, libtorrent, Swarm, DATA_LEN, FILE};
use super::{Case, DEFAULT_TIMEOUT};
use crate::interop::context::Ctx;

pub(super) const CASE: Case = Case {
    name: "v2-bad-block",
    about: "libtorrent + a bad bt seed (spoiled blocks) of a v2 torrent -> bt download names \
            each bad block and refetches only those",
    timeout: DEFAULT_TIMEOUT,
    run,
};

const BLOCK: u64 = 16 * 1024;
const PIECE: u64 = 256 * 1024;
/// Pieces with one spoiled block each: block `p % 16` of piece `p`.
const SPOILED: u64 = 16;

fn run(ctx: &Ctx) -> anyhow::Result<()> {
    let swarm = Swarm::new_v2_with(ctx, false, &["--trust-ip-param"])?;
    let bad_dir = ctx.path("bad-seed");
    std::fs::create_dir_all(&bad_dir)?;
    std::fs::copy(swarm.seed_dir.join(FILE), bad_dir.join(FILE))?;
    write_resume(ctx, &swarm, &bad_dir)?;
    let spoiled = spoil(&bad_dir.join(FILE))?;
    let mut bad = ctx
        .spawn("bt-bad-seed", ctx.bt()?)
        .arg("seed")
        .arg(&swarm.torrent)
        .arg(bad_dir.join(FILE))
        .args(["--trust-resume", "--port", "0", "--bind", "127.0.0.2"])
        .args(["--ip", "127.0.0.2"])
        .start()?;
    bad.wait_for_line("listening for peers", ctx.deadline())?;
    swarm.wait_seeds(ctx, 1, "the bad bt seed")?;
    let lt = libtorrent(ctx, "lt-seed", &swarm, &swarm.seed_dir, true)?;
    swarm.wait_seeds(ctx, 2, "the bad bt seed and the libtorrent seed")?;

    let dir = ctx.path("bt-download");
    let mut bt = ctx
        .spawn("bt-download", ctx.bt()?)
        .args(["-v", "download"])
        .arg(&swarm.torrent)
        .arg("--output")
        .arg(&dir)
        .args([
            "--port",
            "0",
            "--bind",
            "127.0.0.1",
            "--json",
            "--seed-time",
            "0",
        ])
        .start()?;
    let summary = bt_finished(ctx, &mut bt)?;
    if summary["complete"] != true {
        bail!("bt download ended incomplete: {summary}");
    }
    swarm.check_copy(&dir, "bt download")?;
    let log = String::from_utf8_lossy(&bt.stderr()?).into_owned();
    let reports = bad_block_reports(&log)?;
    if reports.is_empty() {
        bail!("bt download named no bad block{}", bt.stderr_tail());
    }
    for (peer, piece, offset) in &reports {
        if !peer.starts_with("127.0.0.2:") {
            bail!("a bad block (piece {piece} offset {offset}) was charged to {peer}, not the bad seed");
        }
        if !spoiled.contains(&(*piece, *offset)) {
            bail!("piece {piece} offset {offset} was named bad, but the bad seed did not spoil it");
        }
    }
    let downloaded = summary["downloaded"].as_u64().unwrap_or(u64::MAX);
    let duplicates = summary["duplicates"].as_u64().unwrap_or(0);
    // On the wire a v2 file is padded to a whole piece: the torrent is its pieces.
    let pieces = summary["pieces"].as_u64().unwrap_or(0);
    let size = pieces * PIECE;
    let most = size + reports.len() as u64 * BLOCK;
    let forged = log.matches("forged hashes").count();
    let banned = log
        .lines()
        .any(|l| l.contains("127.0.0.2") && l.contains("banned"));
    ctx.note(format!(
        "{} bad blocks named against the bad seed ({} forged-leaves replies, banned: {banned}); \
         fetched {downloaded} bytes ({duplicates} endgame duplicates) for {size} ({DATA_LEN} of \
         file data), at most {most} allowed",
        reports.len(),
        forged
    ));
    if downloaded.saturating_sub(duplicates) > most {
        bail!(
            "bt download fetched {downloaded} bytes ({duplicates} duplicates) for a {size}-byte \
             torrent and {} bad blocks: more than one block per bad block",
            reports.len()
        );
    }
    drop(lt);
    drop(bad);
    Ok(())
}

/// Seeds `dir`'s good copy once with `bt seed` and stops it, so that it leaves a resume file
/// listing every piece; the spoiled copy then passes as good with `--trust-resume`.
fn write_resume(ctx: &Ctx, swarm: &Swarm, dir: &Path) -> anyhow::Result<()> {
    let mut first = ctx
        .spawn("bt-good-seed", ctx.bt()?)
        .arg("seed")
        .arg(&swarm.torrent)
        .arg(dir.join(FILE))
        .args(["--port", "0", "--bind", "127.0.0.2"])
        .start()?;
    first.wait_for_line("listening for peers", ctx.deadline())?;
    first.signal("INT")?;
    let status = first.wait_exit(ctx.deadline_in(Duration::from_secs(30)))?;
    let resume = resume_file(dir)?;
    if resume.is_none() {
        bail!(
            "bt seed ({status}) left no resume file in {}{}",
            dir.display(),
            first.stderr_tail()
        );
    }
    Ok(())
}

fn resume_file(dir: &Path) -> anyhow::Result<Option<std::path::PathBuf>> {
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.file_name()
            .is_some_and(|n| n.to_string_lossy().ends_with("bt-resume"))
        {
            return Ok(Some(p));
        }
    }
    Ok(None)
}

/// Flips a byte in block `p % 16` of each of the first [`SPOILED`] pieces of `file`, keeping
/// its modification time (the resume file is trusted only while size and mtime match).
/// Returns each spoiled (piece, offset in piece).
fn spoil(file: &Path) -> anyhow::Result<Vec<(u64, u64)>> {
    use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
    let mtime = std::fs::metadata(file)?.modified()?;
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(file)?;
    let mut out = Vec::new();
    for p in 0..SPOILED {
        let offset = (p % (PIECE / BLOCK)) * BLOCK;
        let at = p * PIECE + offset + 100;
        let mut b = [0u8; 1];
        f.seek(SeekFrom::Start(at))?;
        f.read_exact(&mut b)?;
        b[0] ^= 0xff;
        f.seek(SeekFrom::Start(at))?;
        f.write_all(&b)?;
        out.push((p, offset));
    }
    f.set_modified(mtime)
        .with_context(|| format!("restoring the mtime of {}", file.display()))?;
    f.sync_all()?;
    Ok(out)
}

/// Every "bad block" line of the log: (peer, piece, offset).
fn bad_block_reports(log: &str) -> anyhow::Result<Vec<(String, u64, u64)>> {
    let mut out = Vec::new();
    for line in log.lines().filter(|l| l.contains(": bad block: piece ")) {
        let parse = || -> Option<(String, u64, u64)> {
            let peer = line.split("peer ").nth(1)?.split(": bad block").next()?;
            let rest = line.split("bad block: piece ").nth(1)?;
            let mut words = rest.split_whitespace();
            let piece = words.next()?.parse().ok()?;
            let _ = words.next()?; // "offset"
            let offset = words.next()?.parse().ok()?;
            Some((peer.to_string(), piece, offset))
        };
        out.push(parse().with_context(|| format!("reading the log line {line:?}"))?);
    }
    Ok(out)
}
