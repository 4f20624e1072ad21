//! `bt download SOURCE`: fetch a torrent's data from its swarm (btdownloadheadless), resume
//! where a previous run stopped, then seed per `--seed-ratio`/`--seed-time`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};

use torrentkit_peer::SeedLimits;

use super::magnet_download::{is_magnet, resolve};
use super::placement;
use super::select::{selection, SelectArgs};
use super::source::load_source;
use super::storage_arg::{self, parse_storage, StorageKind};
use super::transfer::{self, NetArgs};
use super::units::parse_size;

/// `--seed-ratio`'s default.
const SEED_RATIO: f64 = 1.0;

/// Arguments of `bt download`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "The resume file .NAME.bt-resume sits beside the data: a stopped or killed \
download starts again from the verified pieces (trusted as is when the files' sizes and mtimes \
still match it, otherwise the data is hashed again). Ctrl-C or SIGTERM announces `stopped`, saves \
it and exits 0."
)]
pub(crate) struct Args {
    /// The torrent: a .torrent file, an http:// URL of one, or a magnet link (BEP 9: the
    /// metadata is fetched from the link's peers and trackers and --peer first).
    source: String,
    /// Save the data as this path: the file of a single-file torrent, the top directory of a
    /// multi-file one.
    #[arg(long, value_name = "PATH", conflicts_with = "output")]
    save_as: Option<PathBuf>,
    /// Save the data in this directory under the torrent's name (default: the current directory).
    #[arg(short, long, value_name = "DIR")]
    output: Option<PathBuf>,
    /// After completing, seed until uploaded / size reaches this ratio.
    #[arg(long, value_name = "RATIO", default_value_t = SEED_RATIO)]
    seed_ratio: f64,
    /// After completing, seed at most this many seconds (0: exit as soon as the download is
    /// complete). Seeding ends at whichever limit comes first.
    #[arg(long, value_name = "SECS")]
    seed_time: Option<u64>,
    /// Hash the data on disk even if the resume file matches it.
    #[arg(long)]
    check: bool,
    /// Write the torrent (for a magnet link: once its metadata is fetched) to this path.
    #[arg(long, value_name = "PATH")]
    save_torrent: Option<PathBuf>,
    /// The largest metadata a magnet link's peers may announce (e.g. 16M; libtorrent allows
    /// 30M, aria2 8M).
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "16M")]
    max_metadata_size: u64,
    /// Where to keep the data: file (the torrent's files, the default), memory (gone at exit),
    /// or sqlite:PATH (pieces as blobs in an SQLite database; no resume file needed).
    #[arg(long, value_name = "KIND", value_parser = parse_storage, default_value = "file")]
    storage: StorageKind,
    #[command(flatten)]
    select: SelectArgs,
    #[command(flatten)]
    net: NetArgs,
}

impl Args {
    /// The download of `source` into the directory `output`, every other option at its default.
    pub(crate) fn into_dir(source: String, output: PathBuf, net: NetArgs) -> Args {
        Args {
            source,
            save_as: None,
            output: Some(output),
            seed_ratio: SEED_RATIO,
            seed_time: None,
            check: false,
            save_torrent: None,
            max_metadata_size: torrentkit_peer::DEFAULT_MAX_METADATA_SIZE,
            storage: StorageKind::File,
            select: SelectArgs::default(),
            net,
        }
    }
}

pub(crate) fn run(mut args: Args) -> anyhow::Result<ExitCode> {
    if !(args.seed_ratio.is_finite() && args.seed_ratio >= 0.0) {
        bail!("--seed-ratio {}: must be a number >= 0", args.seed_ratio);
    }
    // A magnet link's `so=` (BEP 53) selects files as --only does.
    let mut select_only = Vec::new();
    let torrent = if is_magnet(&args.source) {
        // The metadata is kept in the download directory, beside the resume file.
        let dir = match (&args.save_as, &args.output) {
            (Some(p), _) => p
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .map_or_else(|| PathBuf::from("."), PathBuf::from),
            (None, Some(d)) => d.clone(),
            (None, None) => PathBuf::from("."),
        };
        let (torrent, hints) = resolve(
            &args.source,
            &dir,
            &args.net,
            args.max_metadata_size,
            args.save_torrent.as_deref(),
        )?;
        args.net.magnet_peers = hints;
        if let Ok(m) = torrentkit_metainfo::Magnet::parse(&args.source) {
            select_only = m.select_only;
        }
        torrent
    } else {
        let torrent = load_source(&args.source)?;
        if let Some(path) = &args.save_torrent {
            torrent
                .write_atomic(path)
                .with_context(|| format!("--save-torrent {}", path.display()))?;
        }
        torrent
    };
    args.net.selection = selection(&torrent, &args.select, &select_only)?;
    let placement =
        placement::from_args(&torrent, args.save_as.as_deref(), args.output.as_deref())?;
    std::fs::create_dir_all(&placement.root)
        .with_context(|| format!("creating {}", placement.root.display()))?;
    let (storage, start) = storage_arg::open(&args.storage, &torrent, &placement, args.check)?;
    let limits = SeedLimits {
        ratio: Some(args.seed_ratio),
        time: args.seed_time.map(Duration::from_secs),
    };
    transfer::run(&torrent, &placement, storage, start, &args.net, limits)
}
