//! `cargo xtask bench transfer`: 1 GiB over loopback, `bt seed` -> `bt download` and libtorrent
//! seed -> libtorrent download in the same run. For each pair: the download's wall time and
//! throughput, the downloader's CPU seconds and peak RSS (`/usr/bin/time`), and the seed's CPU
//! seconds during the transfer and peak RSS (`/proc`). Targets: `bt` at least 1.2x libtorrent's
//! throughput, less downloader CPU per GiB, and downloader peak RSS under 64 MiB.
//!
//! `-- --baseline PATH` adds a third pair, an earlier `bt` build seeding to itself in the same
//! alternating runs, and a row comparing this build's throughput and CPU per GiB with it (how a
//! refactor shows it made the engine no slower).
//!
//! Both seeds trust their data (`bt seed --trust-resume` after a first check, libtorrent's seed
//! mode), so only the transfer is timed. Three runs alternate; each pair's best run counts (the
//! machine may be shared).

use std::fmt::Write as _;
use std::io::{BufRead as _, BufReader, Read as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

use crate::bench::{load_average, verdict, Outcome};
use crate::interop::{bt, data, packages};

/// The encrypted rows (MSE/RC4, 256 MiB), run after the plaintext ones.
#[path = "transfer_mse.rs"]
mod mse;
/// The uTP rows (256 MiB), run after the encrypted ones.
#[path = "transfer_utp.rs"]
mod utp;

const SIZE: u64 = 1 << 30;
const RUNS: usize = 3;
const TARGET_SPEEDUP: f64 = 1.2;
const TARGET_RSS_MIB: f64 = 64.0;
const PYTHON: &str = "/usr/bin/python3";
const TIME: &str = "/usr/bin/time";
/// bt -> bt as the reference rows run it: plaintext over TCP.
const PLAIN_TCP: &[&str] = &["--encryption", "plaintext", "--transport", "tcp"];
const LT_SCRIPT: &str = include_str!("transfer_lt.py");

/// One measured transfer.
#[derive(Debug, Clone, Copy)]
struct Measure {
    /// Wall seconds from starting the downloader to its exit.
    wall: f64,
    /// Downloader user + system CPU seconds.
    down_cpu: f64,
    /// Downloader peak RSS, MiB.
    down_rss: f64,
    /// Seed CPU seconds during the transfer.
    seed_cpu: f64,
    /// Seed peak RSS, MiB.
    seed_rss: f64,
}

pub(super) fn run(root: &Path, passthrough: &[String]) -> anyhow::Result<Outcome> {
    // `-- --encrypted-only` runs only the encrypted rows (and their plaintext reference).
    let encrypted_only = passthrough.iter().any(|a| a == "--encrypted-only");
    let utp_only = passthrough.iter().any(|a| a == "--utp-only");
    let passthrough: Vec<String> = passthrough
        .iter()
        .filter(|a| *a != "--encrypted-only" && *a != "--utp-only")
        .cloned()
        .collect();
    let baseline = baseline_arg(&passthrough)?;
    packages::require(&[("time", "time")])?;
    if !Path::new(TIME).is_file() {
        bail!("{TIME} is missing: install the Debian package `time`");
    }
    let bt = bt::path()?;
    let dir = root.join("target").join("bench").join("transfer");
    let seed_dir = dir.join("seed");
    std::fs::create_dir_all(&seed_dir).with_context(|| format!("creating {}", dir.display()))?;
    let script = dir.join("transfer_lt.py");
    std::fs::write(&script, LT_SCRIPT).with_context(|| format!("writing {}", script.display()))?;
    let lt_ok = Command::new(PYTHON)
        .args(["-c", "import libtorrent"])
        .status()
        .is_ok_and(|s| s.success());
    if !lt_ok {
        bail!("{PYTHON} cannot import libtorrent: install the Debian package python3-libtorrent");
    }
    if encrypted_only {
        let mut outcome = Outcome {
            markdown: String::new(),
            failures: Vec::new(),
        };
        mse::run(root, bt, &script, &dir, &mut outcome)?;
        return Ok(outcome);
    }
    // `-- --utp-only` runs only the uTP rows (and their TCP reference).
    if utp_only {
        let mut outcome = Outcome {
            markdown: String::new(),
            failures: Vec::new(),
        };
        utp::run(bt, &script, &dir, &mut outcome)?;
        return Ok(outcome);
    }
    let (file, torrent) = prepare(bt, &dir, "data-1GiB", SIZE, 7)?;

    let (mut best_bt, mut best_lt, mut best_base) = (None, None, None);
    for run in 1..=RUNS {
        println!("bench transfer: run {run} of {RUNS}: bt seed -> bt download");
        // Plaintext, as libtorrent's pair and the baseline run: the default `--encryption
        // prefer` makes bt <-> bt RC4, which the encrypted rows measure on their own.
        // Over TCP, as libtorrent's pair (the default `--transport both` would pick uTP, which
        // the uTP rows measure on their own).
        let m = bt_pair_with(bt, &torrent, &file, &dir, PLAIN_TCP)?;
        println!("bench transfer:   {m:?}");
        best_bt = Some(better(best_bt, m));
        println!("bench transfer: run {run} of {RUNS}: libtorrent -> libtorrent");
        let m = lt_pair(&script, &torrent, &seed_dir, &dir)?;
        println!("bench transfer:   {m:?}");
        best_lt = Some(better(best_lt, m));
        if let Some(base) = &baseline {
            println!(
                "bench transfer: run {run} of {RUNS}: baseline {} seed -> download",
                base.display()
            );
            let m = bt_pair(base, &torrent, &file, &dir)?;
            println!("bench transfer:   {m:?}");
            best_base = Some(better(best_base, m));
        }
    }
    let (ours, theirs) = (
        best_bt.context("no bt run")?,
        best_lt.context("no libtorrent run")?,
    );
    let mut outcome = report(ours, theirs);
    if let (Some(path), Some(base)) = (&baseline, best_base) {
        compare_with_baseline(&mut outcome, path, ours, base);
    }
    mse::run(root, bt, &script, &dir, &mut outcome)?;
    utp::run(bt, &script, &dir, &mut outcome)?;
    Ok(outcome)
}

/// Writes `dir/seed/NAME.bin` (`size` bytes from `seed`, once) and makes `dir/NAME.torrent` of
/// it with 1 MiB pieces.
fn prepare(
    bt: &Path,
    dir: &Path,
    name: &str,
    size: u64,
    seed: u64,
) -> anyhow::Result<(PathBuf, PathBuf)> {
    let file = dir.join("seed").join(format!("{name}.bin"));
    if std::fs::metadata(&file).map(|m| m.len()).ok() != Some(size) {
        println!("bench transfer: writing {} (once)", file.display());
        data::write_file(&file, size, seed)?;
    }
    let torrent = dir.join(format!("{name}.torrent"));
    let made = Command::new(bt)
        .args(["make", "--force", "--no-date", "-l", "1M", "-o"])
        .arg(&torrent)
        .arg(&file)
        .stdin(Stdio::null())
        .output()
        .context("running bt make")?;
    if !made.status.success() {
        bail!("bt make failed: {}", String::from_utf8_lossy(&made.stderr));
    }
    Ok((file, torrent))
}

/// The `--baseline PATH` among the arguments after `--`, checked to be a file.
fn baseline_arg(passthrough: &[String]) -> anyhow::Result<Option<PathBuf>> {
    match passthrough {
        [] => Ok(None),
        [flag, path] if flag == "--baseline" => {
            let path = PathBuf::from(path);
            if !path.is_file() {
                bail!("--baseline {}: no such file", path.display());
            }
            Ok(Some(path))
        }
        other => bail!(
            "bench transfer takes `-- --baseline PATH` (an earlier bt binary) or nothing; got {other:?}"
        ),
    }
}

/// Adds the baseline's row and the this-build-vs-baseline verdict to the report.
fn compare_with_baseline(outcome: &mut Outcome, path: &Path, ours: Measure, base: Measure) {
    let gib = SIZE as f64 / (1u64 << 30) as f64;
    let speedup = base.wall / ours.wall;
    let md = &mut outcome.markdown;
    let _ = writeln!(
        md,
        "\n### This build against the baseline `{}` (same runs)\n",
        path.display()
    );
    let _ = writeln!(
        md,
        "| build | time | rate | downloader CPU s/GiB | downloader peak RSS | seed CPU |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|");
    for (name, m) in [("this build", &ours), ("baseline", &base)] {
        let _ = writeln!(
            md,
            "| {name} | {:.2} s | {:.0} MB/s | {:.2} | {:.1} MiB | {:.2} s |",
            m.wall,
            SIZE as f64 / m.wall / 1e6,
            m.down_cpu / gib,
            m.down_rss,
            m.seed_cpu
        );
    }
    let ok = speedup >= 1.0;
    let _ = writeln!(
        md,
        "\nthroughput {speedup:.2}x the baseline's (target >= 1.0x): {}",
        if ok { "PASS" } else { "FAIL" }
    );
    if !ok {
        outcome.failures.push(format!(
            "this build at {speedup:.2}x the baseline's throughput, target 1.0x"
        ));
    }
}

fn better(best: Option<Measure>, m: Measure) -> Measure {
    match best {
        Some(b) if b.wall <= m.wall => b,
        _ => m,
    }
}

fn report(ours: Measure, theirs: Measure) -> Outcome {
    let gib = SIZE as f64 / (1u64 << 30) as f64;
    let rate = |m: &Measure| SIZE as f64 / m.wall / 1e6;
    let speedup = theirs.wall / ours.wall;
    let mut failures = Vec::new();
    if speedup < TARGET_SPEEDUP {
        failures.push(format!(
            "bt at {speedup:.2}x libtorrent's throughput, target {TARGET_SPEEDUP}x"
        ));
    }
    if ours.down_cpu >= theirs.down_cpu {
        failures.push(format!(
            "bt download used {:.2} CPU s per GiB, libtorrent {:.2}",
            ours.down_cpu / gib,
            theirs.down_cpu / gib
        ));
    }
    if ours.down_rss >= TARGET_RSS_MIB {
        failures.push(format!(
            "bt download peak RSS {:.1} MiB, target under {TARGET_RSS_MIB} MiB",
            ours.down_rss
        ));
    }
    let mut md = String::new();
    let _ = writeln!(
        md,
        "## bench transfer: 1 GiB over loopback, one seed, one downloader (best of {RUNS})\n"
    );
    let _ = writeln!(
        md,
        "| pair | time | rate | downloader CPU | CPU s/GiB | downloader peak RSS | seed CPU | seed peak RSS |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---:|");
    for (name, m) in [
        ("bt seed -> bt download", &ours),
        ("libtorrent -> libtorrent", &theirs),
    ] {
        let _ = writeln!(
            md,
            "| {name} | {:.2} s | {:.0} MB/s | {:.2} s | {:.2} | {:.1} MiB | {:.2} s | {:.1} MiB |",
            m.wall,
            rate(m),
            m.down_cpu,
            m.down_cpu / gib,
            m.down_rss,
            m.seed_cpu,
            m.seed_rss
        );
    }
    let _ = writeln!(md, "\n| target | measured | |\n|---|---:|---|");
    let _ = writeln!(
        md,
        "| throughput >= {TARGET_SPEEDUP}x libtorrent | {speedup:.2}x | {} |",
        verdict(speedup >= TARGET_SPEEDUP)
    );
    let _ = writeln!(
        md,
        "| downloader CPU per GiB below libtorrent's | {:.2} vs {:.2} s | {} |",
        ours.down_cpu / gib,
        theirs.down_cpu / gib,
        verdict(ours.down_cpu < theirs.down_cpu)
    );
    let _ = writeln!(
        md,
        "| downloader peak RSS < {TARGET_RSS_MIB} MiB | {:.1} MiB | {} |",
        ours.down_rss,
        verdict(ours.down_rss < TARGET_RSS_MIB)
    );
    let _ = writeln!(
        md,
        "\nMB = 10^6 bytes. Time is from starting the downloader to its exit, including `bt \
         download`'s fsync of the data before it reports completion (libtorrent does not sync). \
         libtorrent 2.0 maps the files, so its RSS counts mapped file pages. Load average at the \
         end: {}.",
        load_average()
    );
    Outcome {
        markdown: md,
        failures,
    }
}

/// A seed process whose output lines arrive on a channel; killed when dropped.
struct Seed {
    child: Child,
    lines: Receiver<String>,
}

impl Seed {
    fn spawn(cmd: &mut Command) -> anyhow::Result<Seed> {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {cmd:?}"))?;
        let (tx, lines) = channel();
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { return };
                    if tx.send(line).is_err() {
                        return;
                    }
                }
            });
        }
        Ok(Seed { child, lines })
    }

    /// Waits (up to 2 minutes) for a line for which `f` gives a value.
    fn wait_for<T>(&mut self, mut f: impl FnMut(&str) -> Option<T>) -> anyhow::Result<T> {
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(v) = f(&line) {
                        return Ok(v);
                    }
                    seen.push(line);
                }
                Err(_) => bail!(
                    "the seed never became ready; it printed:\n{}",
                    seen.join("\n")
                ),
            }
        }
    }

    /// (CPU seconds so far, peak RSS in MiB) from /proc.
    fn usage(&self) -> (f64, f64) {
        proc_usage(self.child.id())
    }
}

impl Drop for Seed {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// User + system CPU seconds and VmHWM (MiB) of a live process.
fn proc_usage(pid: u32) -> (f64, f64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let cpu = (tick(11) + tick(12)) / 100.0;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let hwm_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0);
    (cpu, hwm_kib / 1024.0)
}

/// Runs the downloader under `/usr/bin/time`; (wall, CPU seconds, peak RSS MiB).
pub(super) fn timed_download(
    cmd: &[&std::ffi::OsStr],
    dir: &Path,
) -> anyhow::Result<(f64, f64, f64)> {
    let time_file = dir.join("time.txt");
    let started = Instant::now();
    let out = Command::new(TIME)
        .args(["-f", "%U %S %M", "-o"])
        .arg(&time_file)
        .args(cmd)
        .stdin(Stdio::null())
        .output()
        .context("running the downloader under /usr/bin/time")?;
    let wall = started.elapsed().as_secs_f64();
    if !out.status.success() {
        bail!(
            "the download failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = std::fs::read_to_string(&time_file)
        .with_context(|| format!("reading {}", time_file.display()))?;
    let nums: Vec<f64> = text
        .lines()
        .last()
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    let [user, sys, rss_kib] = nums[..] else {
        bail!("unexpected /usr/bin/time output {text:?}");
    };
    Ok((wall, user + sys, rss_kib / 1024.0))
}

/// Checks the copy byte for byte and removes it.
pub(super) fn check_and_remove(
    original: &Path,
    copy_dir: &Path,
    copy: &Path,
) -> anyhow::Result<()> {
    let mut a = std::io::BufReader::new(std::fs::File::open(original)?);
    let mut b = std::io::BufReader::new(
        std::fs::File::open(copy).with_context(|| format!("opening {}", copy.display()))?,
    );
    let (mut x, mut y) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        let n = a.read(&mut x)?;
        let mut m = 0;
        while m < n {
            let k = b.read(&mut y[m..n])?;
            if k == 0 {
                break;
            }
            m += k;
        }
        if n != m || x[..n] != y[..n] {
            bail!("{} differs from {}", copy.display(), original.display());
        }
        if n == 0 {
            break;
        }
    }
    std::fs::remove_dir_all(copy_dir).with_context(|| format!("removing {}", copy_dir.display()))
}

/// Runs the downloader `args` against a ready `seed`, then stops the seed: the seed's CPU is what it
/// spent during the download.
fn measure(seed: Seed, args: &[&std::ffi::OsStr], dir: &Path) -> anyhow::Result<Measure> {
    let (cpu0, _) = seed.usage();
    let (wall, down_cpu, down_rss) = timed_download(args, dir)?;
    let (cpu1, seed_rss) = seed.usage();
    drop(seed);
    Ok(Measure {
        wall,
        down_cpu,
        down_rss,
        seed_cpu: cpu1 - cpu0,
        seed_rss,
    })
}

fn bt_pair(bt: &Path, torrent: &Path, file: &Path, dir: &Path) -> anyhow::Result<Measure> {
    bt_pair_with(bt, torrent, file, dir, &[])
}

/// [`bt_pair`] with `extra` arguments for both the seed and the download.
fn bt_pair_with(
    bt: &Path,
    torrent: &Path,
    file: &Path,
    dir: &Path,
    extra: &[&str],
) -> anyhow::Result<Measure> {
    let mut seed = Seed::spawn(
        Command::new(bt)
            .arg("seed")
            .arg(torrent)
            .arg(file)
            .args(["--port", "0", "--bind", "127.0.0.1", "--trust-resume"])
            .args(extra),
    )?;
    let port: u16 = seed.wait_for(|l| {
        l.split_once("listening for peers on ")
            .and_then(|(_, a)| a.rsplit_once(':'))
            .and_then(|(_, p)| p.trim().parse().ok())
    })?;
    let down = dir.join("bt-download");
    let _ = std::fs::remove_dir_all(&down);
    let peer = format!("127.0.0.1:{port}");
    let mut args: Vec<&std::ffi::OsStr> = vec![
        bt.as_os_str(),
        "download".as_ref(),
        torrent.as_os_str(),
        "--output".as_ref(),
        down.as_os_str(),
        "--port".as_ref(),
        "0".as_ref(),
        "--bind".as_ref(),
        "127.0.0.1".as_ref(),
        "--peer".as_ref(),
        peer.as_ref(),
        "--seed-time".as_ref(),
        "0".as_ref(),
    ];
    args.extend(extra.iter().map(std::ffi::OsStr::new));
    let measured = measure(seed, &args, dir)?;
    check_and_remove(
        file,
        &down,
        &down.join(file.file_name().unwrap_or_default()),
    )?;
    Ok(measured)
}

fn lt_pair(script: &Path, torrent: &Path, seed_dir: &Path, dir: &Path) -> anyhow::Result<Measure> {
    lt_pair_with(script, torrent, &seed_dir.join("data-1GiB.bin"), dir, &[])
}

/// [`lt_pair`] of the data `file`, with `extra` arguments of the script for both sides.
fn lt_pair_with(
    script: &Path,
    torrent: &Path,
    file: &Path,
    dir: &Path,
    extra: &[&str],
) -> anyhow::Result<Measure> {
    let seed_dir = file.parent().context("the data file's directory")?;
    let mut seed = Seed::spawn(
        Command::new(PYTHON)
            .arg(script)
            .arg("seed")
            .arg(torrent)
            .arg(seed_dir)
            .args(extra),
    )?;
    let port: u16 = seed.wait_for(|l| l.strip_prefix("SEEDING port=")?.trim().parse().ok())?;
    let down = dir.join("lt-download");
    let _ = std::fs::remove_dir_all(&down);
    std::fs::create_dir_all(&down)?;
    let peer = format!("127.0.0.1:{port}");
    let mut args: Vec<&std::ffi::OsStr> = vec![
        PYTHON.as_ref(),
        script.as_os_str(),
        "download".as_ref(),
        torrent.as_os_str(),
        down.as_os_str(),
        "--peer".as_ref(),
        peer.as_ref(),
    ];
    args.extend(extra.iter().map(std::ffi::OsStr::new));
    let measured = measure(seed, &args, dir)?;
    let name = file.file_name().unwrap_or_default();
    check_and_remove(file, &down, &down.join(name))?;
    Ok(measured)
}
