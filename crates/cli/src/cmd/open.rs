//! `bt open URL|PATH`: what a browser or file manager runs for a .torrent (see
//! `bt install-handler`): the download of `bt download`, saved in the Downloads directory.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};

use super::download;
use super::transfer::NetArgs;

/// Arguments of `bt open`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Without --output the data goes to $XDG_DOWNLOAD_DIR, else ~/Downloads when it \
exists, else the current directory. Then it is seeded as `bt download` does (ratio 1.0)."
)]
pub(crate) struct Args {
    /// A .torrent http:// URL, a file:// URL, a path or a magnet link.
    target: String,
    /// Save the data in this directory.
    #[arg(short, long, value_name = "DIR")]
    output: Option<PathBuf>,
    /// Port to accept peers on, as in `bt download` (0: any free port).
    #[arg(long, default_value_t = 6881)]
    port: u16,
    /// Address to listen on for peers.
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0")]
    bind: std::net::IpAddr,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let source = source(&args.target)?;
    let dir = match args.output {
        Some(d) => d,
        None => download_dir(),
    };
    let net = NetArgs::listening_on(args.bind, args.port);
    download::run(download::Args::into_dir(source, dir, net))
}

/// What `bt download` gets: the URL or path, with `file://` turned into a path.
fn source(target: &str) -> anyhow::Result<String> {
    let lower = target.to_ascii_lowercase();
    if lower.starts_with("magnet:") {
        return Ok(target.to_owned());
    }
    if lower.starts_with("file://") {
        let rest = &target[7..];
        // file://localhost/path and file:///path.
        let path = rest.strip_prefix("localhost").unwrap_or(rest);
        if !path.starts_with('/') {
            bail!("{target}: only local file:// URLs are supported");
        }
        return percent_decode(path).with_context(|| format!("{target}: bad %-escape"));
    }
    Ok(target.to_owned())
}

/// Decodes `%XX` escapes; `None` when one is malformed or the result is not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = torrentkit_metainfo::percent::decode(s.as_bytes(), false).ok()?;
    String::from_utf8(bytes).ok()
}

/// $XDG_DOWNLOAD_DIR, else ~/Downloads when it exists, else the current directory.
fn download_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("XDG_DOWNLOAD_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        let d = PathBuf::from(home).join("Downloads");
        if d.is_dir() {
            return d;
        }
    }
    PathBuf::from(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_from_urls_paths_and_magnets() {
        assert_eq!(
            source("http://h:1/torrents/a.torrent").unwrap(),
            "http://h:1/torrents/a.torrent"
        );
        assert_eq!(
            source("file:///tmp/a%20b.torrent").unwrap(),
            "/tmp/a b.torrent"
        );
        assert_eq!(source("file://localhost/x.torrent").unwrap(), "/x.torrent");
        assert_eq!(source("some/path.torrent").unwrap(), "some/path.torrent");
        // Magnet links go to `bt download` as they are.
        assert_eq!(
            source("magnet:?xt=urn:btih:00&dn=a%20b").unwrap(),
            "magnet:?xt=urn:btih:00&dn=a%20b"
        );
        assert!(source("file:///a%zz").is_err());
        assert!(source("file://otherhost/a").is_err());
    }
}
