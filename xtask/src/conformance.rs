//! `cargo xtask conformance [DIR]`: `bt show --json` on every torrent of a vector directory,
//! compared with the verdicts libtorrent gave them (`DIR/VERDICTS.tsv`).
//!
//! DIR defaults to `../shared/vectors/libtorrent` beside the workspace. For each file:
//! - libtorrent `load`: `bt show` must load it with the same v1 info-hash (none for a v2-only
//!   torrent), file count and total size, and every file path must stay inside the download
//!   directory; for v2-only and hybrid torrents also with the same v2 (SHA-256) info-hash, which
//!   libtorrent (`/usr/bin/python3 -c 'import libtorrent'`, python3-libtorrent) computes during
//!   the run since VERDICTS.tsv predates it;
//! - libtorrent `fail`: `bt show` must fail (exit status 1, a `bt: ...` message, no panic).
//!
//! The files stay where they are: nothing is copied into the project.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context as _};
use serde_json::Value;

use crate::interop::{bt, workspace};

/// One row of VERDICTS.tsv.
struct Verdict {
    file: String,
    load: bool,
    kind: String,
    info_hash: String,
    num_files: Option<u64>,
    total_size: Option<u64>,
    reason: String,
}

pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    let dir = match args {
        [] => workspace::root()?.join("../shared/vectors/libtorrent"),
        [dir] if !dir.starts_with('-') => PathBuf::from(dir),
        _ => bail!("usage: cargo xtask conformance [DIR]"),
    };
    let verdicts = read_verdicts(&dir)?;
    let bt = bt::path()?;
    let v2_hashes = libtorrent_v2_hashes(&dir, &verdicts)?;
    let mut failures = Vec::new();
    let (mut loaded, mut rejected) = (0, 0);
    for v in &verdicts {
        match check(bt, &dir, v, v2_hashes.get(&v.file)) {
            Ok(true) => loaded += 1,
            Ok(false) => rejected += 1,
            Err(e) => failures.push(format!("  {}: {e:#}", v.file)),
        }
    }
    println!(
        "conformance: {} of {} files agree with libtorrent ({loaded} loaded, {rejected} rejected)",
        verdicts.len() - failures.len(),
        verdicts.len()
    );
    if !failures.is_empty() {
        bail!(
            "{} files disagree with libtorrent:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
    Ok(())
}

/// libtorrent's v2 info-hash of every v2-only and hybrid torrent that it loads, by file name.
fn libtorrent_v2_hashes(
    dir: &Path,
    verdicts: &[Verdict],
) -> anyhow::Result<std::collections::HashMap<String, String>> {
    let files: Vec<&str> = verdicts
        .iter()
        .filter(|v| v.load && v.kind != "v1")
        .map(|v| v.file.as_str())
        .collect();
    let script = "import sys, libtorrent as lt\n\
                  for f in sys.argv[1:]:\n    \
                  print(f + '\\t' + str(lt.torrent_info(f).info_hashes().v2))\n";
    let out = Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(script)
        .args(&files)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .context("running /usr/bin/python3 (install python3-libtorrent)")?;
    if !out.status.success() {
        bail!(
            "libtorrent could not hash the v2 torrents (install python3-libtorrent): {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(f, h)| (f.to_owned(), h.to_owned()))
        .collect())
}

fn read_verdicts(dir: &Path) -> anyhow::Result<Vec<Verdict>> {
    let path = dir.join("VERDICTS.tsv");
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "reading {} (the directory of libtorrent's test torrents and their verdicts)",
            path.display()
        )
    })?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        let col = |i: usize| cols.get(i).copied().unwrap_or("").to_owned();
        let verdict = col(1);
        if verdict != "load" && verdict != "fail" {
            bail!(
                "{}:{}: verdict `{verdict}` is neither load nor fail",
                path.display(),
                n + 1
            );
        }
        out.push(Verdict {
            file: col(0),
            load: verdict == "load",
            reason: col(2),
            kind: col(2),
            info_hash: col(3),
            num_files: col(4).parse().ok(),
            total_size: col(5).parse().ok(),
        });
    }
    if out.is_empty() {
        bail!("{}: no verdicts", path.display());
    }
    Ok(out)
}

/// Runs `bt show --json` on one file; `Ok(true)` when it loaded as expected, `Ok(false)` when
/// it was rejected as expected.
fn check(bt: &Path, dir: &Path, v: &Verdict, v2_hash: Option<&String>) -> anyhow::Result<bool> {
    let file = dir.join(&v.file);
    let out = Command::new(bt)
        .args(["show", "--json"])
        .arg(&file)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {}", bt.display()))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let code = out.status.code();
    if code.is_none() || stderr.contains("panicked") {
        bail!("bt crashed ({}): {stderr}", out.status);
    }
    if !v.load {
        if out.status.success() {
            bail!("bt loaded it, libtorrent rejects it: {}", v.reason);
        }
        if code != Some(1) || !stderr.starts_with("bt: ") {
            bail!("rejected without a `bt: ...` message and exit status 1: {stderr}");
        }
        return Ok(false);
    }
    if !out.status.success() {
        bail!("bt rejected it ({}), libtorrent loads it", stderr.trim());
    }
    let json: Value =
        serde_json::from_slice(&out.stdout).context("bt show printed invalid JSON")?;
    let hash = json["info_hash_v1"].as_str().unwrap_or("-");
    if hash != v.info_hash {
        bail!("v1 info-hash {hash}, libtorrent says {}", v.info_hash);
    }
    if v.kind != "v1" {
        let want = v2_hash.map_or("(none)", String::as_str);
        let hash = json["info_hash_v2"].as_str().unwrap_or("(none)");
        if hash != want {
            bail!("v2 info-hash {hash}, libtorrent says {want}");
        }
    }
    let files = json["files"].as_array().map_or(&[][..], Vec::as_slice);
    if Some(files.len() as u64) != v.num_files {
        bail!("{} files, libtorrent says {:?}", files.len(), v.num_files);
    }
    let total = json["total_size"].as_u64();
    if total != v.total_size {
        bail!("total size {total:?}, libtorrent says {:?}", v.total_size);
    }
    for f in files {
        let path = f["path"].as_str().unwrap_or_default();
        if let Some(why) = unsafe_path(path) {
            bail!("file path {path:?} {why}");
        }
    }
    Ok(true)
}

/// Why a `/`-separated path from `bt show` could leave the download directory, if it could.
fn unsafe_path(path: &str) -> Option<&'static str> {
    if path.is_empty() {
        return Some("is empty");
    }
    if path.starts_with('/') {
        return Some("is absolute");
    }
    for c in path.split('/') {
        match c {
            "" => return Some("has an empty component"),
            "." | ".." => return Some("has a `.` or `..` component"),
            c if c.contains('\\') || c.contains('\0') => {
                return Some("has a backslash or NUL in a component")
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::unsafe_path;

    #[test]
    fn unsafe_paths_are_named() {
        assert_eq!(unsafe_path("temp/foo/bar.txt"), None);
        assert_eq!(unsafe_path("temp/foo......bar/x"), None);
        assert_eq!(unsafe_path(""), Some("is empty"));
        assert_eq!(unsafe_path("/etc/passwd"), Some("is absolute"));
        assert_eq!(unsafe_path("temp//x"), Some("has an empty component"));
        assert_eq!(
            unsafe_path("temp/../x"),
            Some("has a `.` or `..` component")
        );
        assert_eq!(unsafe_path("temp/./x"), Some("has a `.` or `..` component"));
        assert_eq!(
            unsafe_path("temp/a\\b"),
            Some("has a backslash or NUL in a component")
        );
        assert_eq!(
            unsafe_path("temp/a\0b"),
            Some("has a backslash or NUL in a component")
        );
    }
}
