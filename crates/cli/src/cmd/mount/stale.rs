//! A `bt mount` killed without unmounting (SIGKILL, OOM) leaves its FUSE mount behind, dead:
//! every access answers ENOTCONN (or ECONNABORTED once the kernel aborted the connection), so
//! a new `bt mount` on that point would fail. Before mounting, such a mount is found in
//! `/proc/self/mountinfo` by the source name we give ours (`torrentkit`) and unmounted with
//! `fusermount3 -u`; a live mount there, or any other file system's, is refused by name.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};

/// The source (`FSName`) of every mount `bt mount` makes.
pub(super) const SOURCE: &str = "torrentkit";

/// One line of `/proc/self/mountinfo`, the fields we need.
#[derive(Debug, PartialEq, Eq)]
struct MountEntry {
    mount_point: PathBuf,
    fs_type: String,
    source: String,
}

/// Clears a dead `bt mount` left on `mountpoint`; refuses a live mount or another's.
pub(super) fn clear_dead_mount(mountpoint: &Path) -> anyhow::Result<()> {
    let target = absolute(mountpoint)?;
    let table = match std::fs::read_to_string("/proc/self/mountinfo") {
        Ok(t) => t,
        // No /proc: nothing to clear that we could see; mounting will say what is wrong.
        Err(_) => return Ok(()),
    };
    let Some(entry) = parse(&table)
        .into_iter()
        .rev()
        .find(|e| e.mount_point == target)
    else {
        return Ok(());
    };
    if entry.source != SOURCE {
        bail!(
            "mount point {}: a {} file system ({}) is already mounted there",
            mountpoint.display(),
            entry.fs_type,
            entry.source
        );
    }
    match std::fs::metadata(mountpoint) {
        Ok(_) => bail!(
            "mount point {}: another bt mount is serving it (unmount it first: fusermount3 -u {})",
            mountpoint.display(),
            mountpoint.display()
        ),
        Err(e) if is_dead_connection(&e) => {}
        Err(e) => {
            return Err(e).with_context(|| format!("mount point {}", mountpoint.display()));
        }
    }
    eprintln!(
        "bt: {} holds a dead bt mount (its process was killed): unmounting it",
        mountpoint.display()
    );
    let status = std::process::Command::new("fusermount3")
        .arg("-u")
        .arg(mountpoint)
        .status()
        .context("running fusermount3 -u (Debian package fuse3)")?;
    if !status.success() {
        bail!(
            "mount point {}: fusermount3 -u of the dead bt mount failed ({status})",
            mountpoint.display()
        );
    }
    Ok(())
}

/// What a FUSE mount whose process died answers.
fn is_dead_connection(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc_errno::ENOTCONN | libc_errno::ECONNABORTED)
    )
}

/// Linux's numbers for the two errors (std names neither as an `ErrorKind` we can match on
/// across versions).
mod libc_errno {
    pub(super) const ENOTCONN: i32 = 107;
    pub(super) const ECONNABORTED: i32 = 103;
}

/// `path` made absolute without touching its last component (a dead mount cannot be stat'ed).
fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    let name = path
        .file_name()
        .with_context(|| format!("mount point {}: names no directory", path.display()))?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let parent = parent
        .canonicalize()
        .with_context(|| format!("mount point {}", path.display()))?;
    Ok(parent.join(name))
}

/// The entries of a mountinfo table (proc(5)): field 5 is the mount point (octal escapes),
/// and after the ` - ` separator come the type and the source.
fn parse(table: &str) -> Vec<MountEntry> {
    table
        .lines()
        .filter_map(|line| {
            let (head, tail) = line.split_once(" - ")?;
            let mount_point = unescape(head.split(' ').nth(4)?);
            let mut tail = tail.split(' ');
            let fs_type = tail.next()?.to_owned();
            let source = unescape(tail.next()?);
            Some(MountEntry {
                mount_point: PathBuf::from(mount_point),
                fs_type,
                source,
            })
        })
        .collect()
}

/// Undoes mountinfo's `\ooo` escapes (space, tab, newline, backslash).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match octal {
            Some(d) => {
                let v = d.iter().fold(0u32, |v, c| v * 8 + u32::from(c - b'0'));
                out.push(v as u8);
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_lines_give_mount_point_type_and_source() {
        let table = "36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw\n\
                     90 36 0:52 / /tmp/a\\040b rw,nosuid shared:7 - fuse.bt torrentkit ro,user_id=0\n\
                     garbage line\n";
        assert_eq!(
            parse(table),
            vec![
                MountEntry {
                    mount_point: "/mnt/parent".into(),
                    fs_type: "ext3".into(),
                    source: "/dev/root".into(),
                },
                MountEntry {
                    mount_point: "/tmp/a b".into(),
                    fs_type: "fuse.bt".into(),
                    source: SOURCE.into(),
                },
            ]
        );
    }

    #[test]
    fn a_point_with_no_mount_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        clear_dead_mount(dir.path()).unwrap();
    }

    #[test]
    fn another_file_systems_mount_is_refused_by_name() {
        // `/proc` is procfs on every Linux this runs on.
        let err = clear_dead_mount(Path::new("/proc"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("proc file system"), "{err}");
    }
}
