//! `bt show`: a human summary of torrents (btshowmetainfo), or JSON for scripts.

use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::{json, Value as Json};
use torrentkit_metainfo::{Magnet, Torrent};

use super::torrent_common::{human_size, load};

/// Arguments of `bt show`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The torrent files to show.
    #[arg(required = true)]
    torrents: Vec<PathBuf>,
    /// Print JSON (an object, or an array of them for several torrents) with `info_hash`, `name`,
    /// `total_size`, `piece_length`, `piece_count`, `private`, `files`, `trackers` and more.
    #[arg(long)]
    json: bool,
    /// Reject torrents that load only with warnings (unsafe or duplicate paths that had to be
    /// sanitised, unsorted keys, ignored fields), exiting 1, instead of loading them as
    /// libtorrent does.
    #[arg(long)]
    strict: bool,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    let mut failed = 0;
    let mut objects = Vec::new();
    for (i, path) in args.torrents.iter().enumerate() {
        let loaded = load(path).and_then(|t| match t.warnings() {
            [first, rest @ ..] if args.strict => Err(anyhow::anyhow!(
                "{}: rejected by --strict: {first}{}",
                path.display(),
                if rest.is_empty() {
                    String::new()
                } else {
                    format!(" (and {} more)", rest.len())
                }
            )),
            _ => Ok(t),
        });
        let torrent = match loaded {
            Ok(t) => t,
            Err(e) => {
                eprintln!("bt: {e:#}");
                failed += 1;
                continue;
            }
        };
        if args.json {
            objects.push(to_json(&torrent));
        } else {
            if i > 0 {
                writeln!(out)?;
            }
            if args.torrents.len() > 1 {
                writeln!(out, "{}:", path.display())?;
            }
            out.write_all(summary(&torrent).as_bytes())?;
        }
    }
    if args.json {
        let value = if args.torrents.len() == 1 {
            objects.pop().unwrap_or(Json::Null)
        } else {
            Json::Array(objects)
        };
        if !(args.torrents.len() == 1 && value.is_null()) {
            serde_json::to_writer_pretty(&mut out, &value)?;
            writeln!(out)?;
        }
    }
    if failed > 0 {
        if args.torrents.len() > 1 {
            anyhow::bail!(
                "{failed} of {} torrents could not be read",
                args.torrents.len()
            );
        }
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// The JSON form of a torrent.
pub(crate) fn to_json(t: &Torrent) -> Json {
    let info = t.info();
    let files: Vec<Json> = info
        .files()
        .iter()
        .map(|f| {
            let mut o = json!({ "path": f.display_path(), "length": f.length, "offset": f.offset });
            if f.pad {
                o["pad"] = json!(true);
            }
            if f.executable {
                o["executable"] = json!(true);
            }
            if f.hidden {
                o["hidden"] = json!(true);
            }
            if let Some(target) = &f.symlink {
                o["symlink"] = json!(target.join("/"));
            }
            if let Some(root) = &f.pieces_root {
                o["pieces_root"] = json!(hex(root));
            }
            o
        })
        .collect();
    json!({
        "info_hash": t.info_hash().to_hex(),
        "info_hash_base32": t.info_hash().to_base32(),
        "meta_version": info.version().as_str(),
        "info_hash_v1": t.info_hash_v1().map(|h| h.to_hex()),
        "info_hash_v2": t.info_hash_v2().map(|h| h.to_hex()),
        "name": info.name(),
        "total_size": info.total_size(),
        "piece_length": info.piece_length(),
        "piece_count": info.piece_count(),
        "private": info.is_private(),
        "source": info.source(),
        "multi_file": info.is_multi_file(),
        "file_count": info.files().len(),
        "files": files,
        "trackers": t.trackers(),
        "web_seeds": t.web_seeds(),
        "http_seeds": t.http_seeds(),
        "comment": t.comment(),
        "created_by": t.created_by(),
        "creation_date": t.creation_date(),
        "encoding": t.encoding(),
        "unknown_keys": t.unknown_keys().map(|k| String::from_utf8_lossy(k).into_owned()).collect::<Vec<_>>(),
        "magnet": Magnet::from_torrent(t).to_string(),
        "warnings": t.warnings().iter().map(ToString::to_string).collect::<Vec<_>>(),
    })
}

/// The human summary.
pub(crate) fn summary(t: &Torrent) -> String {
    let info = t.info();
    let mut s = String::new();
    let _ = writeln!(s, "name:        {}", info.name());
    match (t.info_hash_v1(), t.info_hash_v2()) {
        (Some(v1), None) => {
            let _ = writeln!(s, "info-hash:   {v1}");
        }
        (v1, Some(v2)) => {
            let _ = writeln!(s, "version:     {}", info.version().as_str());
            if let Some(v1) = v1 {
                let _ = writeln!(s, "info-hash:   {v1} (v1)");
            }
            let _ = writeln!(s, "info-hash:   {v2} (v2)");
        }
        (None, None) => {}
    }
    let n = info.files().len();
    let _ = writeln!(
        s,
        "size:        {} ({} bytes) in {n} file{}",
        human_size(info.total_size()),
        info.total_size(),
        if n == 1 { "" } else { "s" }
    );
    let _ = writeln!(
        s,
        "pieces:      {} x {}",
        info.piece_count(),
        human_size(info.piece_length())
    );
    let _ = writeln!(
        s,
        "private:     {}",
        if info.is_private() { "yes" } else { "no" }
    );
    if let Some(src) = info.source() {
        let _ = writeln!(s, "source:      {src}");
    }
    let tiers = t.trackers();
    if tiers.is_empty() {
        let _ = writeln!(s, "trackers:    none (DHT, PEX or web seeds only)");
    }
    for (i, tier) in tiers.iter().enumerate() {
        let label = if i == 0 { "trackers:" } else { "" };
        let _ = writeln!(s, "{label:<12} tier {}: {}", i + 1, tier.join(", "));
    }
    for (label, list) in [
        ("web seeds:", t.web_seeds()),
        ("http seeds:", t.http_seeds()),
    ] {
        for (i, url) in list.iter().enumerate() {
            let _ = writeln!(s, "{:<12} {url}", if i == 0 { label } else { "" });
        }
    }
    if let Some(c) = t.comment() {
        let _ = writeln!(s, "comment:     {c}");
    }
    if let Some(c) = t.created_by() {
        let _ = writeln!(s, "created by:  {c}");
    }
    if let Some(d) = t.creation_date() {
        match utc(d) {
            Some(date) => {
                let _ = writeln!(s, "created on:  {date} (unix {d})");
            }
            None => {
                let _ = writeln!(s, "created on:  unix {d} (outside the calendar)");
            }
        }
    }
    let _ = writeln!(s, "files:");
    let mut dirs: Vec<&str> = Vec::new();
    for f in info.files() {
        let (file, parents) = f
            .path
            .split_last()
            .map_or(("", &[][..]), |(l, p)| (l.as_str(), p));
        let common = dirs
            .iter()
            .zip(parents)
            .take_while(|(a, b)| **a == b.as_str())
            .count();
        dirs.truncate(common);
        for p in &parents[common..] {
            let _ = writeln!(s, "  {}{p}/", "  ".repeat(dirs.len()));
            dirs.push(p);
        }
        let mut tags = String::new();
        if f.pad {
            tags.push_str(" [pad]");
        }
        if let Some(target) = &f.symlink {
            let _ = write!(tags, " -> {}", target.join("/"));
        }
        if let Some(root) = &f.pieces_root {
            let _ = write!(tags, " root {}", hex(root));
        }
        let _ = writeln!(
            s,
            "  {}{file}  ({}){tags}",
            "  ".repeat(dirs.len()),
            human_size(f.length)
        );
    }
    s
}

/// Lower-case hex of a hash.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `YYYY-MM-DD HH:MM:SS UTC` from Unix seconds (proleptic Gregorian); `None` outside the years
/// -9999 to 9999, which a `creation date` field may well hold.
fn utc(secs: i64) -> Option<String> {
    let format =
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()?
        .format(&format)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::utc;

    #[test]
    fn dates() {
        assert_eq!(utc(0).as_deref(), Some("1970-01-01 00:00:00 UTC"));
        assert_eq!(
            utc(1_359_599_503).as_deref(),
            Some("2013-01-31 02:31:43 UTC")
        );
        assert_eq!(utc(951_782_400).as_deref(), Some("2000-02-29 00:00:00 UTC"));
        assert_eq!(utc(i64::MAX), None);
        assert_eq!(utc(-1).as_deref(), Some("1969-12-31 23:59:59 UTC"));
    }
}
