//! `bt install-handler [--uninstall]`: register `bt open` with xdg-mime as this user's handler
//! for `.torrent` files (`application/x-bittorrent`) and magnet links, or remove it again.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{bail, Context};

/// The desktop entry's file name (its desktop file id).
const DESKTOP_ID: &str = "bt-open.desktop";
/// The types `bt open` is registered for.
const MIME_TYPES: [&str; 2] = ["application/x-bittorrent", "x-scheme-handler/magnet"];

/// Arguments of `bt install-handler`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Writes $XDG_DATA_HOME/applications/bt-open.desktop (default \
~/.local/share/applications) running `bt open %u`, and makes it the default for \
application/x-bittorrent and x-scheme-handler/magnet with `xdg-mime default` (package \
xdg-utils). --uninstall deletes the entry and its lines in $XDG_CONFIG_HOME/mimeapps.list."
)]
pub(crate) struct Args {
    /// Remove the desktop entry and the registration instead.
    #[arg(long)]
    uninstall: bool,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let dir = xdg_dir("XDG_DATA_HOME", ".local/share")?.join("applications");
    let entry = dir.join(DESKTOP_ID);
    if args.uninstall {
        return uninstall(&entry);
    }
    let exe = std::env::current_exe().context("finding the bt executable")?;
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(&entry, desktop_entry(&exe)?)
        .with_context(|| format!("writing {}", entry.display()))?;
    let status = Command::new("xdg-mime")
        .arg("default")
        .arg(DESKTOP_ID)
        .args(MIME_TYPES)
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => bail!("xdg-mime default {DESKTOP_ID} failed ({s})"),
        Err(e) => bail!("running xdg-mime: {e} (install the Debian package xdg-utils)"),
    }
    println!("wrote {}", entry.display());
    println!(
        "bt open is now the default for {}",
        MIME_TYPES.join(" and ")
    );
    Ok(ExitCode::SUCCESS)
}

/// `$VAR`, or `$HOME/default` when it is unset or empty.
fn xdg_dir(var: &str, default: &str) -> anyhow::Result<PathBuf> {
    if let Some(d) = std::env::var_os(var).filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d));
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .with_context(|| format!("neither {var} nor HOME is set"))?;
    Ok(PathBuf::from(home).join(default))
}

/// The desktop entry running `EXE open %u`.
fn desktop_entry(exe: &Path) -> anyhow::Result<String> {
    let exe = exe
        .to_str()
        .with_context(|| format!("{}: not a UTF-8 path", exe.display()))?;
    // Desktop Entry Exec quoting: double quotes around, with `"`, `` ` ``, `$` and `\` escaped.
    let quoted = if exe.contains([' ', '"', '\'', '\\', '$', '`']) {
        let mut q = String::from("\"");
        for c in exe.chars() {
            if matches!(c, '"' | '`' | '$' | '\\') {
                q.push_str("\\\\");
            }
            q.push(c);
        }
        q.push('"');
        q
    } else {
        exe.to_owned()
    };
    Ok(format!(
        "[Desktop Entry]\nType=Application\nName=bt open\n\
         Comment=Download a torrent with torrentkit's bt\nExec={quoted} open %u\n\
         Terminal=true\nNoDisplay=true\nMimeType={};\n",
        MIME_TYPES.join(";")
    ))
}

fn uninstall(entry: &Path) -> anyhow::Result<ExitCode> {
    match std::fs::remove_file(entry) {
        Ok(()) => println!("removed {}", entry.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            println!("{} was not installed", entry.display())
        }
        Err(e) => return Err(e).with_context(|| format!("removing {}", entry.display())),
    }
    let list = xdg_dir("XDG_CONFIG_HOME", ".config")?.join("mimeapps.list");
    let text = match std::fs::read_to_string(&list) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ExitCode::SUCCESS),
        Err(e) => return Err(e).with_context(|| format!("reading {}", list.display())),
    };
    let kept = without_entry(&text);
    if kept != text {
        std::fs::write(&list, kept).with_context(|| format!("writing {}", list.display()))?;
        println!("removed {DESKTOP_ID} from {}", list.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// `mimeapps.list` text without `bt-open.desktop` in any association; lines left empty go.
fn without_entry(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let kept = match line.split_once('=') {
            Some((key, value)) if !line.trim_start().starts_with(['#', '[']) => {
                let ids: Vec<&str> = value
                    .split(';')
                    .filter(|id| !id.is_empty() && id.trim() != DESKTOP_ID)
                    .collect();
                if ids.is_empty() {
                    None
                } else if ids.len() == value.split(';').filter(|i| !i.is_empty()).count() {
                    Some(line.to_owned())
                } else {
                    Some(format!("{key}={};", ids.join(";")))
                }
            }
            _ => Some(line.to_owned()),
        };
        if let Some(l) = kept {
            out.push_str(&l);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uninstall_drops_only_our_associations() {
        let text = "[Default Applications]\napplication/x-bittorrent=bt-open.desktop\n\
                    text/plain=gedit.desktop\n[Added Associations]\n\
                    x-scheme-handler/magnet=other.desktop;bt-open.desktop;\n";
        assert_eq!(
            without_entry(text),
            "[Default Applications]\ntext/plain=gedit.desktop\n[Added Associations]\n\
             x-scheme-handler/magnet=other.desktop;\n"
        );
    }

    #[test]
    fn the_entry_runs_bt_open_and_quotes_odd_paths() {
        let e = desktop_entry(Path::new("/usr/bin/bt")).unwrap();
        assert!(e.contains("\nExec=/usr/bin/bt open %u\n"), "{e}");
        assert!(e.contains("\nMimeType=application/x-bittorrent;x-scheme-handler/magnet;\n"));
        let e = desktop_entry(Path::new("/opt/my bt/bt")).unwrap();
        assert!(e.contains("\nExec=\"/opt/my bt/bt\" open %u\n"), "{e}");
    }
}
