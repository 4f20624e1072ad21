//! The `bt` binary under test: built once per run with `cargo build --release -p torrentkit-cli`
//! and found in the target directory cargo reports.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Instant;

use anyhow::{bail, Context as _};

use super::workspace;

static BT: OnceLock<Result<PathBuf, String>> = OnceLock::new();

/// The path of a freshly built release `bt`; the first call builds it, later calls reuse it.
pub(crate) fn path() -> anyhow::Result<&'static Path> {
    BT.get_or_init(|| build().map_err(|e| format!("{e:#}")))
        .as_deref()
        .map_err(|e| anyhow::anyhow!("{e}"))
}

fn build() -> anyhow::Result<PathBuf> {
    let root = workspace::root()?;
    let started = Instant::now();
    println!("interop: building bt (cargo build --release -p torrentkit-cli)");
    let status = Command::new(workspace::cargo())
        .args(["build", "--release", "-p", "torrentkit-cli"])
        .current_dir(root)
        .stdin(Stdio::null())
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("cargo build --release -p torrentkit-cli failed ({status})");
    }
    let bt = workspace::target_dir()?.join("release").join("bt");
    if !bt.is_file() {
        bail!("cargo build succeeded but {} does not exist", bt.display());
    }
    println!(
        "interop: built {} in {:.1} s",
        bt.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(bt)
}
