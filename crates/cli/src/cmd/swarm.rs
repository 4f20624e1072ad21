//! `bt swarm`: a whole BitTorrent swarm in one process on loopback — a tracker, a fresh file and
//! its torrent, one seed and N downloaders — and how little of the data the seed had to upload.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio::net::TcpListener;
use torrentkit_metainfo::{auto_piece_length, Torrent, TorrentBuilder};
use torrentkit_peer::session::{Session, SessionConfig};
use torrentkit_peer::{Bitfield, Placement, Rng};
use torrentkit_tracker_server::{Config as TrackerConfig, UdpBind};
use torrentkit_wire::PeerId;

use super::torrent_common::human_size;
use super::units::{human_rate, parse_rate, parse_size};

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Arguments of `bt swarm`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Downloaders besides the seed.
    #[arg(long, default_value_t = 4)]
    peers: usize,
    /// Size of the file to share, e.g. 64MiB.
    #[arg(long, value_parser = parse_size, default_value = "64MiB")]
    size: u64,
    /// Most bytes per second the seed uploads, e.g. 20M (0: unlimited). A slow seed shows the
    /// point of BitTorrent best: the downloaders get most of the data from each other.
    #[arg(long, value_name = "RATE", value_parser = parse_rate, default_value = "0")]
    seed_rate: u64,
    /// Give up after this many seconds.
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    timeout: u64,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// The seed super-seeds (BEP 16).
    #[arg(long)]
    super_seed: bool,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.peers == 0 || args.peers > 200 {
        bail!("--peers {}: must be between 1 and 200", args.peers);
    }
    if args.size == 0 {
        bail!("--size must be at least one byte");
    }
    let dir = tempfile::Builder::new()
        .prefix("bt-swarm-")
        .tempdir()
        .context("creating a temporary directory")?;
    let runtime = super::transfer::runtime()?;
    let result = runtime.block_on(swarm(&args, dir.path()));
    drop(runtime);
    dir.close().context("removing the temporary directory")?;
    result
}

/// A file of pseudo-random bytes, written in 1 MiB chunks.
fn make_file(path: &Path, size: u64) -> anyhow::Result<()> {
    use std::io::Write;
    let mut f = std::io::BufWriter::new(
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
    );
    let mut rng = Rng::new(0x5EED ^ size);
    let mut buf = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        rng.fill(&mut buf[..n]);
        f.write_all(&buf[..n])
            .with_context(|| format!("writing {}", path.display()))?;
        left -= n as u64;
    }
    f.flush()
        .with_context(|| format!("writing {}", path.display()))
}

/// Starts one peer of the swarm with the data under `root`.
async fn start_peer(
    torrent: &Torrent,
    root: &Path,
    index: u64,
    have: Bitfield,
    upload_rate: u64,
    super_seed: bool,
) -> anyhow::Result<Session> {
    let storage = Placement::in_dir(torrent, root)?.storage();
    let listener = TcpListener::bind(SocketAddr::new(LOOPBACK, 0))
        .await
        .context("listening for peers on 127.0.0.1")?;
    let port = listener.local_addr()?.port();
    let mut random = [0u8; 12];
    Rng::new(0xB7 + index).fill(&mut random);
    let mut sc = SessionConfig::from_torrent(torrent, PeerId::generate(random).0, 0x5A7A + index);
    sc.listen_port = port;
    sc.seed = true;
    sc.max_upload_rate = (upload_rate > 0).then_some(upload_rate);
    sc.torrent.super_seed = super_seed;
    Ok(Session::start(sc, Arc::new(storage), have, Some(listener)))
}

async fn swarm(args: &Args, dir: &Path) -> anyhow::Result<ExitCode> {
    // The tracker.
    let listener = TcpListener::bind(SocketAddr::new(LOOPBACK, 0))
        .await
        .context("binding the tracker")?;
    let announce = format!("http://{}/announce", listener.local_addr()?);
    let config = TrackerConfig {
        dfile: None,
        udp: UdpBind::Off,
        interval: Duration::from_secs(10),
        min_interval: Duration::from_secs(2),
        ..TrackerConfig::default()
    };
    let (stop_tracker, stopped) = tokio::sync::oneshot::channel::<()>();
    let tracker = tokio::spawn(torrentkit_tracker_server::serve(listener, config, async {
        let _ = stopped.await;
    }));

    // The file and its torrent.
    let seed_dir = dir.join("seed");
    std::fs::create_dir_all(&seed_dir)?;
    let file = seed_dir.join("swarm.bin");
    let size = args.size;
    let t0 = Instant::now();
    let file2 = file.clone();
    let piece_length = auto_piece_length(size).max(256 * 1024);
    let torrent = tokio::task::spawn_blocking(move || -> anyhow::Result<Torrent> {
        make_file(&file2, size)?;
        TorrentBuilder::new(&file2)
            .piece_length(piece_length)
            .tier(vec![announce])
            .build()
            .context("creating the torrent")
    })
    .await??;
    let pieces = torrent.info().piece_count() as u32;
    eprintln!(
        "bt swarm: {} in {pieces} pieces of {}, made in {:.1}s; 1 seed, {} downloaders",
        human_size(size),
        human_size(piece_length),
        t0.elapsed().as_secs_f64(),
        args.peers
    );

    // The seed first (so the downloaders find it), then every downloader at once.
    let seed = start_peer(
        &torrent,
        &seed_dir,
        0,
        Bitfield::full(pieces),
        args.seed_rate,
        args.super_seed,
    )
    .await?;
    let mut downloaders = Vec::new();
    let mut dirs: Vec<PathBuf> = Vec::new();
    let started = Instant::now();
    for i in 1..=args.peers {
        let d = dir.join(format!("peer{i}"));
        std::fs::create_dir_all(&d)?;
        downloaders
            .push(start_peer(&torrent, &d, i as u64, Bitfield::new(pieces), 0, false).await?);
        dirs.push(d);
    }
    let deadline = started + Duration::from_secs(args.timeout);
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    let mut times: Vec<Option<f64>> = vec![None; args.peers];
    let mut last_line = Instant::now();
    loop {
        tick.tick().await;
        let mut delivered = 0;
        for (i, s) in downloaders.iter().enumerate() {
            let p = s.progress().borrow().clone();
            delivered += p.downloaded;
            if p.complete && times[i].is_none() {
                times[i] = Some(started.elapsed().as_secs_f64());
            }
        }
        let done = times.iter().filter(|t| t.is_some()).count();
        let seed_up = seed.progress().borrow().uploaded;
        let finished = done == args.peers;
        if !finished && last_line.elapsed() < Duration::from_secs(1) {
            continue;
        }
        last_line = Instant::now();
        eprintln!(
            "bt swarm: {:5.1}s {done}/{} complete, {} received, seed uploaded {}",
            started.elapsed().as_secs_f64(),
            args.peers,
            human_size(delivered),
            human_size(seed_up)
        );
        if finished {
            break;
        }
        if Instant::now() >= deadline {
            bail!(
                "swarm: only {done} of {} downloaders finished in {} s",
                args.peers,
                args.timeout
            );
        }
    }
    let elapsed = started.elapsed().as_secs_f64();

    // Stop everyone (announcing `stopped`), then the tracker.
    let mut delivered = 0u64;
    let mut peer_upload = 0u64;
    let mut duplicates = 0u64;
    for s in downloaders {
        let summary = s.stop().await;
        if let Some(e) = summary.error {
            return Err(anyhow::Error::new(e).context("a downloader failed"));
        }
        delivered += summary.downloaded;
        peer_upload += summary.uploaded;
        duplicates += summary.duplicates;
    }
    let seed_summary = seed.stop().await;
    let _ = stop_tracker.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), tracker).await;

    // Every copy must equal the original.
    let original = std::fs::read(&file)?;
    for d in &dirs {
        let copy = std::fs::read(d.join("swarm.bin"))
            .with_context(|| format!("reading {}", d.display()))?;
        if copy != original {
            bail!(
                "swarm: the copy in {} differs from the original",
                d.display()
            );
        }
    }
    let total = size * args.peers as u64;
    let seed_up = seed_summary.uploaded;
    if args.json {
        let json = serde_json::json!({
            "peers": args.peers,
            "size": size,
            "pieces": pieces,
            "seconds": elapsed,
            "delivered": total,
            "received": delivered,
            "throughput_bytes_per_sec": total as f64 / elapsed,
            "seed_uploaded": seed_up,
            "peers_uploaded": peer_upload,
            "seed_share": seed_up as f64 / total as f64,
            "seed_ratio": seed_up as f64 / size as f64,
            "duplicates": duplicates,
            "duplicate_share": duplicates as f64 / delivered.max(1) as f64,
            "finish_seconds": times,
        });
        println!("{json}");
    } else {
        println!(
            "swarm: 1 seed + {} downloaders, {} each, all complete and identical in {elapsed:.2}s",
            args.peers,
            human_size(size)
        );
        println!(
            "  delivered {} ({} total, {} per downloader); {} received, {} of it endgame duplicates ({:.2}%)",
            human_size(total),
            human_rate(total as f64 / elapsed),
            human_rate(size as f64 / elapsed),
            human_size(delivered),
            human_size(duplicates),
            duplicates as f64 * 100.0 / delivered.max(1) as f64
        );
        println!(
            "  seed uploaded {} = {:.2}x the file, {:.0}% of what was delivered; the downloaders traded the other {}",
            human_size(seed_up),
            seed_up as f64 / size as f64,
            seed_up as f64 * 100.0 / total as f64,
            human_size(peer_upload)
        );
    }
    Ok(ExitCode::SUCCESS)
}
