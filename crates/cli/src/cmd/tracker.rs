//! `bt tracker`: run the HTTP and UDP BitTorrent tracker (bttrack's successor).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use torrentkit_tracker_server::{
    AccessLog, Config, DfileStatus, RedisConfig, StoreConfig, Tracker, UdpBind,
};

/// Run a BitTorrent tracker: HTTP announce and scrape, UDP (BEP 15) on the same port, an index
/// page, /metrics and /stats.json. One Common Log Format line per HTTP request goes to standard
/// output; notices go to standard error. Stop it with Ctrl-C or SIGTERM: the dfile is saved first.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The port for HTTP (and UDP, unless --udp-port or --no-udp).
    #[arg(long, short, default_value_t = 6969)]
    port: u16,
    /// The address to listen on (`::` for every IPv6 and, on most systems, IPv4 address).
    #[arg(long, default_value = "0.0.0.0")]
    bind: IpAddr,
    /// The UDP tracker's port, when not the HTTP one.
    #[arg(long, conflicts_with = "no_udp")]
    udp_port: Option<u16>,
    /// Do not run the UDP tracker.
    #[arg(long)]
    no_udp: bool,
    /// Keep swarms in this file across restarts (created when missing; a corrupt one is moved
    /// aside to PATH.corrupt-TIME). Not with a Redis --store, whose own persistence keeps them.
    #[arg(long, value_name = "PATH")]
    dfile: Option<PathBuf>,
    /// Where swarms live: `memory` (this process), or `redis://HOST:PORT/DB`, shared by every
    /// bt tracker pointed at the same Redis (give them the same --udp-secret too).
    #[arg(long, value_name = "URL", default_value = "memory")]
    store: String,
    /// How long one call to a Redis store may take before the announce fails with a failure
    /// reason.
    #[arg(long, default_value = "2s", value_parser = duration_ms)]
    store_timeout: Duration,
    /// Key UDP connection ids with this secret, so that ids issued by one tracker are accepted
    /// by every tracker given the same secret (trackers sharing a Redis store).
    #[arg(long, value_name = "SECRET")]
    udp_secret: Option<String>,
    /// Track only the torrents whose .torrent files are in this directory, and serve those files
    /// at /torrents/INFOHASH.torrent.
    #[arg(long, value_name = "DIR")]
    allowed_dir: Option<PathBuf>,
    /// Accept `POST /publish` of .torrent files carrying this token (as `Authorization: Bearer`).
    #[arg(long, value_name = "TOKEN")]
    publish_token: Option<String>,
    /// Seconds clients should wait between announces (or with a unit: 30m, 1h).
    #[arg(long, default_value = "30m", value_parser = duration)]
    interval: Duration,
    /// Clients must not announce more often than this.
    #[arg(long, default_value = "15m", value_parser = duration)]
    min_interval: Duration,
    /// Peers that have not announced for this long are dropped.
    #[arg(long, default_value = "45m", value_parser = duration)]
    peer_timeout: Duration,
    /// The most peers kept per torrent.
    #[arg(long, default_value_t = 10_000)]
    max_peers: usize,
    /// The most torrents tracked.
    #[arg(long, default_value_t = 1_000_000)]
    max_torrents: usize,
    /// The most peers in one reply, whatever numwant asks.
    #[arg(long, default_value_t = 200)]
    max_numwant: usize,
    /// How often the dfile is saved.
    #[arg(long, default_value = "5m", value_parser = duration)]
    save_interval: Duration,
    /// How often the allowed directory is rescanned.
    #[arg(long, default_value = "1m", value_parser = duration)]
    rescan_interval: Duration,
    /// Believe the `ip=` announce parameter (only behind a trusted network).
    #[arg(long)]
    trust_ip_param: bool,
    /// Take the client address from X-Forwarded-For (only behind your own reverse proxy).
    #[arg(long)]
    trust_proxy: bool,
    /// How long an HTTP client has to send a complete request head (and how long an idle
    /// keep-alive connection is kept); then the connection is closed.
    #[arg(long, default_value = "10s", value_parser = duration)]
    header_timeout: Duration,
    /// The most HTTP connections open at once from one client IP; more are closed at once.
    #[arg(long, default_value_t = 256)]
    max_connections_per_ip: usize,
    /// Do not log requests.
    #[arg(long, short)]
    quiet: bool,
    /// Worker threads (default: one per core). More workers than cores only add context switches
    /// under load: measured with wrk on 2 cores, 4 workers raised p99 latency above opentracker's,
    /// 2 workers kept it well below.
    #[arg(long)]
    threads: Option<usize>,
    /// Serve HTTPS with this PEM certificate chain (needs --tls-key); UDP is unchanged.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

/// The fewest worker threads by default; see `--threads`.
const MIN_DEFAULT_WORKERS: usize = 1;

/// Seconds, or a number with a unit: `90`, `90s`, `15m`, `2h`.
fn duration(s: &str) -> Result<Duration, String> {
    let (digits, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{s}` is not a duration (like 90, 90s, 15m, 2h)"))?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("unknown unit `{unit}` in `{s}` (use s, m or h)")),
    };
    Ok(Duration::from_secs(secs))
}

/// A duration as [`duration`] takes it, or in milliseconds: `500ms`.
fn duration_ms(s: &str) -> Result<Duration, String> {
    match s.strip_suffix("ms") {
        Some(ms) => ms
            .parse()
            .map(Duration::from_millis)
            .map_err(|_| format!("`{s}` is not a duration (like 500ms, 2s)")),
        None => duration(s),
    }
}

/// The store `--store` names.
fn store(args: &Args) -> anyhow::Result<StoreConfig> {
    if args.store == "memory" {
        return Ok(StoreConfig::Memory);
    }
    let mut redis = RedisConfig::new(&args.store).map_err(|e| anyhow::anyhow!("--store: {e}"))?;
    anyhow::ensure!(
        args.dfile.is_none(),
        "--dfile cannot be used with --store {}: the swarms are in Redis, which keeps them \
         across restarts with its own persistence (RDB or AOF)",
        args.store
    );
    anyhow::ensure!(
        !args.store_timeout.is_zero(),
        "--store-timeout 0: Redis needs some time to answer"
    );
    redis.timeout = args.store_timeout;
    Ok(StoreConfig::Redis(redis))
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let http = SocketAddr::new(args.bind, args.port);
    let store = store(&args)?;
    if matches!(store, StoreConfig::Redis(_)) && args.udp_secret.is_none() && !args.no_udp {
        eprintln!(
            "bt tracker: warning: without --udp-secret, UDP connection ids issued here are not \
             accepted by the other trackers on this Redis"
        );
    }
    if let Some(dir) = &args.allowed_dir {
        anyhow::ensure!(
            dir.is_dir(),
            "--allowed-dir {}: not a directory",
            dir.display()
        );
    }
    anyhow::ensure!(
        !args.header_timeout.is_zero(),
        "--header-timeout 0: a client needs some time to send its request"
    );
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(
            torrentkit_tracker_server::TlsConfig::from_pem_files(cert, key)
                .map_err(|e| anyhow::anyhow!("--tls-cert/--tls-key: {e}"))?,
        ),
        _ => None,
    };
    let config = Config {
        tls,
        interval: args.interval,
        min_interval: args.min_interval,
        peer_timeout: args.peer_timeout,
        max_peers_per_torrent: args.max_peers,
        max_torrents: args.max_torrents,
        max_numwant: args.max_numwant,
        save_interval: args.save_interval,
        rescan_interval: args.rescan_interval,
        dfile: args.dfile.clone(),
        allowed_dir: args.allowed_dir.clone(),
        publish_token: args.publish_token.clone(),
        trust_ip_param: args.trust_ip_param,
        trust_proxy_headers: args.trust_proxy,
        header_timeout: args.header_timeout,
        max_connections_per_ip: args.max_connections_per_ip,
        store,
        udp_secret: args.udp_secret.clone(),
        udp: match (args.no_udp, args.udp_port) {
            (true, _) => UdpBind::Off,
            (false, Some(p)) => UdpBind::Addr(SocketAddr::new(args.bind, p)),
            (false, None) => UdpBind::SamePort,
        },
        ..Config::default()
    };
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    runtime.worker_threads(
        args.threads
            .unwrap_or(cores.max(MIN_DEFAULT_WORKERS))
            .max(1),
    );
    let runtime = runtime.build().context("starting the async runtime")?;
    runtime.block_on(serve(http, config, args.quiet))?;
    Ok(ExitCode::SUCCESS)
}

async fn serve(http: SocketAddr, config: Config, quiet: bool) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(http)
        .await
        .with_context(|| format!("listening on {http}"))?;
    let local = listener
        .local_addr()
        .context("reading the listening address")?;
    let dfile = config.dfile.clone();
    let udp = config.udp;
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let tracker = Tracker::new(config, std::time::Instant::now());
    let t = tracker.clone();
    let status = tokio::task::spawn_blocking(move || t.load_dfile())
        .await
        .context("loading the dfile")??;
    let dfile_name = dfile
        .as_deref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    match status {
        DfileStatus::Created => eprintln!("bt tracker: created dfile {dfile_name}"),
        DfileStatus::Loaded(r) => eprintln!(
            "bt tracker: loaded {} peers in {} torrents from {dfile_name}",
            r.peers, r.torrents
        ),
        DfileStatus::MovedAside { error, to } => eprintln!(
            "bt tracker: warning: {dfile_name}: {error}; moved aside to {} and starting empty",
            to.display()
        ),
        _ => {}
    }
    if tracker.config().allowed_dir.is_some() {
        let t = tracker.clone();
        let report = tokio::task::spawn_blocking(move || t.rescan())
            .await
            .context("scanning the allowed directory")??;
        for (path, why) in &report.errors {
            eprintln!("bt tracker: warning: skipping {}: {why}", path.display());
        }
        eprintln!(
            "bt tracker: tracking {} torrents from the allowed directory",
            report.added
        );
    }
    let _ = tracker.set_notice_handler(Box::new(|notice| {
        eprintln!("bt tracker: warning: {notice}");
    }));
    if !quiet {
        let _ = tracker.set_access_log(AccessLog::new(std::io::stdout()));
    }
    let udp_note = match udp {
        UdpBind::Off => String::new(),
        UdpBind::Addr(a) => format!(" and udp://{a}/announce"),
        _ => format!(" and udp://{local}/announce"),
    };
    eprintln!(
        "bt tracker: announce URL {scheme}://{local}/announce{udp_note} (swarms in {})",
        tracker.store_name()
    );
    tracker
        .serve(listener, shutdown_signal())
        .await
        .context("running the tracker")?;
    eprintln!("bt tracker: stopped");
    Ok(())
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    {
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending().await,
            }
        };
        tokio::select! {
            () = ctrl_c => {}
            () = term => {}
        }
    }
    #[cfg(not(unix))]
    ctrl_c.await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(duration("2h"), Ok(Duration::from_secs(7200)));
        assert!(duration("5d").unwrap_err().contains("unknown unit `d`"));
        assert!(duration("m").unwrap_err().contains("not a duration"));
        assert_eq!(duration_ms("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(duration_ms("3s"), Ok(Duration::from_secs(3)));
    }
}
