//! Running one torrent with the peer engine for `bt download` and `bt seed`: the listener
//! (6881, then up to 6889), the session, signals (Ctrl-C/SIGTERM announce `stopped`, save the
//! resume file and exit 0), seeding limits, periodic resume saves, status and the summary.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use tokio::sync::mpsc::UnboundedReceiver;
use torrentkit_metainfo::Torrent;
use torrentkit_peer::session::{
    bind_listener, Encryption, Session, SessionConfig, Start, StartKind, Transport,
};
use torrentkit_peer::storage::Storage;
use torrentkit_peer::webseed::WebSeedKind;
// `SeedLimits` is re-exported for `bt publish` (cmd/publish.rs), which names it through here.
pub(crate) use torrentkit_peer::SeedLimits;
use torrentkit_peer::{Placement, Rng};
use torrentkit_wire::PeerId;

use super::status::Status;
use super::torrent_common::human_size;
use super::tui::UserAction;
use super::units::{human_rate, parse_rate};

/// How often `--peer` addresses are dialled again while the download is incomplete.
pub(crate) const PEER_RETRY: Duration = Duration::from_secs(10);
/// `--status-interval`'s default, seconds.
const STATUS_INTERVAL: f64 = 1.0;
/// `--resume-interval`'s default, seconds.
const RESUME_INTERVAL: f64 = 5.0;

/// Network and output options shared by `bt download` and `bt seed`.
#[derive(Debug, clap::Args)]
pub(crate) struct NetArgs {
    /// Port to accept peers on; when taken, the next ones up to 6889 are tried (0: any free port).
    #[arg(long, default_value_t = 6881)]
    pub(crate) port: u16,
    /// Address to listen on for peers.
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0")]
    pub(crate) bind: IpAddr,
    /// The IP address to give the tracker, when it is not the one the tracker sees.
    #[arg(long, value_name = "ADDR")]
    pub(crate) ip: Option<IpAddr>,
    /// Also connect to this peer (repeatable).
    #[arg(long = "peer", value_name = "HOST:PORT")]
    pub(crate) peers: Vec<String>,
    /// Most bytes per second uploaded, e.g. 500K or 2M (0: unlimited).
    #[arg(long, value_name = "RATE", value_parser = parse_rate, default_value = "0")]
    pub(crate) max_upload_rate: u64,
    /// Most bytes per second downloaded, e.g. 500K or 2M (0: unlimited).
    #[arg(long, value_name = "RATE", value_parser = parse_rate, default_value = "0")]
    pub(crate) max_download_rate: u64,
    /// Seconds between status lines when stderr is not a terminal.
    #[arg(long, value_name = "SECS", default_value_t = STATUS_INTERVAL)]
    pub(crate) status_interval: f64,
    /// Seconds between saves of the resume file while pieces come in (it is always saved on
    /// exit).
    #[arg(long, value_name = "SECS", default_value_t = RESUME_INTERVAL)]
    pub(crate) resume_interval: f64,
    /// Print a JSON summary on stdout at the end.
    #[arg(long)]
    pub(crate) json: bool,
    /// Show a live view in the terminal: progress, rates, the peers with their clients and
    /// flags, each file's progress; keys: q quit, p pause/resume (plain status lines when stdin
    /// or stdout is not a terminal).
    #[arg(long)]
    pub(crate) tui: bool,
    /// Protocol encryption (MSE/PE): prefer (dial encrypted, retry once in plaintext, accept
    /// both), require (RC4 only, both ways), plaintext (dial in plaintext, accept both).
    #[arg(long, value_name = "MODE", default_value_t = Encryption::Prefer)]
    pub(crate) encryption: Encryption,
    /// Peer transports: both (dial uTP first, TCP beside it after 250 ms without an answer; accept
    /// both), utp (uTP only, on the peer port's UDP socket), tcp (TCP only, no uTP socket).
    #[arg(long, value_name = "KIND", default_value_t = Transport::Both)]
    pub(crate) transport: Transport,
    /// Do not download from the torrent's web seeds (BEP 19 url-list, BEP 17 httpseeds).
    #[arg(long)]
    pub(crate) no_web_seeds: bool,
    /// Super-seed (BEP 16) once complete: peers are shown one piece at a time, so the swarm
    /// makes the copies and this seed uploads about one.
    #[arg(long)]
    pub(crate) super_seed: bool,
    /// Do not use the DHT (BEP 5): peers only from trackers, PEX and --peer. Private torrents
    /// never use it.
    #[arg(long)]
    pub(crate) no_dht: bool,
    /// A DHT bootstrap node (repeatable; default router.bittorrent.com:6881,
    /// dht.transmissionbt.com:6881, router.utorrent.com:6881, asked only when no saved routing
    /// table answers).
    #[arg(long = "dht-bootstrap", value_name = "HOST:PORT")]
    pub(crate) dht_bootstrap: Vec<String>,
    /// A magnet link's `x.pe` peers (not a flag: `bt download MAGNET` fills it in).
    #[arg(skip)]
    pub(crate) magnet_peers: Vec<SocketAddr>,
    /// The files to download and the order (not a flag here: `bt download`'s --only, --skip,
    /// --sequential and `so=` fill it in).
    #[arg(skip)]
    pub(crate) selection: super::select::Selection,
}

impl NetArgs {
    /// Every option at its default, listening on `bind`:`port`.
    pub(crate) fn listening_on(bind: IpAddr, port: u16) -> NetArgs {
        NetArgs {
            port,
            bind,
            ip: None,
            peers: Vec::new(),
            max_upload_rate: 0,
            max_download_rate: 0,
            status_interval: STATUS_INTERVAL,
            resume_interval: RESUME_INTERVAL,
            json: false,
            tui: false,
            encryption: Encryption::Prefer,
            transport: Transport::Both,
            no_web_seeds: false,
            super_seed: false,
            no_dht: false,
            dht_bootstrap: Vec::new(),
            magnet_peers: Vec::new(),
            selection: Default::default(),
        }
    }

    /// The `--dht-bootstrap` routers, or the well-known ones.
    pub(crate) fn dht_routers(&self) -> Vec<String> {
        if self.dht_bootstrap.is_empty() {
            super::dht_node::DEFAULT_ROUTERS.map(String::from).to_vec()
        } else {
            self.dht_bootstrap.clone()
        }
    }

    /// Starts the run's DHT node on UDP `port` (the peer listener's), unless `--no-dht` or
    /// the torrent is `private`; `contacts` are its `nodes`.
    pub(crate) async fn start_dht(
        &self,
        port: u16,
        private: bool,
        contacts: &[(String, u16)],
        seed: u64,
    ) -> Option<super::dht_node::DhtNode> {
        if self.no_dht || private {
            return None;
        }
        let state = super::dht_node::state_path("dht.dat");
        super::dht_node::DhtNode::start(
            self.bind,
            port,
            &self.dht_routers(),
            contacts,
            state,
            seed,
            None,
        )
        .await
    }

    /// The run's UDP port (the peer listener's number): the DHT node on it as
    /// [`start_dht`](Self::start_dht) starts one, and its uTP endpoint whenever `--transport`
    /// allows uTP, also with the DHT off.
    pub(crate) async fn start_udp(
        &self,
        port: u16,
        private: bool,
        contacts: &[(String, u16)],
        seed: u64,
    ) -> super::udp::PeerUdp {
        let dht = self.start_dht(port, private, contacts, seed).await;
        super::udp::PeerUdp::new(dht, self.bind, port, self.transport).await
    }

    /// The `--peer` addresses, resolved.
    pub(crate) fn peer_addrs(&self) -> anyhow::Result<Vec<SocketAddr>> {
        self.peers
            .iter()
            .map(|p| {
                p.to_socket_addrs()
                    .with_context(|| format!("--peer {p}: not a HOST:PORT"))?
                    .next()
                    .with_context(|| format!("--peer {p}: no address"))
            })
            .collect()
    }

    /// Binds the peer listener on `--bind`: `--port`, or the next free one up to 6889 (0: any).
    pub(crate) async fn listen(&self) -> anyhow::Result<tokio::net::TcpListener> {
        let ports = if self.port == 0 {
            0..=0
        } else {
            self.port..=self.port.max(6889)
        };
        bind_listener(self.bind, ports)
            .await
            .context("listening for peers")
    }
}

/// A fresh peer id for this run and the seed of its randomness (time and process id).
pub(crate) fn identity() -> (PeerId, u64) {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let seed = nanos ^ (u64::from(std::process::id()) << 32);
    let mut random = [0u8; 12];
    Rng::new(seed).fill(&mut random);
    (PeerId::generate(random), seed)
}

/// The multi-threaded runtime the peer engine runs on.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// The session settings of `torrent` from the network options, accepting peers on `port`:
/// identity, encryption, rates, web seeds, super-seeding and the file selection.
pub(crate) fn session_config(torrent: &Torrent, net: &NetArgs, port: u16) -> SessionConfig {
    let (peer_id, seed) = identity();
    let mut sc = SessionConfig::from_torrent(torrent, peer_id.0, seed);
    sc.listen_port = port;
    sc.announce_ip = net.ip;
    sc.encryption = net.encryption;
    sc.torrent.super_seed = net.super_seed;
    sc.torrent.picker.priorities = net.selection.priorities.clone();
    sc.torrent.picker.sequential |= net.selection.sequential;
    sc.max_upload_rate = (net.max_upload_rate > 0).then_some(net.max_upload_rate);
    sc.max_download_rate = (net.max_download_rate > 0).then_some(net.max_download_rate);
    if net.no_web_seeds {
        sc.web_seeds = Default::default();
    }
    sc
}

/// Why the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    Complete,
    SeedLimit,
    Signal,
    Quit,
    Error,
}

impl Ended {
    fn as_str(self) -> &'static str {
        match self {
            Ended::Complete => "complete",
            Ended::SeedLimit => "seed-limit",
            Ended::Signal => "signal",
            Ended::Quit => "quit",
            Ended::Error => "error",
        }
    }
}

/// Runs `torrent` over `placement` from `start` until complete (and seeded per `limits`),
/// a signal, or an error.
pub(crate) fn run(
    torrent: &Torrent,
    placement: &Placement,
    storage: Arc<dyn Storage>,
    start: Start,
    net: &NetArgs,
    limits: SeedLimits,
) -> anyhow::Result<ExitCode> {
    let peers = net.peer_addrs()?;
    runtime()?.block_on(run_async(
        torrent, placement, storage, start, net, limits, peers,
    ))
}

async fn run_async(
    torrent: &Torrent,
    placement: &Placement,
    storage: Arc<dyn Storage>,
    start: Start,
    net: &NetArgs,
    limits: SeedLimits,
    peers: Vec<SocketAddr>,
) -> anyhow::Result<ExitCode> {
    let info = torrent.info();
    let name = placement.data.file_name().map_or_else(
        || info.name().to_owned(),
        |n| n.to_string_lossy().into_owned(),
    );
    let listener = net.listen().await?;
    let port = listener.local_addr().context("listener address")?.port();
    let mut sc = session_config(torrent, net, port);
    sc.seed = limits.seeds();
    // The DHT and uTP share the listener's port number (on UDP); private torrents never start
    // a DHT node.
    let udp = net
        .start_udp(
            port,
            info.is_private(),
            &torrent.dht_nodes(),
            sc.torrent.seed,
        )
        .await;
    let dht = udp.dht();
    sc.dht = dht.map(|d| d.dht());
    sc.transport = net.transport;
    sc.utp = udp.utp();
    let mut web_dropped = 0;
    let mut web_errors: Vec<Option<String>> = Vec::new();

    let mut status = Status::start(&name, torrent, net.tui);
    let have_at_start = start.have.clone();
    match &start.kind {
        StartKind::Resumed => status.note(&format!(
            "bt: {name}: {}/{} pieces from the resume file",
            start.have.count(),
            start.have.len()
        )),
        StartKind::Rechecked(_) => status.note(&format!(
            "bt: {name}: {}/{} pieces verified on disk",
            start.have.count(),
            start.have.len()
        )),
        StartKind::Fresh => {}
    }
    status.note(&format!(
        "bt: {name}: listening for peers on {}:{port}",
        net.bind
    ));
    let session = Session::start(sc, storage, start.have.clone(), Some(listener));
    for p in &peers {
        session.add_peer(*p);
    }
    for p in &net.magnet_peers {
        session.add_peer_from(*p, torrentkit_peer::PeerSource::MagnetHint);
    }
    if let Some(d) = &dht {
        status.note(&format!("bt: {name}: DHT node on UDP {}", d.local_addr()));
    }
    if let Some(u) = udp.utp() {
        status.note(&format!("bt: {name}: uTP on UDP {}", u.local_addr()));
    }
    if peers.is_empty()
        && net.magnet_peers.is_empty()
        && torrent.trackers().is_empty()
        && dht.is_none()
        && !start.have.is_full()
    {
        status.note(&format!(
            "bt: {name}: warning: the torrent names no tracker and no --peer was given; waiting for peers to connect"
        ));
    }

    let mut progress = session.progress();
    let mut actions = status.actions();
    let mut paused = false;
    // Made once: a `ctrl_c()` future made anew each turn of the loop misses a signal that
    // arrives between two turns.
    let signal = |kind| tokio::signal::unix::signal(kind).context("installing a signal handler");
    let mut sigint = signal(tokio::signal::unix::SignalKind::interrupt())?;
    let mut sigterm = signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut tick = tokio::time::interval(Duration::from_secs_f64(
        net.status_interval.clamp(0.05, 3600.0),
    ));
    let mut resume_tick = tokio::time::interval(Duration::from_secs_f64(
        net.resume_interval.clamp(0.05, 86400.0),
    ));
    resume_tick.tick().await;
    // The engine does not retry a failed peer by itself (a tracker names it again); `--peer`
    // addresses are dialled again while we still need data (a no-op while connected).
    let mut redial = tokio::time::interval(PEER_RETRY);
    redial.tick().await;
    let mut saved = start.have.clone();
    let started = Instant::now();
    let mut completed_at: Option<Instant> = progress.borrow().complete.then(Instant::now);
    let total = info.total_size();
    let mut ended_by_itself = false;
    // Every peer met during the run, last known state, for `--json`.
    let mut seen: std::collections::BTreeMap<SocketAddr, torrentkit_peer::session::PeerInfo> =
        std::collections::BTreeMap::new();
    let mut dht_save = tokio::time::interval(super::dht_node::SAVE_INTERVAL);
    dht_save.tick().await;
    let mut ended = loop {
        tokio::select! {
            _ = sigint.recv() => break Ended::Signal,
            _ = sigterm.recv() => break Ended::Signal,
            Some(action) = next_action(&mut actions) => match action {
                UserAction::Quit => break Ended::Quit,
                UserAction::TogglePause(_) => {
                    paused = !paused;
                    if paused {
                        session.pause();
                    } else {
                        session.resume();
                    }
                }
            },
            changed = progress.changed() => {
                if changed.is_err() {
                    ended_by_itself = true;
                    break Ended::Complete;
                }
                let p = progress.borrow_and_update().clone();
                for peer in &p.peer_list {
                    seen.insert(peer.addr, peer.clone());
                }
                status.refresh(&p);
                web_errors.resize(p.web_seeds.len(), None);
                for (w, seen) in p.web_seeds.iter().zip(&mut web_errors) {
                    if w.last_error.is_some() && w.last_error != *seen && w.dropped.is_none() {
                        status.note(&format!(
                            "bt: {name}: web seed {}: {} (backing off)",
                            w.url,
                            w.last_error.as_deref().unwrap_or_default()
                        ));
                    }
                    seen.clone_from(&w.last_error);
                }
                for w in p.web_seeds.iter().filter(|w| w.dropped.is_some()).skip(web_dropped) {
                    web_dropped += 1;
                    status.note(&format!(
                        "bt: {name}: web seed {} dropped: {}",
                        w.url,
                        w.dropped.as_deref().unwrap_or_default()
                    ));
                }
                if p.complete && completed_at.is_none() {
                    completed_at = Some(Instant::now());
                    status.note(&format!(
                        "bt: {name}: complete in {:.1}s",
                        started.elapsed().as_secs_f64()
                    ));
                }
            }
            _ = tick.tick() => {
                let p = progress.borrow().clone();
                // Complete with `--seed-time 0`: the session is flushing and about to end.
                if limits.seeds() || !p.complete {
                    status.show(&p);
                }
                // With `--seed-time 0` the session ends by itself once complete and flushed.
                if let Some(done) = completed_at.filter(|_| limits.seeds()) {
                    if limits.reached(done, Instant::now(), p.uploaded, total) {
                        break Ended::SeedLimit;
                    }
                }
            }
            _ = redial.tick(), if !peers.is_empty() || !net.magnet_peers.is_empty() => {
                if progress.borrow().wants_peers() {
                    for p in &peers {
                        session.add_peer(*p);
                    }
                    for p in &net.magnet_peers {
                        session.add_peer_from(*p, torrentkit_peer::PeerSource::MagnetHint);
                    }
                }
            }
            _ = dht_save.tick(), if dht.is_some() => {
                if let Some(d) = &dht {
                    d.save().await;
                }
            }
            _ = resume_tick.tick() => {
                let verified = progress.borrow().verified.clone();
                if let Err(e) = placement.save_resume_if_changed(&mut saved, &verified) {
                    status.note(&format!(
                        "bt: warning: saving {}: {e}",
                        placement.resume.display()
                    ));
                }
            }
        }
    };
    let summary = if ended_by_itself {
        session.join().await
    } else {
        status.set_state("stopping");
        session.stop().await
    };
    if let Some(d) = &dht {
        d.save().await;
    }
    status.finish();
    if summary.error.is_some() {
        ended = Ended::Error;
    }
    if summary.have.len() == have_at_start.len() {
        if let Err(e) = save_resume(placement, &summary.have) {
            eprintln!("bt: warning: {e:#}");
        }
    }
    let final_have = if summary.have.len() == have_at_start.len() {
        summary.have.clone()
    } else {
        progress.borrow().verified.clone()
    };
    let secs = started.elapsed().as_secs_f64();
    // The download rate is over the time it took to complete, not the seeding or the
    // `stopped` announce after it.
    let active = completed_at.map_or(secs, |c| c.duration_since(started).as_secs_f64());
    let fetched = final_have
        .iter()
        .filter(|&p| !have_at_start.contains(p))
        .count();
    let redownloaded = start.previous.as_ref().map_or(0, |prev| {
        final_have
            .iter()
            .filter(|&p| !have_at_start.contains(p) && prev.contains(p))
            .count()
    });
    // With --only/--skip, complete means every selected file.
    let complete = net.selection.done(&final_have);
    let start_kind = start.kind.as_str();
    let hash_failures = progress.borrow().hash_failures;
    eprintln!(
        "bt: {name}: {} ({}), {}/{} pieces: {} at start ({start_kind}), {fetched} fetched, {redownloaded} re-downloaded; {} down ({}, {} duplicates), {} up, {hash_failures} hash failures, {secs:.1}s",
        if complete { "complete" } else { "incomplete" },
        ended.as_str(),
        final_have.count(),
        final_have.len(),
        have_at_start.count(),
        human_size(summary.downloaded),
        human_rate(summary.downloaded as f64 / active.max(1e-3)),
        human_size(summary.duplicates),
        human_size(summary.uploaded),
    );
    let web_seeds = progress.borrow().web_seeds.clone();
    let from_web: u64 = web_seeds.iter().map(|w| w.downloaded).sum();
    for w in &web_seeds {
        eprintln!(
            "bt: {name}: web seed {}: {} down, {} hash failures{}",
            w.url,
            human_size(w.downloaded),
            w.hash_failures,
            w.dropped
                .as_deref()
                .map_or(String::new(), |why| format!(", dropped: {why}"))
        );
    }
    if !web_seeds.is_empty() {
        eprintln!(
            "bt: {name}: {} from peers, {} from web seeds",
            human_size(summary.downloaded.saturating_sub(from_web)),
            human_size(from_web)
        );
    }
    if net.json {
        let web_json: Vec<_> = web_seeds
            .iter()
            .map(|w| {
                serde_json::json!({
                    "url": w.url,
                    "source": "web",
                    "kind": match w.kind { WebSeedKind::Url => "url-list", WebSeedKind::Http => "httpseeds" },
                    "downloaded": w.downloaded,
                    "hash_failures": w.hash_failures,
                    "last_error": w.last_error,
                    "dropped": w.dropped,
                })
            })
            .collect();
        let json = serde_json::json!({
            "web_seeds": web_json,
            "downloaded_from_peers": summary.downloaded.saturating_sub(from_web),
            "downloaded_from_web_seeds": from_web,
            "name": name,
            "info_hash": torrent.info_hash().to_hex(),
            "complete": complete,
            "ended": ended.as_str(),
            "pieces": final_have.len(),
            "have": final_have.count(),
            "start": start_kind,
            "pieces_at_start": have_at_start.count(),
            "pieces_fetched": fetched,
            "resume_file_pieces": start.previous.as_ref().map_or(0, |p| p.count()),
            "redownloaded_pieces": redownloaded,
            "downloaded": summary.downloaded,
            "uploaded": summary.uploaded,
            "duplicates": summary.duplicates,
            "hash_failures": hash_failures,
            "seconds": secs,
            "port": port,
            "peers": peer_list_json(seen.values()),
        });
        println!("{json}");
    }
    if let Some(e) = summary.error {
        return Err(anyhow::Error::new(e).context(format!(
            "{name}: stopped; the resume file {} keeps the verified pieces",
            placement.resume.display()
        )));
    }
    Ok(ExitCode::SUCCESS)
}

/// Every peer met, for `--json`: each one's address, client, source and totals.
fn peer_list_json<'a>(
    peers: impl Iterator<Item = &'a torrentkit_peer::session::PeerInfo>,
) -> serde_json::Value {
    peers
        .map(|peer| {
            serde_json::json!({
                "addr": peer.addr.to_string(),
                "client": super::tui::client_name(peer),
                "source": peer.source.as_str(),
                "outgoing": peer.outgoing,
                "transport": if peer.utp { "utp" } else { "tcp" },
                "encrypted": peer.encrypted,
                "downloaded": peer.downloaded,
                "uploaded": peer.uploaded,
            })
        })
        .collect()
}

/// Saves the resume file of `placement` for the verified pieces `have`.
pub(crate) fn save_resume(
    placement: &Placement,
    have: &torrentkit_peer::Bitfield,
) -> anyhow::Result<()> {
    placement
        .save_resume(have)
        .with_context(|| format!("saving {}", placement.resume.display()))
}

/// The next key action of the `--tui` view; never ready without one.
async fn next_action(actions: &mut Option<UnboundedReceiver<UserAction>>) -> Option<UserAction> {
    match actions {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}
