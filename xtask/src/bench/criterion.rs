//! Running a criterion benchmark of the `bench/` package and reading its results back from
//! `bench/target/criterion/<group>/<function>/new/`.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::SystemTime;

use anyhow::{bail, Context as _};

use crate::interop::workspace;

/// Lines a benchmark binary prints, starting with this, name an operation it has no API for.
const SKIP_PREFIX: &str = "skip: ";
/// Lines starting with this say something about the whole run (such as the clock used).
const NOTE_PREFIX: &str = "note: ";
/// Lines starting with this carry a measurement the binary took itself (benchmarks that are
/// not criterion's, such as `utp`'s timed transfers).
const RESULT_PREFIX: &str = "RESULT ";

/// The results of one run of a criterion benchmark binary.
pub(crate) struct Run {
    /// `bench/target/criterion`.
    criterion_dir: PathBuf,
    /// When the run started: results written before it are stale.
    started: SystemTime,
    /// What the binary said it skipped, without the prefix.
    pub(crate) skipped: Vec<String>,
    /// What the binary said about the run, without the prefix.
    pub(crate) notes: Vec<String>,
    /// The binary's own measurements (`RESULT ...` lines), without the prefix.
    pub(crate) results: Vec<String>,
}

/// One measured function.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Estimate {
    /// The mean time per iteration, in nanoseconds.
    pub(crate) mean_ns: f64,
    /// The bytes processed per iteration, when the group declared a byte throughput.
    pub(crate) bytes: Option<u64>,
}

/// Runs `cargo bench --bench NAME` on the `bench/` package (its own workspace and target dir),
/// echoing its output, with `passthrough` handed to the benchmark binary.
pub(crate) fn run(root: &Path, bench: &str, passthrough: &[String]) -> anyhow::Result<Run> {
    let package = root.join("bench");
    let target_dir = package.join("target");
    let criterion_dir = target_dir.join("criterion");
    let started = SystemTime::now();
    let mut command = Command::new(workspace::cargo());
    command
        .arg("bench")
        .arg("--manifest-path")
        .arg(package.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        .args(["--bench", bench, "--"])
        .args(passthrough)
        // The package's own target dir, whatever the caller exported for the main workspace.
        .env_remove("CARGO_TARGET_DIR")
        .env("CRITERION_HOME", &criterion_dir)
        .current_dir(&package)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    println!("running: cargo bench --manifest-path bench/Cargo.toml --bench {bench}");
    let mut child = command.spawn().context("starting cargo bench")?;
    let mut skipped = Vec::new();
    let mut notes = Vec::new();
    let mut results = Vec::new();
    let stdout = child.stdout.take().context("cargo bench has no stdout")?;
    for line in BufReader::new(stdout).lines() {
        let line = line.context("reading cargo bench's output")?;
        println!("{line}");
        if let Some(note) = line.strip_prefix(SKIP_PREFIX) {
            skipped.push(note.to_owned());
        } else if let Some(note) = line.strip_prefix(NOTE_PREFIX) {
            notes.push(note.to_owned());
        } else if let Some(result) = line.strip_prefix(RESULT_PREFIX) {
            results.push(result.to_owned());
        }
    }
    let status = child.wait().context("waiting for cargo bench")?;
    if !status.success() {
        bail!("cargo bench --bench {bench} failed ({status})");
    }
    Ok(Run {
        criterion_dir,
        started,
        skipped,
        notes,
        results,
    })
}

impl Run {
    /// The estimate for `function` in `group`, if this run measured it.
    pub(crate) fn estimate(&self, group: &str, function: &str) -> anyhow::Result<Option<Estimate>> {
        let dir = self
            .criterion_dir
            .join(filename_safe(group))
            .join(filename_safe(function))
            .join("new");
        let estimates = dir.join("estimates.json");
        let modified = match std::fs::metadata(&estimates).and_then(|m| m.modified()) {
            Ok(modified) => modified,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("reading {}", estimates.display())),
        };
        if modified < self.started {
            return Ok(None);
        }
        let json = read_json(&estimates)?;
        let mean_ns = json
            .pointer("/mean/point_estimate")
            .and_then(|v| v.as_f64())
            .with_context(|| format!("{} has no mean point estimate", estimates.display()))?;
        let bytes = read_json(&dir.join("benchmark.json"))?
            .pointer("/throughput/Bytes")
            .and_then(|v| v.as_u64());
        Ok(Some(Estimate { mean_ns, bytes }))
    }
}

fn read_json(path: &Path) -> anyhow::Result<serde_json::Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// The directory name criterion gives a group or function id (its `make_filename_safe`).
fn filename_safe(id: &str) -> String {
    id.chars()
        .map(|c| match c {
            '?' | '"' | '/' | '\\' | '*' | '<' | '>' | ':' | '|' | '^' => '_',
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_ids_map_to_criterion_directory_names() {
        assert_eq!(filename_safe("torrent_20mb/tree"), "torrent_20mb_tree");
        assert_eq!(filename_safe("a:b|c"), "a_b_c");
        assert_eq!(filename_safe("bt_bencode"), "bt_bencode");
    }
}
