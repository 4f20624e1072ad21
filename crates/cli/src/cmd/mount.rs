//! `bt mount METAINFO_DIR MOUNTPOINT`: torrentfs. Every `.torrent` in METAINFO_DIR, and every
//! `.magnet` file (one magnet link each) once its metadata is fetched, shows as its files under
//! MOUNTPOINT, read-only and at their sizes; a read fetches the pieces it needs (and a
//! readahead) through a Reader, nothing else is downloaded. The directory is followed (looked
//! at again every second), as `bt launch-many` follows its own. SIGINT or SIGTERM unmounts,
//! stops every torrent and saves their resume files.

mod fs;
mod stale;

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{mpsc, Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{bail, Context};
use torrentkit_metainfo::Torrent;
use torrentkit_peer::session::Session;
use torrentkit_peer::{Placement, Priority};

use self::fs::{State, TorrentFs};
use super::magnet_download::kept_path;
use super::transfer::{self, NetArgs};
use super::units::parse_size;

/// Arguments of `bt mount`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Needs FUSE: /dev/fuse and fusermount3 (Debian package fuse3). Files are \
read-only; their data is kept in --download-dir with resume files, so a second mount starts from \
what was fetched."
)]
pub(crate) struct Args {
    /// The directory of .torrent files and .magnet files (one magnet link each).
    metainfo_dir: PathBuf,
    /// Where to mount (an existing, empty directory).
    mountpoint: PathBuf,
    /// Where the downloaded data is kept (default: METAINFO_DIR).
    #[arg(long, value_name = "DIR")]
    download_dir: Option<PathBuf>,
    /// Bytes fetched ahead of each open file's read position.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "8M")]
    readahead: u64,
    /// The largest metadata a magnet link's peers may announce.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "16M")]
    max_metadata_size: u64,
    #[command(flatten)]
    net: NetArgs,
}

/// Says what is missing for FUSE, naming it.
fn check_fuse() -> anyhow::Result<()> {
    if !Path::new("/dev/fuse").exists() {
        bail!("/dev/fuse does not exist: this host has no FUSE (load the fuse module, or give the container the device with --device /dev/fuse)");
    }
    let on_path = std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|d| d.join("fusermount3").is_file())
    });
    if !on_path {
        bail!("fusermount3 is not on PATH: install Debian's fuse3 package");
    }
    Ok(())
}

/// One torrent being served.
struct Mounted {
    session: Session,
    placement: Placement,
    index: usize,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    check_fuse()?;
    stale::clear_dead_mount(&args.mountpoint)?;
    let meta = std::fs::metadata(&args.metainfo_dir)
        .with_context(|| format!("{}", args.metainfo_dir.display()))?;
    if !meta.is_dir() {
        bail!("{}: not a directory", args.metainfo_dir.display());
    }
    if !std::fs::metadata(&args.mountpoint)
        .with_context(|| format!("mount point {}", args.mountpoint.display()))?
        .is_dir()
    {
        bail!("mount point {}: not a directory", args.mountpoint.display());
    }
    let download_dir = args
        .download_dir
        .clone()
        .unwrap_or_else(|| args.metainfo_dir.clone());
    std::fs::create_dir_all(&download_dir)
        .with_context(|| format!("creating {}", download_dir.display()))?;
    let args = Arc::new(args);
    let runtime = transfer::runtime()?;
    let state = Arc::new(Mutex::new(State::new(
        args.readahead.max(1),
        meta.uid(),
        meta.gid(),
    )));
    let fs = TorrentFs {
        state: state.clone(),
        runtime: runtime.handle().clone(),
    };
    let mut config = fuser::Config::default();
    config.mount_options.extend([
        fuser::MountOption::RO,
        fuser::MountOption::FSName(stale::SOURCE.into()),
        fuser::MountOption::Subtype("bt".into()),
    ]);
    let mount = fuser::spawn_mount(fs, &args.mountpoint, &config)
        .with_context(|| format!("mounting on {}", args.mountpoint.display()))?;
    eprintln!(
        "bt: mounted {} on {}",
        args.metainfo_dir.display(),
        args.mountpoint.display()
    );
    let result = runtime.block_on(follow(args.clone(), download_dir, state));
    // Unmount first: nothing can read while the sessions stop.
    let unmounted = mount.umount_and_join();
    let stopped = match result {
        Ok(mounted) => runtime.block_on(stop_all(mounted)),
        Err(e) => Err(e),
    };
    unmounted.with_context(|| format!("unmounting {}", args.mountpoint.display()))?;
    eprintln!("bt: unmounted {}", args.mountpoint.display());
    stopped?;
    Ok(ExitCode::SUCCESS)
}

async fn stop_all(mounted: BTreeMap<PathBuf, Mounted>) -> anyhow::Result<()> {
    for (_, m) in mounted {
        let summary = m.session.stop().await;
        if let Err(e) = transfer::save_resume(&m.placement, &summary.have) {
            eprintln!("bt: warning: {e:#}");
        }
    }
    Ok(())
}

/// The `.torrent` and `.magnet` files directly in `dir`, not hidden.
fn sources(dir: &Path) -> BTreeMap<PathBuf, bool> {
    let mut out = BTreeMap::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_ascii_lowercase();
            if name.starts_with('.') {
                continue;
            }
            if name.ends_with(".torrent") {
                out.insert(e.path(), false);
            } else if name.ends_with(".magnet") {
                out.insert(e.path(), true);
            }
        }
    }
    out
}

/// Follows the directory until a signal: adds new torrents, hides removed ones.
async fn follow(
    args: Arc<Args>,
    download_dir: PathBuf,
    state: Arc<Mutex<State>>,
) -> anyhow::Result<BTreeMap<PathBuf, Mounted>> {
    let signal = |kind| tokio::signal::unix::signal(kind).context("installing a signal handler");
    let mut sigint = signal(tokio::signal::unix::SignalKind::interrupt())?;
    let mut sigterm = signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut rescan = tokio::time::interval(Duration::from_secs(1));
    let mut mounted: BTreeMap<PathBuf, Mounted> = BTreeMap::new();
    // Magnet links being resolved (on their own threads), and the torrents they became.
    let mut resolving: BTreeMap<PathBuf, ()> = BTreeMap::new();
    let (resolved_tx, resolved_rx) = mpsc::channel::<(PathBuf, anyhow::Result<Torrent>)>();
    let peers = args.net.peer_addrs()?;
    loop {
        tokio::select! {
            _ = sigint.recv() => return Ok(mounted),
            _ = sigterm.recv() => return Ok(mounted),
            _ = rescan.tick() => {}
        }
        while let Ok((path, torrent)) = resolved_rx.try_recv() {
            resolving.remove(&path);
            match torrent {
                Ok(t) => add(&args, &download_dir, &state, &mut mounted, &peers, path, &t).await,
                Err(e) => eprintln!("bt: {}: {e:#}", path.display()),
            }
        }
        let now = sources(&args.metainfo_dir);
        for (path, &magnet) in &now {
            if mounted.contains_key(path) || resolving.contains_key(path) {
                continue;
            }
            if magnet {
                let link = match std::fs::read_to_string(path) {
                    Ok(l) => l.trim().to_owned(),
                    Err(e) => {
                        eprintln!("bt: {}: {e}", path.display());
                        continue;
                    }
                };
                resolving.insert(path.clone(), ());
                let (tx, args, dir, path) = (
                    resolved_tx.clone(),
                    args.clone(),
                    download_dir.clone(),
                    path.clone(),
                );
                tokio::spawn(async move {
                    let r = fetch_magnet(&link, &dir, &args).await;
                    let _ = tx.send((path, r));
                });
            } else {
                match Torrent::read(path) {
                    Ok(t) => {
                        add(
                            &args,
                            &download_dir,
                            &state,
                            &mut mounted,
                            &peers,
                            path.clone(),
                            &t,
                        )
                        .await
                    }
                    Err(e) => {
                        // Maybe still being written: tried again at the next rescan.
                        log::info!("{}: {e}", path.display());
                    }
                }
            }
        }
        let gone: Vec<PathBuf> = mounted
            .keys()
            .filter(|p| !now.contains_key(*p))
            .cloned()
            .collect();
        for path in gone {
            if let Some(m) = mounted.remove(&path) {
                state
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(m.index);
                let summary = m.session.stop().await;
                let _ = transfer::save_resume(&m.placement, &summary.have);
                eprintln!("bt: {}: removed", path.display());
            }
        }
    }
}

/// Starts `torrent` (from `path`) and shows its files.
async fn add(
    args: &Args,
    download_dir: &Path,
    state: &Arc<Mutex<State>>,
    mounted: &mut BTreeMap<PathBuf, Mounted>,
    peers: &[std::net::SocketAddr],
    path: PathBuf,
    torrent: &Torrent,
) {
    match start(args, download_dir, torrent).await {
        Ok((session, placement)) => {
            for p in peers {
                session.add_peer(*p);
            }
            let info = torrent.info();
            let files: Vec<(Vec<String>, u64, bool)> = info
                .files()
                .iter()
                .map(|f| (f.path.clone(), f.length, f.pad || f.symlink.is_some()))
                .collect();
            let index = state.lock().unwrap_or_else(PoisonError::into_inner).add(
                info.name(),
                info.is_multi_file(),
                &files,
                session.readers(),
            );
            eprintln!(
                "bt: {}: {} ({} files)",
                path.display(),
                info.name(),
                files.len()
            );
            mounted.insert(
                path,
                Mounted {
                    session,
                    placement,
                    index,
                },
            );
        }
        Err(e) => eprintln!("bt: {}: {e:#}", path.display()),
    }
}

async fn start(
    args: &Args,
    download_dir: &Path,
    torrent: &Torrent,
) -> anyhow::Result<(Session, Placement)> {
    let placement = Placement::in_dir(torrent, download_dir)?;
    let storage = placement.storage();
    let start = super::placement::start_state(torrent, &placement, &storage, false)?;
    let listener = args.net.listen().await?;
    let port = listener.local_addr().context("listener address")?.port();
    let mut sc = transfer::session_config(torrent, &args.net, port);
    sc.seed = true;
    // Only what is read is fetched.
    sc.torrent.picker.priorities = vec![Priority::SKIP; start.have.len() as usize];
    let session = Session::start(sc, Arc::new(storage), start.have, Some(listener));
    Ok((session, placement))
}

/// The torrent of a `.magnet` file's link: kept in `dir` by an earlier run, or fetched in this
/// runtime (`bt download`'s `resolve` runs a runtime of its own, with its own signal handlers,
/// which a long-running mount must not have) and kept.
async fn fetch_magnet(link: &str, dir: &Path, args: &Args) -> anyhow::Result<Torrent> {
    let magnet = torrentkit_metainfo::Magnet::parse(link).context("reading the magnet link")?;
    let kept = kept_path(dir, &magnet.info_hash.to_hex());
    if let Ok(t) = Torrent::read(&kept) {
        if t.info_hash() == magnet.info_hash {
            return Ok(t);
        }
    }
    let (peer_id, seed) = transfer::identity();
    let mut mc = torrentkit_peer::session::MagnetConfig::from_magnet(&magnet, peer_id.0, seed);
    mc.max_metadata_size = args.max_metadata_size;
    mc.encryption = args.net.encryption;
    mc.peers.extend(
        args.net
            .peer_addrs()?
            .into_iter()
            .map(|a| (a, torrentkit_peer::PeerSource::Manual)),
    );
    if mc.peers.is_empty() && mc.trackers.is_empty() {
        bail!(
            "the magnet link names no tracker and no peer (x.pe); give one with --peer HOST:PORT"
        );
    }
    let (tx, _rx) = tokio::sync::watch::channel(torrentkit_peer::session::Progress::default());
    let t = torrentkit_peer::session::fetch_metadata(&mc, None, &tx)
        .await
        .context("fetching the metadata")?;
    t.write_atomic(&kept)
        .with_context(|| format!("keeping the metadata in {}", kept.display()))?;
    Ok(t)
}
