//! Case `launch-many`: `bt launch-many` serves a directory of 20 torrents (most of 3 to 5 files):
//! 10 complete locally, 5 seeded by libtorrent and 5 by aria2c, peers found through `bt tracker`.
//! Every copy ends intact, the process never holds more open data files than `--max-open-files`
//! (sampled from `/proc/PID/fd` throughout), a .torrent copied into the directory later starts and
//! finishes, a deleted one stops and leaves the tracker, and SIGINT ends it all with exit status 0,
//! stopped announces and resume files saved.

use std::collections::BTreeSet;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use regex_lite::Regex;

use super::peer_clients::{aria2_of, libtorrent_of};
use super::tracker_swarm::BtTracker;
use super::Case;
use crate::interop::context::Ctx;
use crate::interop::process::{signal_pid, Managed, POLL};
use crate::interop::python::INFOHASH;
use crate::interop::{data, hex};

pub(super) const CASE: Case = Case {
    name: "launch-many",
    about: "bt launch-many: 20 torrents (10 local, 5 libtorrent, 5 aria2c seeds) finish under \
            an open-file cap; one added and one removed while it runs",
    timeout: Duration::from_secs(120),
    run,
};

/// `--max-open-files`: below the file count of most torrents, so the cache must evict.
const MAX_OPEN_FILES: usize = 4;
/// `--rescan`: long, so a torrent that starts within [`WATCH_WITHIN`] was seen by the watcher.
const RESCAN_SECS: u64 = 60;
const WATCH_WITHIN: Duration = Duration::from_secs(10);
/// `bt make -l 15`: 32 KiB pieces, so pieces straddle files.
const PIECE_EXP: &str = "15";
/// How often the sampler reads `/proc/PID/fd`.
const FD_SAMPLE: Duration = Duration::from_millis(10);
/// The states a status-table row shows.
const STATES: &[&str] = &["checking", "downloading", "seeding", "paused", "error"];
/// The torrent added while `bt launch-many` runs (seeded by libtorrent from the start).
const LATE: &str = "lt-late";
/// The torrent removed while it runs (complete locally, so `bt` is its only seed).
const REMOVED: &str = "local-00";

/// Who holds a torrent's data when the case starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// Complete in the output directory: `bt` seeds it.
    Local,
    /// Seeded by the libtorrent process.
    Libtorrent,
    /// Seeded by the aria2c process.
    Aria2,
}

/// One torrent of the case.
#[derive(Debug)]
struct Item {
    /// The torrent's name (its directory, or its file for a single-file torrent).
    name: String,
    origin: Origin,
    /// Data files relative to the data root, with their lengths.
    files: Vec<(PathBuf, u64)>,
    /// Where its original data lives (a directory holding `name`).
    source: PathBuf,
    /// Its .torrent, once made.
    torrent: PathBuf,
    hash: [u8; 20],
}

impl Item {
    /// Torrent number `n` of the case, named `name`: a single file when `single`, else 3 to 5
    /// files, one in a subdirectory; 30 to 130 KB each.
    fn new(n: u64, name: String, origin: Origin, source: PathBuf, single: bool) -> Item {
        let size = |k: u64| 30_000 + (n * 7_919 + k * 104_729) % 100_000;
        let files = if single {
            vec![(PathBuf::from(&name), size(0))]
        } else {
            let count = 3 + n % 3;
            (0..count)
                .map(|k| {
                    let file = if k == 1 {
                        format!("sub/part-{k}.bin")
                    } else {
                        format!("part-{k}.bin")
                    };
                    (Path::new(&name).join(file), size(k))
                })
                .collect()
        };
        Item {
            name,
            origin,
            files,
            source,
            torrent: PathBuf::new(),
            hash: [0; 20],
        }
    }

    fn bytes(&self) -> u64 {
        self.files.iter().map(|(_, len)| len).sum()
    }

    /// Writes the original data, deterministic per torrent and file.
    fn write(&self, n: u64) -> anyhow::Result<()> {
        for (k, (rel, len)) in self.files.iter().enumerate() {
            data::write_file(&self.source.join(rel), *len, 7_000 + n * 16 + k as u64)?;
        }
        Ok(())
    }

    /// Whether the copy under `out` equals the original, file by file.
    fn intact_in(&self, out: &Path) -> anyhow::Result<bool> {
        for (rel, _) in &self.files {
            let want = std::fs::read(self.source.join(rel))
                .with_context(|| format!("reading {}", self.source.join(rel).display()))?;
            match std::fs::read(out.join(rel)) {
                Ok(got) if got == want => {}
                _ => return Ok(false),
            }
        }
        Ok(true)
    }
}

fn run(ctx: &Ctx) -> anyhow::Result<()> {
    let bt_bin = ctx.bt()?;
    let started = Instant::now();
    let tracker = BtTracker::start(
        ctx,
        "bt-tracker",
        &["--interval", "5", "--min-interval", "1"],
    )?;
    let url = format!("http://{}/announce", tracker.addr);

    // The data: originals in one directory per origin; torrents made of each with bt make-each.
    let (local_src, lt_dir, aria_dir) = (
        ctx.path("local-src"),
        ctx.path("lt-seed"),
        ctx.path("aria2-seed"),
    );
    let mut items = Vec::new();
    for j in 0..10 {
        let single = j % 5 == 4;
        let name = if single {
            format!("local-{j:02}.bin")
        } else {
            format!("local-{j:02}")
        };
        items.push(Item::new(j, name, Origin::Local, local_src.clone(), single));
    }
    for (origin, prefix, dir) in [
        (Origin::Libtorrent, "lt", &lt_dir),
        (Origin::Aria2, "aria", &aria_dir),
    ] {
        for j in 0..5 {
            let n = items.len() as u64;
            let single = j == 4;
            let name = if single {
                format!("{prefix}-{j:02}.bin")
            } else {
                format!("{prefix}-{j:02}")
            };
            items.push(Item::new(n, name, origin, dir.clone(), single));
        }
    }
    let n = items.len() as u64;
    items.push(Item::new(
        n,
        LATE.to_owned(),
        Origin::Libtorrent,
        lt_dir.clone(),
        false,
    ));
    for (n, item) in items.iter().enumerate() {
        item.write(n as u64)?;
    }
    let (watch_dir, spare_dir, out) = (ctx.path("torrents"), ctx.path("spare"), ctx.path("out"));
    for dir in [&watch_dir, &spare_dir, &out] {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    for (label, dir) in [("local", &local_src), ("lt", &lt_dir), ("aria2", &aria_dir)] {
        ctx.spawn(&format!("bt-make-each-{label}"), bt_bin)
            .args(["make-each", "-l", PIECE_EXP, "-t", &url])
            .arg(dir)
            .run(ctx.deadline())?;
    }
    for item in &mut items {
        let made = item.source.join(format!("{}.torrent", item.name));
        let home = if item.name == LATE {
            &spare_dir
        } else {
            &watch_dir
        };
        item.torrent = home.join(format!("{}.torrent", item.name));
        std::fs::rename(&made, &item.torrent)
            .with_context(|| format!("moving {} into {}", made.display(), home.display()))?;
    }
    let hashes = INFOHASH.run(ctx, "infohash", items.iter().map(|i| &i.torrent))?;
    let hashes: Vec<&str> = hashes.lines().collect();
    if hashes.len() != items.len() {
        bail!(
            "infohash.py printed {} hashes for {} torrents",
            hashes.len(),
            items.len()
        );
    }
    for (item, hash) in items.iter_mut().zip(hashes) {
        item.hash = hex::decode20(hash.trim()).context("infohash.py output")?;
    }
    for item in items.iter().filter(|i| i.origin == Origin::Local) {
        for (rel, _) in &item.files {
            let to = out.join(rel);
            std::fs::create_dir_all(to.parent().unwrap_or(&out))?;
            std::fs::copy(item.source.join(rel), &to)
                .with_context(|| format!("copying the local data to {}", to.display()))?;
        }
    }
    let total: u64 = items.iter().map(Item::bytes).sum();
    let files: usize = items.iter().map(|i| i.files.len()).sum();
    ctx.note(format!(
        "made {} torrents ({files} files, {total} bytes) in {:.1} s",
        items.len(),
        started.elapsed().as_secs_f64()
    ));

    // The external seeds, each one process for all its torrents.
    let of = |origin| -> Vec<&Path> {
        items
            .iter()
            .filter(|i| i.origin == origin)
            .map(|i| i.torrent.as_path())
            .collect()
    };
    let _lt = libtorrent_of(ctx, "lt-seed", &of(Origin::Libtorrent), &lt_dir, true)?;
    let _aria = aria2_of(ctx, "aria2-seed", &of(Origin::Aria2), &aria_dir, true)?;
    for item in items.iter().filter(|i| i.origin != Origin::Local) {
        let who = format!("the seed of {}", item.name);
        tracker.wait_counts(ctx, &item.hash, &who, |(s, _)| s >= 1, ctx.deadline())?;
    }
    ctx.note(format!(
        "libtorrent and aria2c seed and have announced ({:.1} s)",
        started.elapsed().as_secs_f64()
    ));

    let mut bt = ctx
        .spawn("bt-launch-many", bt_bin)
        .arg("launch-many")
        .arg(&watch_dir)
        .arg("--output")
        .arg(&out)
        .args(["--port", "0", "--bind", "127.0.0.1", "--max-open-files"])
        .arg(MAX_OPEN_FILES.to_string())
        .args([
            "--rescan",
            &RESCAN_SECS.to_string(),
            "--status-interval",
            "1",
        ])
        .start()?;
    let pid = bt.program_pid(ctx.deadline())?;
    let out_real = out
        .canonicalize()
        .with_context(|| format!("resolving {}", out.display()))?;
    let fds = FdWatch::start(pid, out_real)?;
    let result = drive(ctx, &tracker, &mut bt, pid, &items, &watch_dir, &out);
    let peak = fds.stop();
    result?;
    ctx.note(format!(
        "open data files: at most {} at once (cap {MAX_OPEN_FILES}) over {} samples of /proc/{pid}/fd, \
         {} of them with a data file open",
        peak.max, peak.samples, peak.busy
    ));
    if peak.max > MAX_OPEN_FILES {
        bail!(
            "bt launch-many held {} data files open at once, above --max-open-files {MAX_OPEN_FILES}:\n    {}",
            peak.max,
            peak.at_max.join("\n    ")
        );
    }
    if peak.busy == 0 {
        bail!(
            "the sampler never saw bt launch-many hold a data file open in {} samples: it measured nothing",
            peak.samples
        );
    }
    ctx.note(format!(
        "whole case {:.1} s",
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// Everything from `bt launch-many`'s start to its exit.
fn drive(
    ctx: &Ctx,
    tracker: &BtTracker,
    bt: &mut Managed,
    pid: u32,
    items: &[Item],
    watch_dir: &Path,
    out: &Path,
) -> anyhow::Result<()> {
    let line = bt.wait_for_line("listening for peers on", ctx.deadline())?;
    let launched = Instant::now();
    let listen: SocketAddr = Regex::new(r"listening for peers on (\S+:\d+)")?
        .captures(&line)
        .and_then(|c| c[1].trim_end_matches([';', ',']).parse().ok())
        .with_context(|| format!("no ADDR:PORT in {line:?}"))?;
    let (first, rest): (Vec<&Item>, Vec<&Item>) = items.iter().partition(|i| i.name != LATE);
    let late = *rest.first().context("the case has no torrent to add")?;
    let names = |set: &[&Item]| set.iter().map(|i| i.name.clone()).collect::<Vec<_>>();
    wait_events(bt, "started", &names(&first), ctx.deadline())?;
    ctx.note(format!(
        "all {} torrents started ({:.1} s after launch)",
        first.len(),
        launched.elapsed().as_secs_f64()
    ));

    // All 20 finish: every copy intact, and each download announced as complete.
    let fetched: Vec<&Item> = first
        .iter()
        .copied()
        .filter(|i| i.origin != Origin::Local)
        .collect();
    wait_intact(ctx, bt, &first, out)?;
    wait_events(bt, "complete", &names(&first), ctx.deadline())?;
    for item in &first {
        handshake(listen, item).with_context(|| format!("{} on {listen}", item.name))?;
    }
    for item in first.iter().filter(|i| i.origin == Origin::Local) {
        let who = format!("bt seeding {}", item.name);
        tracker.wait_counts(ctx, &item.hash, &who, |(s, _)| s >= 1, ctx.deadline())?;
    }
    ctx.note(format!(
        "all {} torrents intact ({} downloaded from libtorrent and aria2c, {} seeded from local data) \
         {:.1} s after launch; each answers a handshake on {listen}",
        first.len(),
        fetched.len(),
        first.len() - fetched.len(),
        launched.elapsed().as_secs_f64()
    ));

    // Added while running: the watcher starts it, then it downloads.
    let added = watch_dir.join(format!("{LATE}.torrent"));
    std::fs::copy(&late.torrent, &added)
        .with_context(|| format!("copying {} into {}", LATE, watch_dir.display()))?;
    let t = Instant::now();
    wait_events(
        bt,
        "started",
        &names(&[late]),
        ctx.deadline_in(WATCH_WITHIN),
    )
    .with_context(|| {
        format!("{LATE}.torrent was copied in; the rescan is every {RESCAN_SECS} s")
    })?;
    let to_start = t.elapsed().as_secs_f64();
    wait_intact(ctx, bt, &[late], out)?;
    wait_events(bt, "complete", &names(&[late]), ctx.deadline())?;
    handshake(listen, late).with_context(|| format!("{LATE} on {listen}"))?;
    ctx.note(format!(
        "{LATE}.torrent copied in: started after {to_start:.2} s, intact after {:.2} s",
        t.elapsed().as_secs_f64()
    ));

    // Removed while running: it stops, leaves the tracker and the status table.
    let removed = first
        .iter()
        .find(|i| i.name == REMOVED)
        .context("the case has no torrent to remove")?;
    tracker.wait_counts(
        ctx,
        &removed.hash,
        "bt as the only seed",
        |c| c == (1, 0),
        ctx.deadline(),
    )?;
    let gone = watch_dir.join(format!("{REMOVED}.torrent"));
    std::fs::remove_file(&gone).with_context(|| format!("removing {}", gone.display()))?;
    let t = Instant::now();
    wait_events(
        bt,
        "stopped",
        &names(&[removed]),
        ctx.deadline_in(WATCH_WITHIN),
    )
    .with_context(|| {
        format!("{REMOVED}.torrent was deleted; the rescan is every {RESCAN_SECS} s")
    })?;
    let to_stop = t.elapsed().as_secs_f64();
    tracker.wait_counts(
        ctx,
        &removed.hash,
        "bt gone from the removed torrent",
        |c| c == (0, 0),
        ctx.deadline(),
    )?;
    let running: Vec<&Item> = items.iter().filter(|i| i.name != REMOVED).collect();
    wait_table_without(ctx, bt, &running, removed)?;
    if handshake(listen, removed).is_ok() {
        bail!("bt launch-many still answers handshakes for {REMOVED} on {listen} after it stopped");
    }
    handshake(listen, late)
        .with_context(|| format!("{LATE} on {listen}, after {REMOVED} stopped"))?;
    let text = String::from_utf8_lossy(&bt.stderr()?).into_owned();
    if let Some(row) = text
        .lines()
        .find(|l| find_word(l, "error") && items.iter().any(|i| is_row(l, &i.name)))
    {
        bail!("a status row shows an error: {row:?}");
    }
    ctx.note(format!(
        "{REMOVED}.torrent deleted: stopped after {to_stop:.2} s, gone from the tracker and the status table"
    ));
    if let Some(status) = bt.try_status()? {
        bail!(
            "bt launch-many exited ({status}) on its own{}",
            bt.stderr_tail()
        );
    }

    // SIGINT: exit 0, every torrent announced stopped, resume files saved.
    signal_pid(pid, "INT")?;
    let t = Instant::now();
    let status = bt.wait_exit(ctx.deadline_in(Duration::from_secs(20)))?;
    if !status.success() {
        bail!(
            "bt launch-many exited with {status} after SIGINT{}",
            bt.stderr_tail()
        );
    }
    let to_exit = t.elapsed().as_secs_f64();
    let missing: Vec<String> = running
        .iter()
        .map(|i| out.join(format!(".{}.bt-resume", i.name)))
        .filter(|p| !p.is_file())
        .map(|p| p.display().to_string())
        .collect();
    if !missing.is_empty() {
        bail!(
            "after SIGINT, {} resume files are missing: {}",
            missing.len(),
            missing.join(", ")
        );
    }
    let deadline = ctx.deadline_in(Duration::from_secs(10));
    for item in &running {
        let others = i64::from(item.origin != Origin::Local);
        let who = format!("bt's stopped announce for {}", item.name);
        tracker.wait_counts(ctx, &item.hash, &who, |c| c == (others, 0), deadline)?;
    }
    ctx.note(format!(
        "SIGINT: exit 0 after {to_exit:.2} s, {} resume files, every torrent announced stopped",
        running.len(),
    ));
    Ok(())
}

/// Waits until every torrent of `set` has an intact copy under `out`.
fn wait_intact(ctx: &Ctx, bt: &mut Managed, set: &[&Item], out: &Path) -> anyhow::Result<()> {
    let mut pending: Vec<&Item> = set.to_vec();
    loop {
        let mut still = Vec::new();
        for item in pending {
            if !item.intact_in(out)? {
                still.push(item);
            }
        }
        pending = still;
        if pending.is_empty() {
            return Ok(());
        }
        if let Some(status) = bt.try_status()? {
            bail!(
                "bt launch-many exited ({status}) before finishing {}{}",
                list(&pending),
                bt.stderr_tail()
            );
        }
        if Instant::now() >= ctx.deadline() {
            bail!(
                "bt launch-many never finished {} intact{}",
                list(&pending),
                bt.stderr_tail()
            );
        }
        std::thread::sleep(POLL * 10);
    }
}

/// A BitTorrent handshake for `item` on `addr`: the reply must carry the same info-hash.
fn handshake(addr: SocketAddr, item: &Item) -> anyhow::Result<()> {
    let limit = Duration::from_secs(3);
    let mut stream = TcpStream::connect_timeout(&addr, limit).context("connecting")?;
    stream.set_read_timeout(Some(limit))?;
    stream.set_write_timeout(Some(limit))?;
    let mut hello = Vec::with_capacity(68);
    hello.push(19);
    hello.extend_from_slice(b"BitTorrent protocol");
    hello.extend_from_slice(&[0; 8]);
    hello.extend_from_slice(&item.hash);
    hello.extend_from_slice(b"-TK0001-interop-lm00");
    stream.write_all(&hello).context("sending a handshake")?;
    let mut reply = [0; 68];
    stream
        .read_exact(&mut reply)
        .context("no handshake came back")?;
    if reply[..20] != hello[..20] || reply[28..48] != item.hash {
        bail!("the reply is not a handshake for its info-hash: {reply:?}");
    }
    Ok(())
}

fn list(items: &[&Item]) -> String {
    let names: Vec<&str> = items.iter().map(|i| i.name.as_str()).collect();
    format!("{} of them ({})", names.len(), names.join(", "))
}

/// Waits until standard error has a `VERB NAME` line for every name.
fn wait_events(
    bt: &mut Managed,
    verb: &str,
    names: &[String],
    deadline: Instant,
) -> anyhow::Result<()> {
    loop {
        let exited = bt.try_status()?;
        let text = String::from_utf8_lossy(&bt.stderr()?).into_owned();
        let missing: Vec<&str> = names
            .iter()
            .filter(|n| !text.lines().any(|l| event(l, verb, n)))
            .map(String::as_str)
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        if let Some(status) = exited {
            bail!(
                "bt launch-many exited ({status}) without `{verb} NAME` for {}{}",
                missing.join(", "),
                bt.stderr_tail()
            );
        }
        if Instant::now() >= deadline {
            bail!(
                "bt launch-many printed no `{verb} NAME` for {} in time{}",
                missing.join(", "),
                bt.stderr_tail()
            );
        }
        std::thread::sleep(POLL);
    }
}

/// Waits for a whole status table printed after `removed` stopped (a row for every torrent of
/// `running`) that has no row for `removed`.
fn wait_table_without(
    ctx: &Ctx,
    bt: &mut Managed,
    running: &[&Item],
    removed: &Item,
) -> anyhow::Result<()> {
    let deadline = ctx.deadline_in(Duration::from_secs(10));
    loop {
        let text = String::from_utf8_lossy(&bt.stderr()?).into_owned();
        let after: Vec<&str> = text
            .lines()
            .skip_while(|l| !event(l, "stopped", &removed.name))
            .skip(1)
            .collect();
        if let Some(row) = after.iter().find(|l| is_row(l, &removed.name)) {
            bail!(
                "the status table still shows {} after it stopped: {row:?}",
                removed.name
            );
        }
        let shown: BTreeSet<&str> = running
            .iter()
            .map(|i| i.name.as_str())
            .filter(|n| after.iter().any(|l| is_row(l, n)))
            .collect();
        if shown.len() == running.len() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            let unseen: Vec<&str> = running
                .iter()
                .map(|i| i.name.as_str())
                .filter(|n| !shown.contains(n))
                .collect();
            bail!(
                "no whole status table came after {} stopped (no row with a state word for {}){}",
                removed.name,
                unseen.join(", "),
                bt.stderr_tail()
            );
        }
        std::thread::sleep(POLL * 5);
    }
}

/// `line` announces `VERB NAME` (both whole words).
fn event(line: &str, verb: &str, name: &str) -> bool {
    find_word(line, &format!("{verb} {name}"))
}

/// `line` is a status-table row for `name`: a state word and the name, and not a message (those
/// start with `bt:`, as do event lines such as `bt: launch-many: checking NAME`).
fn is_row(line: &str, name: &str) -> bool {
    !line.starts_with("bt:")
        && find_word(line, name)
        && STATES.iter().any(|s| find_word(line, s))
        && !["started", "complete", "stopped"]
            .iter()
            .any(|v| event(line, v, name))
}

/// `needle` occurs in `line` with no name character right before or after it.
fn find_word(line: &str, needle: &str) -> bool {
    let part_of_name = |c: char| c.is_alphanumeric() || matches!(c, '-' | '.' | '_');
    line.match_indices(needle).any(|(at, _)| {
        let before = line[..at].chars().next_back();
        let after = line[at + needle.len()..].chars().next();
        !before.is_some_and(part_of_name) && !after.is_some_and(part_of_name)
    })
}

/// The most data files seen open at once.
#[derive(Debug, Default)]
struct FdPeak {
    max: usize,
    /// The files open at that moment.
    at_max: Vec<String>,
    samples: u64,
    /// Samples with at least one data file open.
    busy: u64,
}

/// A thread sampling a process's open files under a data directory.
struct FdWatch {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<FdPeak>,
}

impl FdWatch {
    fn start(pid: u32, data_dir: PathBuf) -> anyhow::Result<FdWatch> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("launch-many-fds".to_owned())
            .spawn(move || {
                let mut peak = FdPeak::default();
                while !flag.load(Ordering::Relaxed) {
                    if let Some(open) = open_data_files(pid, &data_dir) {
                        peak.samples += 1;
                        peak.busy += u64::from(!open.is_empty());
                        if open.len() > peak.max {
                            peak.max = open.len();
                            peak.at_max = open;
                        }
                    }
                    std::thread::sleep(FD_SAMPLE);
                }
                peak
            })
            .context("starting the fd sampler thread")?;
        Ok(FdWatch { stop, thread })
    }

    fn stop(self) -> FdPeak {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or_default()
    }
}

/// The data files `pid` has open under `data_dir` (not directories, not resume files or their
/// temporary copies); `None` once the process is gone.
fn open_data_files(pid: u32, data_dir: &Path) -> Option<Vec<String>> {
    let entries = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
    let mut open = Vec::new();
    for entry in entries.flatten() {
        let Ok(target) = std::fs::read_link(entry.path()) else {
            continue; // closed since the listing
        };
        if !target.starts_with(data_dir) {
            continue;
        }
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.contains(".bt-resume") || target.is_dir() {
            continue;
        }
        open.push(target.display().to_string());
    }
    Some(open)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_match_whole_names_only() {
        assert!(event(
            "bt: launch-many: started local-01",
            "started",
            "local-01"
        ));
        assert!(event("started local-01 (4 files)", "started", "local-01"));
        assert!(!event("started local-01.bin", "started", "local-01"));
        assert!(!event("started local-010", "started", "local-01"));
        assert!(!event("restarted local-01", "started", "local-01"));
        assert!(!event("complete local-01", "started", "local-01"));
    }

    #[test]
    fn rows_need_a_state_word_and_are_not_event_lines() {
        assert!(is_row("  seeding      100.0%  local-01", "local-01"));
        assert!(is_row("local-01  error: no such file", "local-01"));
        assert!(!is_row("  seeding      100.0%  local-01.bin", "local-01"));
        assert!(!is_row(
            "bt: launch-many: 20 torrents, 3 seeding",
            "local-01"
        ));
        assert!(!is_row(
            "bt: launch-many: stopped local-01 (seeding)",
            "local-01"
        ));
        assert!(!is_row("  downloadingx local-01", "local-01"));
    }
}
