//! `bt stream SOURCE`: serve a torrent's files over HTTP while they download, as rqbit does, so
//! a video player can start and seek at once. Pieces are fetched on demand: those under each
//! request's position first, then its readahead (`--readahead`), nothing else unless
//! `--download-all`. The data and resume file go where `bt download` would put them.

mod http;
mod range;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use torrentkit_metainfo::Torrent;
use torrentkit_peer::session::{Session, DEFAULT_READAHEAD};
use torrentkit_peer::{Placement, Priority};

use self::http::{file_url, router, App, ServedFile};
use super::magnet_download::{is_magnet, resolve};
use super::placement;
use super::source::load_source;
use super::storage_arg::{self, parse_storage, StorageKind};
use super::torrent_common::human_size;
use super::transfer::{self, NetArgs, PEER_RETRY};
use super::units::parse_size;

/// Arguments of `bt stream`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Prints the index URL, then one URL per file, on stdout. Each file answers GET \
and HEAD with Range requests (206 and Content-Range, suffix ranges, 416 past the end); /status \
is the progress as JSON. Ctrl-C or SIGTERM stops, saves the resume file and prints a summary."
)]
pub(crate) struct Args {
    /// The torrent: a .torrent file, an http(s):// URL of one, or a magnet link.
    source: String,
    /// Address to serve HTTP on (port 0: any free port; the URLs printed say which).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8888")]
    listen: SocketAddr,
    /// Keep the data in this directory under the torrent's name (default: the current directory).
    #[arg(short, long, value_name = "DIR")]
    output: Option<PathBuf>,
    /// Bytes fetched ahead of each reader's position, e.g. 8M.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "8M")]
    readahead: u64,
    /// Also download the rest of the torrent in the background (readers still come first).
    #[arg(long)]
    download_all: bool,
    /// Where to keep the data: file (the default), memory, or sqlite:PATH.
    #[arg(long, value_name = "KIND", value_parser = parse_storage, default_value = "file")]
    storage: StorageKind,
    /// The largest metadata a magnet link's peers may announce.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "16M")]
    max_metadata_size: u64,
    #[command(flatten)]
    net: NetArgs,
}

pub(crate) fn run(mut args: Args) -> anyhow::Result<ExitCode> {
    let dir = args.output.clone().unwrap_or_else(|| PathBuf::from("."));
    let torrent = if is_magnet(&args.source) {
        let (torrent, hints) =
            resolve(&args.source, &dir, &args.net, args.max_metadata_size, None)?;
        args.net.magnet_peers = hints;
        torrent
    } else {
        load_source(&args.source)?
    };
    let placement = placement::from_args(&torrent, None, Some(&dir))?;
    std::fs::create_dir_all(&placement.root)
        .with_context(|| format!("creating {}", placement.root.display()))?;
    let (storage, start) = storage_arg::open(&args.storage, &torrent, &placement, false)?;
    let peers = args.net.peer_addrs()?;
    transfer::runtime()?.block_on(serve(
        &args, &torrent, &placement, storage, start.have, peers,
    ))
}

async fn serve(
    args: &Args,
    torrent: &Torrent,
    placement: &Placement,
    storage: Arc<dyn torrentkit_peer::storage::Storage>,
    have: torrentkit_peer::Bitfield,
    peers: Vec<SocketAddr>,
) -> anyhow::Result<ExitCode> {
    let info = torrent.info();
    let name = info.name().to_owned();
    let http_listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("--listen {}", args.listen))?;
    let http_addr = http_listener.local_addr().context("--listen address")?;
    let peer_listener = args.net.listen().await?;
    let port = peer_listener
        .local_addr()
        .context("listener address")?
        .port();
    let mut sc = transfer::session_config(torrent, &args.net, port);
    // The session runs until stopped: what is wanted changes with every request.
    sc.seed = true;
    if !args.download_all {
        sc.torrent.picker.priorities = vec![Priority::SKIP; have.len() as usize];
    }
    let have_at_start = have.clone();
    let session = Session::start(sc, storage, have, Some(peer_listener));
    let dial = |s: &Session| {
        for p in &peers {
            s.add_peer(*p);
        }
        for p in &args.net.magnet_peers {
            s.add_peer_from(*p, torrentkit_peer::PeerSource::MagnetHint);
        }
    };
    dial(&session);

    let files: Vec<Option<ServedFile>> = info
        .files()
        .iter()
        .map(|f| {
            (!f.pad).then(|| ServedFile {
                path: f.path.join("/"),
                length: f.length,
                offset: f.offset,
            })
        })
        .collect();
    let app = Arc::new(App {
        name: name.clone(),
        files: files.clone(),
        readers: session.readers(),
        readahead: if args.readahead == 0 {
            DEFAULT_READAHEAD
        } else {
            args.readahead
        },
        piece_length: info.piece_length(),
        have_at_start: have_at_start.clone(),
    });
    eprintln!(
        "bt: {name}: listening for peers on {}:{port}",
        args.net.bind
    );
    eprintln!("bt: {name}: streaming on http://{http_addr}/");
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        writeln!(out, "http://{http_addr}/")?;
        for (i, f) in files.iter().enumerate() {
            if let Some(f) = f {
                writeln!(out, "http://{http_addr}{}", file_url(i, &f.path))?;
            }
        }
        out.flush()?;
    }
    let server =
        tokio::spawn(
            async move { axum::serve(http_listener, router(app).into_make_service()).await },
        );

    let signal = |kind| tokio::signal::unix::signal(kind).context("installing a signal handler");
    let mut sigint = signal(tokio::signal::unix::SignalKind::interrupt())?;
    let mut sigterm = signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut redial = tokio::time::interval(PEER_RETRY);
    redial.tick().await;
    let mut resume_tick = tokio::time::interval(Duration::from_secs_f64(
        args.net.resume_interval.clamp(0.05, 86400.0),
    ));
    resume_tick.tick().await;
    let mut saved = have_at_start.clone();
    let progress = session.progress();
    let started = Instant::now();
    let mut server = server;
    let ended = loop {
        tokio::select! {
            _ = sigint.recv() => break "signal",
            _ = sigterm.recv() => break "signal",
            r = &mut server => {
                match r {
                    Ok(Err(e)) => eprintln!("bt: {name}: the HTTP server stopped: {e}"),
                    Err(e) => eprintln!("bt: {name}: the HTTP server stopped: {e}"),
                    Ok(Ok(())) => {}
                }
                break "error";
            }
            _ = redial.tick() => dial(&session),
            _ = resume_tick.tick() => {
                let verified = progress.borrow().verified.clone();
                if let Err(e) = placement.save_resume_if_changed(&mut saved, &verified) {
                    eprintln!("bt: warning: saving {}: {e}", placement.resume.display());
                }
            }
        }
    };
    server.abort();
    let summary = session.stop().await;
    if summary.have.len() == have_at_start.len() {
        if let Err(e) = transfer::save_resume(placement, &summary.have) {
            eprintln!("bt: warning: {e:#}");
        }
    }
    let fetched = summary
        .have
        .iter()
        .filter(|&p| !have_at_start.contains(p))
        .count();
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "bt: {name}: stopped ({ended}), {}/{} pieces: {} at start, {fetched} fetched; {} down, {} up, {secs:.1}s",
        summary.have.count(),
        summary.have.len(),
        have_at_start.count(),
        human_size(summary.downloaded),
        human_size(summary.uploaded),
    );
    if args.net.json {
        let json = serde_json::json!({
            "name": name,
            "info_hash": torrent.info_hash().to_hex(),
            "ended": ended,
            "pieces": summary.have.len(),
            "have": summary.have.count(),
            "pieces_at_start": have_at_start.count(),
            "pieces_fetched": fetched,
            "downloaded": summary.downloaded,
            "uploaded": summary.uploaded,
            "seconds": secs,
            "http": format!("http://{http_addr}/"),
        });
        println!("{json}");
    }
    if let Some(e) = summary.error {
        return Err(anyhow::Error::new(e).context(format!("{name}: stopped")));
    }
    Ok(if ended == "error" {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
