//! External programs a case needs: find them on PATH, install the Debian package when running as
//! root, otherwise fail naming the packages to install.

use std::ffi::OsStr;
use std::os::unix::fs::MetadataExt as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context as _};

/// Makes sure every `(program, debian package)` pair has its program, installing missing packages
/// with `apt-get install -y` when running as root (`apt-get update` first only if that fails).
/// A program is a name looked up on PATH or an absolute path.
pub(crate) fn require(needs: &[(&str, &str)]) -> anyhow::Result<()> {
    let missing: Vec<&str> = needs
        .iter()
        .filter(|(program, _)| which(OsStr::new(program)).is_none())
        .map(|&(_, package)| package)
        .collect();
    install(&missing)?;
    let still: Vec<String> = needs
        .iter()
        .filter(|(program, _)| which(OsStr::new(program)).is_none())
        .map(|(program, package)| format!("{program} (Debian package {package})"))
        .collect();
    if !still.is_empty() {
        bail!("still missing after installing: {}", still.join(", "));
    }
    Ok(())
}

/// Installs the Debian packages as root, or fails naming them. Does nothing for an empty list.
pub(crate) fn install(packages: &[&str]) -> anyhow::Result<()> {
    let mut packages = packages.to_vec();
    packages.sort_unstable();
    packages.dedup();
    if packages.is_empty() {
        return Ok(());
    }
    let list = packages.join(" ");
    if !is_root() {
        bail!("missing Debian packages; install them with: sudo apt-get install -y {list}");
    }
    eprintln!("interop: installing missing Debian packages: {list}");
    if apt_get(&["install", "-y"], &packages).is_ok() {
        return Ok(());
    }
    apt_get(&["update"], &[]).context("apt-get update")?;
    apt_get(&["install", "-y"], &packages)
        .with_context(|| format!("could not install Debian packages {list}"))
}

fn apt_get(args: &[&str], packages: &[&str]) -> anyhow::Result<()> {
    let status = Command::new("apt-get")
        .args(args)
        .args(packages)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null())
        .status()
        .context("running apt-get")?;
    if !status.success() {
        bail!(
            "apt-get {} {} failed ({status})",
            args.join(" "),
            packages.join(" ")
        );
    }
    Ok(())
}

/// Whether this process runs as root (the owner of `/proc/self` is the effective user).
pub(crate) fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// The executable a program name refers to: itself if it contains a `/`, else the first match
/// on PATH.
pub(crate) fn which(program: &OsStr) -> Option<PathBuf> {
    let path = Path::new(program);
    if path.components().count() > 1 || path.is_absolute() {
        return is_executable(path).then(|| path.to_owned());
    }
    let dirs = std::env::var_os("PATH")?;
    std::env::split_paths(&dirs)
        .map(|dir| dir.join(program))
        .find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}
