//! `cargo xtask bench stream`: time to the first byte of `bt stream` for a byte in the middle of a
//! 256 MiB torrent, against a full `bt download` of the same torrent from the same `bt seed` on
//! loopback, in the same run (best of three each). The ratio is the point: streaming answers a
//! read long before a whole download is done. Target: the first byte within a quarter of the
//! full download's time.

use std::fmt::Write as _;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

use super::transfer::{check_and_remove, timed_download};
use crate::bench::{load_average, verdict, Outcome};
use crate::interop::{bt, data, packages, process};

const SIZE: u64 = 256 << 20;
const RUNS: usize = 3;
/// The first byte must come within this share of the full download's time.
const TARGET_SHARE: f64 = 0.25;

/// A child killed (SIGINT, then SIGKILL) when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = process::signal_pid(self.0.id(), "INT");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reads lines of `from` until one contains `marker` and returns it; the rest is read and
/// dropped on a thread until the process ends, so that it never writes into a closed pipe
/// (`bt` would fail on its next status line).
fn line_with(from: impl std::io::Read + Send + 'static, marker: &str) -> anyhow::Result<String> {
    let (found_tx, found) = std::sync::mpsc::channel();
    let marker = marker.to_owned();
    std::thread::spawn(move || {
        let mut found_tx = Some(found_tx);
        for line in BufReader::new(from).lines() {
            let Ok(line) = line else { break };
            if line.contains(&marker) {
                if let Some(tx) = found_tx.take() {
                    let _ = tx.send(line);
                }
            }
        }
    });
    found
        .recv_timeout(Duration::from_secs(120))
        .map_err(|_| anyhow::anyhow!("the process ended without printing the expected line"))
}

/// One `bt stream` run: from its start to the first body byte of `bytes=at-at`.
fn first_byte(bt: &Path, torrent: &Path, dir: &Path, seed: &str, at: u64) -> anyhow::Result<f64> {
    let _ = std::fs::remove_dir_all(dir);
    let started = Instant::now();
    let mut child = Command::new(bt)
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
        .args(["--peer", seed])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("starting bt stream")?;
    let stdout = child.stdout.take().context("bt stream's stdout")?;
    let running = Running(child);
    let mut lines = BufReader::new(stdout).lines();
    let _index = lines.next().context("no index URL")??;
    let file_url = lines.next().context("no file URL")??;
    let rest = file_url
        .strip_prefix("http://")
        .context("not an http URL")?;
    let (host, path) = rest.split_once('/').context("no path in the URL")?;
    let mut conn = TcpStream::connect(host)?;
    conn.set_read_timeout(Some(Duration::from_secs(60)))?;
    write!(
        conn,
        "GET /{path} HTTP/1.1\r\nHost: {host}\r\nRange: bytes={at}-{at}\r\nConnection: close\r\n\r\n"
    )?;
    // Headers, then the one byte.
    let mut reply = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        let n = conn.read(&mut byte)?;
        if n == 0 {
            bail!(
                "bt stream closed the connection: {}",
                String::from_utf8_lossy(&reply)
            );
        }
        reply.push(byte[0]);
        if let Some(end) = reply.windows(4).position(|w| w == b"\r\n\r\n") {
            if reply.len() > end + 4 {
                break;
            }
        }
    }
    let took = started.elapsed().as_secs_f64();
    let head = String::from_utf8_lossy(&reply);
    if !head.starts_with("HTTP/1.1 206") {
        bail!("bt stream answered {head}");
    }
    drop(running);
    let _ = std::fs::remove_dir_all(dir);
    Ok(took)
}

pub(super) fn run(root: &Path, _passthrough: &[String]) -> anyhow::Result<Outcome> {
    packages::require(&[("time", "time")])?;
    let bt = bt::path()?;
    let dir = root.join("target").join("bench").join("stream");
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("data-256MiB.bin");
    if std::fs::metadata(&file).map(|m| m.len()).ok() != Some(SIZE) {
        data::write_file(&file, SIZE, 1919)?;
    }
    let torrent = dir.join("stream.torrent");
    let made = Command::new(bt)
        .arg("make")
        .arg(&file)
        .arg("-o")
        .arg(&torrent)
        .args(["--force", "-l", "256K"])
        .output()?;
    if !made.status.success() {
        bail!("bt make failed: {}", String::from_utf8_lossy(&made.stderr));
    }
    let mut seed = Command::new(bt)
        .arg("seed")
        .arg(&torrent)
        .arg(&file)
        .args(["--port", "0", "--bind", "127.0.0.1"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting bt seed")?;
    let stderr = seed.stderr.take().context("bt seed's stderr")?;
    let _seed = Running(seed);
    let line = line_with(stderr, "listening for peers on")?;
    let addr = line
        .rsplit(' ')
        .next()
        .context("the seed's address")?
        .to_owned();
    let (mut ttfb, mut full) = (f64::INFINITY, f64::INFINITY);
    for _ in 0..RUNS {
        ttfb = ttfb.min(first_byte(
            bt,
            &torrent,
            &dir.join("stream-copy"),
            &addr,
            SIZE / 2,
        )?);
        let out = dir.join("bt-copy");
        let args: Vec<&std::ffi::OsStr> = vec![
            bt.as_os_str(),
            "download".as_ref(),
            torrent.as_os_str(),
            "--output".as_ref(),
            out.as_os_str(),
            "--port".as_ref(),
            "0".as_ref(),
            "--bind".as_ref(),
            "127.0.0.1".as_ref(),
            "--peer".as_ref(),
            addr.as_ref(),
            "--seed-time".as_ref(),
            "0".as_ref(),
        ];
        let (wall, _, _) = timed_download(&args, &dir)?;
        check_and_remove(&file, &out, &out.join("data-256MiB.bin"))?;
        full = full.min(wall);
    }
    let share = ttfb / full;
    let mut failures = Vec::new();
    if share > TARGET_SHARE {
        failures.push(format!(
            "bt stream's first byte took {:.0} % of a full download, target {:.0} %",
            share * 100.0,
            TARGET_SHARE * 100.0
        ));
    }
    let mut md = String::new();
    let _ = writeln!(
        md,
        "## bench stream: a byte in the middle of 256 MiB from bt seed on loopback (best of {RUNS})\n"
    );
    let _ = writeln!(md, "| what | time |\n|---|---:|");
    let _ = writeln!(
        md,
        "| bt stream: start to first byte of bytes=128Mi-128Mi | {ttfb:.3} s |"
    );
    let _ = writeln!(
        md,
        "| bt download: start to exit, all 256 MiB | {full:.2} s |"
    );
    let _ = writeln!(md, "\n| target | measured | |\n|---|---:|---|");
    let _ = writeln!(
        md,
        "| first byte <= {:.0} % of a full download | {:.1} % ({:.0}x sooner) | {} |",
        TARGET_SHARE * 100.0,
        share * 100.0,
        full / ttfb,
        verdict(share <= TARGET_SHARE)
    );
    let _ = writeln!(
        md,
        "\nThe stream's time includes its start (listener, handshake, unchoke). Load average at \
         the end: {}.",
        load_average()
    );
    Ok(Outcome {
        markdown: md,
        failures,
    })
}
