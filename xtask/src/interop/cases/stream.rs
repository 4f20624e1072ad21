//! Case `libtorrent-seed-bt-stream`: a libtorrent seed capped at 4 MiB/s holds a 256 MiB file
//! and a test video made by ffmpeg; `bt stream` serves them over HTTP. Checked with curl and
//! ffprobe: `bytes=0-1` is 2 bytes, a suffix range is the tail, a range past the end is 416,
//! the last 1 MiB of the 256 MiB file comes within seconds having fetched only its pieces, a
//! read at 90 % fetches nothing between the first window and it, ffprobe reads the video's
//! duration from the URL before the download ends, and a full GET of the video equals it.
//!
//! [`Big`] (the data, the torrent and the capped seed) is shared with the mount and SQLite cases.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context as _};

use super::peer_clients::libtorrent_with;
use super::tracker_swarm::BtTracker;
use super::Case;
use crate::interop::context::Ctx;
use crate::interop::process::Managed;
use crate::interop::python::CREATE_TORRENT;
use crate::interop::{data, packages};

pub(super) const CASE: Case = Case {
    name: "libtorrent-seed-bt-stream",
    about: "bt stream over HTTP from a 4 MiB/s libtorrent seed: ranges, tail in seconds, ffprobe, full GET",
    timeout: Duration::from_secs(150),
    run,
};

/// The big file's length: 256 MiB.
pub(super) const BIG_LEN: u64 = 256 << 20;
/// The seed's upload cap.
pub(super) const SEED_RATE: u64 = 4 << 20;
/// Piece length of the torrent.
pub(super) const PIECE: u64 = 256 << 10;
const MIB: u64 = 1 << 20;

/// The shared setup: a tracker, `data/big.bin` (256 MiB) and optionally `data/video.mp4`, a
/// libtorrent torrent of `data/`, and a libtorrent seed of it capped at 4 MiB/s.
pub(super) struct Big {
    pub(super) data: PathBuf,
    pub(super) torrent: PathBuf,
    tracker: BtTracker,
    _seed: Managed,
}

impl Big {
    /// The tracker's announce URL.
    pub(super) fn tracker_url(&self) -> String {
        format!("http://{}/announce", self.tracker.addr)
    }

    pub(super) fn start(ctx: &Ctx, with_video: bool) -> anyhow::Result<Big> {
        let tracker = BtTracker::start(
            ctx,
            "bt-tracker",
            &["--interval", "5", "--min-interval", "1"],
        )?;
        let data = ctx.path("data");
        data::write_file(&data.join("big.bin"), BIG_LEN, 19)?;
        if with_video {
            packages::require(&[("ffmpeg", "ffmpeg")])?;
            // ffmpeg's test source, 20 s of 720p intra frames (about 17 MB, more than the 8 MiB
            // readahead), moov atom at the end as the mp4 muxer writes it: a player reads the
            // head, then the tail.
            ctx.spawn("ffmpeg", "ffmpeg")
                .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
                .arg("testsrc=duration=20:size=1280x720:rate=25")
                .args(["-c:v", "mpeg4", "-g", "1", "-q:v", "1"])
                .arg(data.join("video.mp4"))
                .run(ctx.deadline())?;
        }
        let torrent = ctx.path("stream.torrent");
        let url = format!("http://{}/announce", tracker.addr);
        // With the video, a torrent of the directory; without, of the one file.
        let (source, save) = if with_video {
            (data.clone(), ctx.path(""))
        } else {
            (data.join("big.bin"), data.clone())
        };
        CREATE_TORRENT.run(
            ctx,
            "create-torrent",
            [
                "--piece-size".as_ref(),
                PIECE.to_string().as_ref(),
                "--tracker".as_ref(),
                url.as_ref(),
                "--v1-only".as_ref(),
                source.as_os_str(),
                torrent.as_os_str(),
            ],
        )?;
        let rate = SEED_RATE.to_string();
        let seed = libtorrent_with(
            ctx,
            "lt-seed",
            &[&torrent],
            &save,
            true,
            &["--upload-rate", &rate],
        )?;
        Ok(Big {
            data,
            torrent,
            tracker,
            _seed: seed,
        })
    }
}

/// `bt stream` of the torrent into `dir`; returns it and its index URL once it prints the URLs.
pub(super) fn bt_stream(
    ctx: &Ctx,
    torrent: &Path,
    dir: &Path,
    extra: &[&str],
) -> anyhow::Result<(Managed, String)> {
    let mut bt = ctx
        .spawn("bt-stream", ctx.bt()?)
        .arg("stream")
        .arg(torrent)
        .arg("--output")
        .arg(dir)
        .args([
            "--listen",
            "127.0.0.1:0",
            "--port",
            "0",
            "--bind",
            "127.0.0.1",
        ])
        .arg("--json")
        .args(extra)
        .start()?;
    let line = bt.wait_for_line("streaming on http://", ctx.deadline())?;
    let url = line
        .split("streaming on ")
        .nth(1)
        .context("the streaming line")?
        .trim()
        .to_owned();
    Ok((bt, url))
}

/// `curl` with `args`, its body as bytes.
fn curl(ctx: &Ctx, name: &str, args: &[&str]) -> anyhow::Result<Vec<u8>> {
    ctx.spawn(name, "curl")
        .args(["-s", "-S", "--max-time", "60"])
        .args(args)
        .run(ctx.deadline())
}

/// The `/status` JSON of the server at `base` (ends with `/`).
fn status(ctx: &Ctx, base: &str) -> anyhow::Result<serde_json::Value> {
    let body = curl(ctx, "curl-status", &[&format!("{base}status")])?;
    serde_json::from_slice(&body).context("/status is not JSON")
}

/// The verified pieces from `/status`' `have_runs`.
fn verified(status: &serde_json::Value) -> Vec<u64> {
    let mut out = Vec::new();
    for run in status["have_runs"].as_array().into_iter().flatten() {
        let (a, b) = (run[0].as_u64().unwrap_or(0), run[1].as_u64().unwrap_or(0));
        out.extend(a..=b);
    }
    out
}

/// The URL and offset in the torrent's data of the file whose path ends with `name`.
fn file_of(status: &serde_json::Value, base: &str, name: &str) -> anyhow::Result<(String, u64)> {
    let f = status["files"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["path"].as_str().is_some_and(|p| p.ends_with(name)))
        .with_context(|| format!("/status lists no {name}: {status}"))?;
    let url = format!(
        "{}{}",
        base.trim_end_matches('/'),
        f["url"].as_str().unwrap_or_default()
    );
    Ok((url, f["offset"].as_u64().unwrap_or(0)))
}

fn run(ctx: &Ctx) -> anyhow::Result<()> {
    packages::require(&[("curl", "curl"), ("ffprobe", "ffmpeg")])?;
    let big = Big::start(ctx, true)?;
    let want = std::fs::read(big.data.join("big.bin"))?;
    let video = std::fs::read(big.data.join("video.mp4"))?;
    let (mut bt, base) = bt_stream(ctx, &big.torrent, &ctx.path("bt-stream"), &[])?;
    let st = status(ctx, &base)?;
    let (big_url, big_off) = file_of(&st, &base, "big.bin")?;
    let (video_url, video_off) = file_of(&st, &base, "video.mp4")?;
    let pieces = st["pieces"].as_u64().unwrap_or(0);

    // 1. The last 1 MiB, cold: the right bytes within seconds, only its pieces fetched (the
    // readahead window ends at the end of the file).
    let started = Instant::now();
    let range = format!("{}-{}", BIG_LEN - MIB, BIG_LEN - 1);
    let tail = curl(ctx, "curl-last-mib", &["-f", "-r", &range, &big_url])?;
    let took = started.elapsed();
    ensure!(
        tail == want[(BIG_LEN - MIB) as usize..],
        "the last 1 MiB differs ({} bytes)",
        tail.len()
    );
    ensure!(
        took < Duration::from_secs(10),
        "the last 1 MiB took {took:?}"
    );
    let first_tail = (big_off + BIG_LEN - MIB) / PIECE;
    let last_tail = (big_off + BIG_LEN - 1) / PIECE;
    let have = verified(&status(ctx, &base)?);
    ensure!(
        have.iter().all(|p| (first_tail..=last_tail).contains(p)),
        "after the last 1 MiB, pieces outside {first_tail}..={last_tail} were fetched: {have:?}"
    );
    ctx.note(format!(
        "last 1 MiB of 256 MiB in {:.2} s, {} pieces fetched (covering: {})",
        took.as_secs_f64(),
        have.len(),
        last_tail - first_tail + 1
    ));

    // 2. bytes=0-1 is exactly 2 bytes; a suffix range is the tail; past the end is 416.
    let two = curl(ctx, "curl-0-1", &["-f", "-r", "0-1", &big_url])?;
    ensure!(two == want[..2], "bytes=0-1 gave {two:?}");
    let suffix = curl(
        ctx,
        "curl-suffix",
        &["-f", "-H", "Range: bytes=-1000", &big_url],
    )?;
    ensure!(
        suffix == want[want.len() - 1000..],
        "bytes=-1000 is not the tail"
    );
    let code = curl(
        ctx,
        "curl-416",
        &[
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-r",
            &format!("{BIG_LEN}-"),
            &big_url,
        ],
    )?;
    ensure!(
        code == b"416",
        "a range past the end gave {}",
        String::from_utf8_lossy(&code)
    );
    let head = curl(ctx, "curl-head", &["-f", "-I", &video_url])?;
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    for h in [
        "accept-ranges: bytes",
        "content-type: video/mp4",
        &format!("content-length: {}", video.len()),
    ] {
        ensure!(head.contains(h), "HEAD lacks `{h}`: {head}");
    }

    // 3. A read at 90 %: nothing between the first window (8 MiB readahead) and it.
    let at = BIG_LEN / 10 * 9;
    let mid = curl(
        ctx,
        "curl-90",
        &["-f", "-r", &format!("{at}-{}", at + MIB - 1), &big_url],
    )?;
    ensure!(
        mid == want[at as usize..(at + MIB) as usize],
        "the 1 MiB at 90 % differs"
    );
    let window_end = (big_off + 8 * MIB) / PIECE + 2;
    let read_start = (big_off + at) / PIECE;
    let have = verified(&status(ctx, &base)?);
    let between: Vec<u64> = have
        .iter()
        .copied()
        .filter(|p| (window_end..read_start).contains(p))
        .collect();
    ensure!(
        between.is_empty(),
        "pieces between the first window and the read at 90 % were fetched: {between:?}"
    );

    // 4. ffprobe reads the video's duration from the URL before the download ends.
    let probe = ctx
        .spawn("ffprobe", "ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "csv=p=0",
        ])
        .arg(&video_url)
        .run(ctx.deadline())?;
    let duration: f64 = String::from_utf8_lossy(&probe)
        .trim()
        .parse()
        .with_context(|| format!("ffprobe printed {:?}", String::from_utf8_lossy(&probe)))?;
    ensure!(
        (duration - 20.0).abs() < 0.5,
        "ffprobe read a duration of {duration} s"
    );
    let now = status(ctx, &base)?;
    let have_now = now["have"].as_u64().unwrap_or(0);
    let video_pieces = (video_off / PIECE)..=((video_off + video.len() as u64 - 1) / PIECE);
    let video_have = verified(&now)
        .iter()
        .filter(|p| video_pieces.contains(p))
        .count() as u64;
    let video_all = video_pieces.end() - video_pieces.start() + 1;
    ensure!(
        video_have < video_all,
        "the video was all downloaded ({video_have}/{video_all} pieces) before ffprobe finished"
    );
    ctx.note(format!(
        "ffprobe read {duration} s with {video_have}/{video_all} of the video's pieces ({have_now}/{pieces} in all)"
    ));

    // 5. A full GET of the video equals it.
    let full = curl(ctx, "curl-full", &["-f", &video_url])?;
    ensure!(
        full == video,
        "GET of the video differs ({} of {} bytes)",
        full.len(),
        video.len()
    );

    bt.signal("INT")?;
    let exit = bt.wait_exit(ctx.deadline())?;
    if !exit.success() {
        bail!("bt stream exited {exit}{}", bt.stderr_tail());
    }
    let out = bt.stdout()?;
    let json_line = String::from_utf8_lossy(&out)
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .map(str::to_owned)
        .context("bt stream printed no JSON summary")?;
    let summary: serde_json::Value = serde_json::from_str(&json_line)?;
    ensure!(summary["ended"] == "signal", "summary: {summary}");
    ctx.note(format!(
        "bt stream fetched {} of {} pieces",
        summary["pieces_fetched"], summary["pieces"]
    ));
    Ok(())
}
