//! `bt make`: create a torrent from a file or a directory (btmakemetafile, mktorrent).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use torrentkit_metainfo::{MetaVersion, Torrent, TorrentBuilder};

use super::torrent_common::{human_size, progress_bar, tiers};

/// Arguments of `bt make`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The file or directory to make a torrent of.
    path: PathBuf,
    /// Where to write the torrent (default: PATH.torrent next to the data).
    #[arg(short, long, value_name = "OUT")]
    output: Option<PathBuf>,
    /// Replace OUT if it exists.
    #[arg(short, long)]
    force: bool,
    #[command(flatten)]
    options: MakeOptions,
}

/// The options shared by `bt make` and `bt make-each`.
#[derive(Debug, clap::Args)]
pub(crate) struct MakeOptions {
    /// A tracker tier: one URL, or several separated by commas (repeat for more tiers).
    #[arg(
        short,
        long = "tracker",
        visible_alias = "tier",
        value_name = "URL[,URL...]"
    )]
    trackers: Vec<String>,
    /// Bytes per piece: a power of two such as 262144, 256K, 4M, or an exponent (18 = 256 KiB).
    /// Default: the smallest power of two giving at most 2048 pieces, within 16 KiB..16 MiB.
    #[arg(short = 'l', long, value_name = "SIZE", value_parser = parse_piece_length)]
    piece_length: Option<u64>,
    /// Set the private flag (BEP 27): peers only from the trackers.
    #[arg(short, long)]
    private: bool,
    /// A comment stored in the torrent.
    #[arg(short, long)]
    comment: Option<String>,
    /// A web seed URL (BEP 19 `url-list`); repeat for more.
    #[arg(short, long = "web-seed", value_name = "URL")]
    web_seeds: Vec<String>,
    /// An HTTP seed URL (BEP 17 `httpseeds`); repeat for more.
    #[arg(long = "http-seed", value_name = "URL")]
    http_seeds: Vec<String>,
    /// A DHT node (BEP 5 `nodes`) for a trackerless torrent, as HOST:PORT; repeat for more.
    #[arg(long = "dht-node", value_name = "HOST:PORT", value_parser = parse_dht_node)]
    dht_nodes: Vec<(String, u16)>,
    /// The `source` tag in `info` (private trackers use it; it changes the info-hash).
    #[arg(short, long)]
    source: Option<String>,
    /// Leave out the creation date.
    #[arg(long)]
    no_date: bool,
    /// The torrent's name (default: the file or directory name).
    #[arg(short, long)]
    name: Option<String>,
    /// Leave out files and directories whose name or relative path matches GLOB; repeat for more.
    #[arg(short = 'x', long, value_name = "GLOB")]
    exclude: Vec<String>,
    /// Leave out entries named `CVS` and `core`, as the original btmakemetafile did.
    #[arg(long)]
    skip_cvs_core: bool,
    /// Follow symbolic links (default: skip them).
    #[arg(long)]
    follow_symlinks: bool,
    /// Hashing threads (default: one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Make a BitTorrent v2 torrent (BEP 52: per-file SHA-256 Merkle roots and piece layers),
    /// which v1-only clients cannot read.
    #[arg(long, conflicts_with = "hybrid")]
    v2: bool,
    /// Make a hybrid torrent: v1 and v2 metadata over the same files (each file aligned to a
    /// piece with pad files, as libtorrent makes them), for v1 and v2 clients alike.
    #[arg(long)]
    hybrid: bool,
}

impl MakeOptions {
    /// The `--tracker` values as given (each one tier, URLs separated by commas).
    pub(crate) fn trackers(&self) -> &[String] {
        &self.trackers
    }
}

/// `--dht-node HOST:PORT`: a host name or address (IPv6 in brackets) and a port 1..65535.
fn parse_dht_node(s: &str) -> Result<(String, u16), String> {
    let (host, port) = s
        .rsplit_once(':')
        .ok_or_else(|| format!("{s}: not HOST:PORT"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port: u16 = port
        .parse()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| format!("{s}: the port must be 1..65535"))?;
    if host.is_empty() {
        return Err(format!("{s}: no host"));
    }
    Ok((host.to_owned(), port))
}

fn parse_piece_length(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (digits, mult) = match t
        .to_ascii_lowercase()
        .trim_end_matches("ib")
        .trim_end_matches('b')
    {
        x if x.ends_with('k') => (x[..x.len() - 1].to_owned(), 1u64 << 10),
        x if x.ends_with('m') => (x[..x.len() - 1].to_owned(), 1 << 20),
        x if x.ends_with('g') => (x[..x.len() - 1].to_owned(), 1 << 30),
        x => (x.to_owned(), 1),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{s}` is not a size (try 262144, 256K, 4M or 18)"))?;
    let bytes = if mult == 1 && n <= 30 {
        1u64 << n
    } else {
        n * mult
    };
    if !bytes.is_power_of_two() || bytes < 16 * 1024 {
        return Err(format!(
            "{bytes} bytes is not a power of two of at least 16 KiB"
        ));
    }
    Ok(bytes)
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let out = match args.output {
        Some(o) => o,
        None => default_output(&args.path)?,
    };
    make_one(&args.path, &out, args.force, &args.options)?;
    Ok(ExitCode::SUCCESS)
}

/// `PATH.torrent` beside the data.
pub(crate) fn default_output(path: &Path) -> anyhow::Result<PathBuf> {
    let real;
    let named = if path.file_name().is_some() {
        path
    } else {
        real = std::fs::canonicalize(path).with_context(|| path.display().to_string())?;
        &real
    };
    let name = named
        .file_name()
        .with_context(|| format!("{}: has no name; give -o", path.display()))?;
    let mut file = name.to_os_string();
    file.push(".torrent");
    Ok(named.with_file_name(file))
}

/// Builds one torrent and writes it; prints a one-line summary on stdout.
pub(crate) fn make_one(
    path: &Path,
    out: &Path,
    force: bool,
    o: &MakeOptions,
) -> anyhow::Result<Torrent> {
    if out.exists() && !force {
        bail!("{} exists; use --force to replace it", out.display());
    }
    let mut builder = TorrentBuilder::new(path)
        .private(o.private)
        .threads(o.threads)
        .follow_symlinks(o.follow_symlinks)
        .skip_cvs_and_core(o.skip_cvs_core)
        .meta_version(match (o.v2, o.hybrid) {
            (true, _) => MetaVersion::V2,
            (_, true) => MetaVersion::Hybrid,
            _ => MetaVersion::V1,
        })
        .created_by(concat!("torrentkit bt ", env!("CARGO_PKG_VERSION")));
    for tier in tiers(&o.trackers) {
        builder = builder.tier(tier);
    }
    if let Some(p) = o.piece_length {
        builder = builder.piece_length(p);
    }
    for w in &o.web_seeds {
        builder = builder.web_seed(w);
    }
    for h in &o.http_seeds {
        builder = builder.http_seed(h);
    }
    for (host, port) in &o.dht_nodes {
        builder = builder.dht_node(host, *port);
    }
    for g in &o.exclude {
        builder = builder.exclude(g);
    }
    if let Some(c) = &o.comment {
        builder = builder.comment(c);
    }
    if let Some(s) = &o.source {
        builder = builder.source(s);
    }
    if let Some(n) = &o.name {
        builder = builder.name(n);
    }
    if !o.no_date {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        builder = builder.creation_date(now);
    }
    let files = builder
        .scan()
        .with_context(|| format!("scanning {}", path.display()))?;
    let total: u64 = files.iter().map(|f| f.length).sum();
    let bar = progress_bar(total, "hashing");
    let started = Instant::now();
    let draw = |done: u64, _: u64| bar.set_position(done);
    let quiet = |_: u64, _: u64| {};
    let progress: torrentkit_metainfo::Progress<'_> = if bar.is_hidden() { &quiet } else { &draw };
    let torrent = builder
        .build_from(&files, progress)
        .with_context(|| format!("making a torrent of {}", path.display()))?;
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    torrent
        .write_atomic(out)
        .with_context(|| format!("writing {}", out.display()))?;
    let info = torrent.info();
    let hashes = match (torrent.info_hash_v1(), torrent.info_hash_v2()) {
        (Some(v1), Some(v2)) => format!("v1 {v1}, v2 {v2}"),
        (None, Some(v2)) => v2.to_hex(),
        _ => torrent.info_hash().to_hex(),
    };
    println!(
        "{}: {hashes} ({} in {} file{}, {} pieces of {}, hashed at {}/s)",
        out.display(),
        human_size(info.total_size()),
        info.files().len(),
        if info.files().len() == 1 { "" } else { "s" },
        info.piece_count(),
        human_size(info.piece_length()),
        human_size((info.total_size() as f64 / secs.max(1e-9)) as u64),
    );
    Ok(torrent)
}
