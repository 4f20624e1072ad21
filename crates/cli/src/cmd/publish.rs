//! `bt publish PATH --tracker URL`: make a torrent, upload it to the tracker's `/publish`, print
//! where downloaders fetch it and its magnet link, then seed it (btpublish in one step).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use torrentkit_metainfo::{Magnet, Torrent};

use super::make::{default_output, make_one, MakeOptions};
use super::placement::{start_state, Placement};
use super::transfer::{self, NetArgs, SeedLimits};

/// Time limit for connecting to the tracker and for each read or write.
const TIMEOUT: Duration = Duration::from_secs(30);
/// The most reply bytes read from `/publish`.
const MAX_REPLY: u64 = 64 * 1024;

/// Arguments of `bt publish`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "The first --tracker URL must be an http:// announce URL of a tracker run with \
--publish-token (`bt tracker --publish-token T`): the torrent is POSTed to /publish on the same \
host and port. Seeding goes on until Ctrl-C or SIGTERM."
)]
pub(crate) struct Args {
    /// The file or directory to publish.
    path: PathBuf,
    /// Where to write the torrent (default: PATH.torrent next to the data).
    #[arg(short, long, value_name = "OUT")]
    output: Option<PathBuf>,
    /// Replace OUT if it exists.
    #[arg(short, long)]
    force: bool,
    /// The tracker's publish token, sent as `Authorization: Bearer TOKEN`.
    #[arg(long, value_name = "TOKEN")]
    token: Option<String>,
    #[command(flatten)]
    options: MakeOptions,
    #[command(flatten)]
    net: NetArgs,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let Some(announce) = args.options.trackers().first() else {
        bail!("bt publish needs --tracker URL (the announce URL of the tracker to publish to)");
    };
    let announce = announce.split(',').next().unwrap_or_default().trim();
    let endpoint = publish_url(announce)?;
    let out = match &args.output {
        Some(o) => o.clone(),
        None => default_output(&args.path)?,
    };
    let torrent = make_one(&args.path, &out, args.force, &args.options)?;
    let url = upload(&endpoint, &torrent.to_bytes(), args.token.as_deref())?;
    println!("torrent: {url}");
    println!("magnet: {}", Magnet::from_torrent(&torrent));
    seed(&torrent, &args.path, &args.net)
}

/// `http://HOST:PORT/publish` for an announce URL `http://HOST:PORT/...`.
fn publish_url(announce: &str) -> anyhow::Result<String> {
    let lower = announce.to_ascii_lowercase();
    if lower.starts_with("https://") {
        bail!("--tracker {announce}: https:// is not supported yet (no TLS client built in); publish to an http:// tracker");
    }
    let Some(rest) = lower.starts_with("http://").then(|| &announce[7..]) else {
        bail!("--tracker {announce}: publishing needs an http:// tracker URL");
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() {
        bail!("--tracker {announce}: no host");
    }
    Ok(format!("http://{authority}/publish"))
}

/// POSTs the torrent to `endpoint`; returns the URL it is hosted at.
fn upload(endpoint: &str, body: &[u8], token: Option<&str>) -> anyhow::Result<String> {
    let host = &endpoint[7..endpoint.len() - "/publish".len()];
    let authority = if host.rsplit_once(':').is_some_and(|(_, p)| !p.contains(']')) {
        host.to_owned()
    } else {
        format!("{host}:80")
    };
    let addr = authority
        .to_socket_addrs()
        .with_context(|| format!("{endpoint}: resolving {host}"))?
        .next()
        .with_context(|| format!("{endpoint}: {host} has no address"))?;
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT)
        .with_context(|| format!("{endpoint}: connecting to {addr}"))?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "POST /publish HTTP/1.0\r\nHost: {host}\r\nUser-Agent: torrentkit/{}\r\n\
         Content-Type: application/x-bittorrent\r\nContent-Length: {}\r\n{auth}Connection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION"),
        body.len()
    );
    stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body))
        .with_context(|| format!("{endpoint}: sending the torrent"))?;
    let mut raw = Vec::new();
    stream
        .take(MAX_REPLY)
        .read_to_end(&mut raw)
        .with_context(|| format!("{endpoint}: reading the reply"))?;
    parse_reply(endpoint, &raw)
}

/// The hosted URL from a `201 Created` reply (its `Location`), or an error with the tracker's
/// message.
fn parse_reply(endpoint: &str, raw: &[u8]) -> anyhow::Result<String> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .with_context(|| format!("{endpoint}: the reply has no complete HTTP header"))?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let body = String::from_utf8_lossy(&raw[end + 4..]);
    let body = body.trim();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("{endpoint}: bad status line {status_line:?}"))?;
    match status {
        200 | 201 => {}
        403 => bail!("{endpoint}: the tracker refused the publish token (403): {body}"),
        404 => bail!("{endpoint}: the tracker does not accept publishing (404; start it with --publish-token): {body}"),
        _ => bail!("{endpoint}: the tracker answered {status}: {body}"),
    }
    let location = lines.find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case("location")
            .then(|| v.trim().to_owned())
    });
    let location = location
        .with_context(|| format!("{endpoint}: the reply has no Location header: {body}"))?;
    Ok(if location.starts_with('/') {
        // A path on the tracker itself.
        format!(
            "{}{location}",
            &endpoint[..endpoint.len() - "/publish".len()]
        )
    } else {
        location
    })
}

/// Serves the data just hashed until Ctrl-C, as `bt seed` does.
fn seed(torrent: &Torrent, data: &std::path::Path, net: &NetArgs) -> anyhow::Result<ExitCode> {
    let placement = Placement::at(torrent, data)?;
    let storage = placement.storage();
    let start = start_state(torrent, &placement, &storage, false)?;
    if start.have.count() < start.have.len() {
        bail!(
            "{}: changed while it was being published; run bt publish again",
            data.display()
        );
    }
    let forever = SeedLimits {
        ratio: None,
        time: None,
    };
    transfer::run(torrent, &placement, storage, start, net, forever)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_url_keeps_host_and_port_and_refuses_others() {
        assert_eq!(
            publish_url("http://127.0.0.1:6969/announce").unwrap(),
            "http://127.0.0.1:6969/publish"
        );
        assert_eq!(
            publish_url("HTTP://t.example/a?x=1").unwrap(),
            "http://t.example/publish"
        );
        let e = publish_url("https://t.example/announce").unwrap_err();
        assert!(e.to_string().contains("https:// is not supported"), "{e}");
        let e = publish_url("udp://t.example:6969").unwrap_err();
        assert!(e.to_string().contains("needs an http:// tracker"), "{e}");
    }

    #[test]
    fn replies_give_the_location_or_the_trackers_message() {
        let ok =
            b"HTTP/1.1 201 Created\r\nlocation: http://h:1/torrents/ab.torrent\r\n\r\npublished\n";
        assert_eq!(
            parse_reply("e", ok).unwrap(),
            "http://h:1/torrents/ab.torrent"
        );
        let no = b"HTTP/1.1 403 Forbidden\r\n\r\nwrong publish token\n";
        let e = parse_reply("e", no).unwrap_err().to_string();
        assert!(
            e.contains("403") && e.contains("wrong publish token"),
            "{e}"
        );
        let rel = b"HTTP/1.1 201 Created\r\nLocation: /torrents/ab.torrent\r\n\r\n";
        assert_eq!(
            parse_reply("http://h:1/publish", rel).unwrap(),
            "http://h:1/torrents/ab.torrent"
        );
        let e = parse_reply("e", b"HTTP/1.1 201").unwrap_err().to_string();
        assert!(e.contains("no complete HTTP header"), "{e}");
    }
}
