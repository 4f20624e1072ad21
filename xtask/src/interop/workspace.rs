//! Where the workspace and its target directory are, as `cargo metadata` reports them (so
//! `CARGO_TARGET_DIR` is honoured), asked once per run.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use anyhow::{bail, Context as _};

#[derive(Debug)]
struct Layout {
    root: PathBuf,
    target: PathBuf,
}

static LAYOUT: OnceLock<Result<Layout, String>> = OnceLock::new();

/// The workspace root directory.
pub(crate) fn root() -> anyhow::Result<&'static Path> {
    Ok(&layout()?.root)
}

/// The target directory cargo builds into.
pub(crate) fn target_dir() -> anyhow::Result<&'static Path> {
    Ok(&layout()?.target)
}

/// The `cargo` that runs xtask (`$CARGO`), else the one on PATH.
pub(crate) fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

fn layout() -> anyhow::Result<&'static Layout> {
    LAYOUT
        .get_or_init(|| read_layout().map_err(|e| format!("{e:#}")))
        .as_ref()
        .map_err(|e| anyhow::anyhow!("{e}"))
}

fn read_layout() -> anyhow::Result<Layout> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let output = Command::new(cargo())
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--manifest-path",
        ])
        .arg(&manifest)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .context("running cargo metadata")?;
    if !output.status.success() {
        bail!("cargo metadata failed ({})", output.status);
    }
    let json: serde_json::Value =
        serde_json::from_slice(&output.stdout).context("parsing cargo metadata's JSON")?;
    let field = |name: &str| -> anyhow::Result<PathBuf> {
        json.get(name)
            .and_then(|v| v.as_str())
            .map(PathBuf::from)
            .with_context(|| format!("cargo metadata has no `{name}`"))
    };
    Ok(Layout {
        root: field("workspace_root")?,
        target: field("target_directory")?,
    })
}
