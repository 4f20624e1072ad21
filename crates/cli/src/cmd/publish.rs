//! `bt publish PATH --tracker URL`: make a torrent, upload it to the tracker's `/publish`, print
//! where downloaders fetch it and its magnet link, then seed it (btpublish in one step).

use std::path::PathBuf;
use std::process::ExitCode;

use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use torrentkit_metainfo::{Magnet, Torrent};
use torrentkit_peer::http;

use super::make::{default_output, make_one, MakeOptions};
use super::placement::{start_state, Placement};
use super::transfer::{self, NetArgs, SeedLimits};

/// The most reply bytes read from `/publish`.
const MAX_REPLY: usize = 64 * 1024;
/// Time limit for the upload.
const TIMEOUT: Duration = Duration::from_secs(30);

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

/// `SCHEME://HOST:PORT/publish` for an announce URL `SCHEME://HOST:PORT/...` (http or https).
fn publish_url(announce: &str) -> anyhow::Result<String> {
    let lower = announce.to_ascii_lowercase();
    let scheme = ["http://", "https://"]
        .into_iter()
        .find(|s| lower.starts_with(s));
    let Some(scheme) = scheme else {
        bail!("--tracker {announce}: publishing needs an http:// or https:// tracker URL");
    };
    let rest = &announce[scheme.len()..];
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() {
        bail!("--tracker {announce}: no host");
    }
    Ok(format!("{scheme}{authority}/publish"))
}

/// POSTs the torrent to `endpoint`; returns the URL it is hosted at.
fn upload(endpoint: &str, body: &[u8], token: Option<&str>) -> anyhow::Result<String> {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("Content-Type", "application/x-bittorrent")];
    if let Some(auth) = &auth {
        headers.push(("Authorization", auth));
    }
    let request = http::Request {
        method: "POST",
        url: endpoint,
        headers: &headers,
        body,
    };
    let options = http::Options {
        timeout: TIMEOUT,
        max_redirects: 0,
        max_response: MAX_REPLY,
    };
    let reply = http::send_blocking(&request, &options)
        .map_err(|e| anyhow!("{endpoint}: {e}"))
        .with_context(|| format!("{endpoint}: sending the torrent"))?;
    interpret(endpoint, reply)
}

/// The hosted URL from a `201 Created` reply (its `Location`), or an error with the tracker's
/// message.
fn interpret(endpoint: &str, reply: http::Response) -> anyhow::Result<String> {
    let body = String::from_utf8_lossy(&reply.body);
    let body = body.trim();
    match reply.status {
        200 | 201 => {}
        403 => bail!("{endpoint}: the tracker refused the publish token (403): {body}"),
        404 => bail!("{endpoint}: the tracker does not accept publishing (404; start it with --publish-token): {body}"),
        status => bail!("{endpoint}: the tracker answered {status}: {body}"),
    }
    let location = reply
        .location
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
    transfer::run(
        torrent,
        &placement,
        std::sync::Arc::new(storage),
        start,
        net,
        forever,
    )
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
        assert_eq!(
            publish_url("https://t.example:8443/announce").unwrap(),
            "https://t.example:8443/publish"
        );
        let e = publish_url("udp://t.example:6969").unwrap_err();
        assert!(
            e.to_string().contains("needs an http:// or https://"),
            "{e}"
        );
    }

    fn reply(status: u16, location: Option<&str>, body: &[u8]) -> http::Response {
        http::Response {
            location: location.map(str::to_string),
            ..http::Response::new(status, body.to_vec())
        }
    }

    #[test]
    fn replies_give_the_location_or_the_trackers_message() {
        let ok = reply(201, Some("http://h:1/torrents/ab.torrent"), b"published\n");
        assert_eq!(
            interpret("e", ok).unwrap(),
            "http://h:1/torrents/ab.torrent"
        );
        let no = reply(403, None, b"wrong publish token\n");
        let e = interpret("e", no).unwrap_err().to_string();
        assert!(
            e.contains("403") && e.contains("wrong publish token"),
            "{e}"
        );
        let rel = reply(201, Some("/torrents/ab.torrent"), b"");
        assert_eq!(
            interpret("http://h:1/publish", rel).unwrap(),
            "http://h:1/torrents/ab.torrent"
        );
        let e = interpret("e", reply(201, None, b""))
            .unwrap_err()
            .to_string();
        assert!(e.contains("no Location header"), "{e}");
    }
}
