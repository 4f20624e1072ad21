//! The first phase of a magnet download: connections opened for the metadata only (BEP 9),
//! peers from the link's `x.pe` hints, the caller, its `tr` trackers and other peers' PEX; the
//! [`MetadataAssembler`] decides what to ask whom and whom to drop. It ends with the verified
//! `info` dictionary made into a torrent, from which the session continues as for a `.torrent`.
//!
//! A v2-only link (BEP 52 `urn:btmh:`) has its metadata checked by SHA-256 against the v2
//! info-hash, then a second phase on the same connections: the [`PieceLayerFetcher`] asks the
//! peers for each file's piece layer (hash requests), and the torrent made carries them in its
//! `piece layers`, as a `.torrent` would. A hybrid link needs no layers: its v1 piece hashes
//! check the pieces.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use bytes::Bytes;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use torrentkit_metainfo::merkle::Hash256;
use torrentkit_metainfo::{Magnet, Torrent as Metainfo};

use super::encryption::{self, Encryption};
use super::progress::MetadataProgress;
use super::sockets::{self, accept_any, Link, Net, Wrap};
use super::{announce, Command, Permit, Progress, SessionConfig, SessionError};
use crate::connection::{ConnEvent, Connection, ConnectionConfig};
use crate::tracker::{AnnouncerConfig, ClientConfig};
use crate::{
    ConnId, MetadataAssembler, PeerSource, PieceLayerFetcher, TorrentConfig,
    DEFAULT_MAX_METADATA_SIZE,
};

/// Settings for fetching a magnet link's metadata.
#[derive(Debug, Clone)]
pub struct MagnetConfig {
    /// The info-hash the swarm uses (`xt=urn:btih:`, or a v2-only link's truncated v2 one).
    pub info_hash: [u8; 20],
    /// The v2 info-hash (`xt=urn:btmh:1220...`), when the link has one: the handshake sets
    /// the BEP 52 bit and the fetched `info` must have this SHA-256.
    pub info_hash_v2: Option<[u8; 32]>,
    /// The link names a v1 info-hash; false for a v2-only link, whose metadata is checked by
    /// SHA-256 and whose piece layers are fetched from peers.
    pub has_v1: bool,
    /// Our peer id.
    pub peer_id: [u8; 20],
    /// Seed of the session's randomness.
    pub seed: u64,
    /// Tracker tiers (`tr`, one tier each, in the link's order).
    pub trackers: Vec<Vec<String>>,
    /// Peers to ask, with where they came from (`x.pe` hints, the user).
    pub peers: Vec<(SocketAddr, PeerSource)>,
    /// The largest metadata accepted (`--max-metadata-size`).
    pub max_metadata_size: u64,
    /// The port we accept peers on, for announces and the extension handshake.
    pub listen_port: u16,
    /// Most connections at once.
    pub max_connections: usize,
    /// Time limit for an outgoing TCP connect.
    pub connect_timeout: Duration,
    /// Tracker client settings.
    pub tracker_client: ClientConfig,
    /// Announce scheduling.
    pub announcer: AnnouncerConfig,
    /// Protocol encryption for the metadata connections we dial (as the session's).
    pub encryption: Encryption,
    /// The link's `ws=` web seeds (BEP 19): written into the torrent as its `url-list`, so the
    /// download uses them once the metadata is known.
    pub web_seeds: Vec<String>,
    /// The DHT node to find peers in (and announce to) while the metadata is fetched; `None`:
    /// none. A magnet link does not say whether its torrent is private, so the DHT is used
    /// until the metadata says so (libtorrent does the same).
    pub dht: Option<std::sync::Arc<torrentkit_dht::Dht>>,
    /// Which transports the metadata connections are dialled over.
    pub transport: super::Transport,
    /// The uTP endpoint to dial from (the [`UdpPort`](super::UdpPort)'s); `None`: TCP only.
    pub utp: Option<std::sync::Arc<torrentkit_utp::UtpSocket>>,
}

impl MagnetConfig {
    /// Defaults for `magnet`: its info-hash, trackers (one tier each) and `x.pe` peers that
    /// resolve (the others are skipped), with our `peer_id` and the `seed` of the randomness.
    pub fn from_magnet(magnet: &Magnet, peer_id: [u8; 20], seed: u64) -> Self {
        let peers = magnet
            .peers
            .iter()
            .filter_map(|p| p.to_socket_addrs().ok()?.next())
            .map(|a| (a, PeerSource::MagnetHint))
            .collect();
        MagnetConfig {
            info_hash: magnet.info_hash.0,
            info_hash_v2: magnet.info_hash_v2.map(|h| h.0),
            has_v1: magnet.has_v1,
            peer_id,
            seed,
            trackers: magnet.trackers.iter().map(|t| vec![t.clone()]).collect(),
            peers,
            max_metadata_size: DEFAULT_MAX_METADATA_SIZE,
            listen_port: 6881,
            max_connections: 50,
            connect_timeout: Duration::from_secs(10),
            tracker_client: ClientConfig::default(),
            announcer: AnnouncerConfig::default(),
            encryption: Encryption::default(),
            web_seeds: magnet.web_seeds.clone(),
            dht: None,
            transport: super::Transport::default(),
            utp: None,
        }
    }

    /// The torrent made of the verified `info` bytes and these trackers.
    pub fn torrent(&self, info: &[u8]) -> Result<Metainfo, SessionError> {
        self.torrent_with_layers(info, &BTreeMap::new())
    }

    /// The torrent made of the verified `info` bytes, these trackers and the piece `layers`
    /// peers sent (a v2 torrent's `piece layers`, by `pieces root`).
    pub fn torrent_with_layers(
        &self,
        info: &[u8],
        layers: &BTreeMap<Hash256, Vec<Hash256>>,
    ) -> Result<Metainfo, SessionError> {
        let mut out = b"d".to_vec();
        let put = |out: &mut Vec<u8>, s: &[u8]| {
            out.extend_from_slice(s.len().to_string().as_bytes());
            out.push(b':');
            out.extend_from_slice(s);
        };
        if let Some(first) = self.trackers.first().and_then(|t| t.first()) {
            put(&mut out, b"announce");
            put(&mut out, first.as_bytes());
            put(&mut out, b"announce-list");
            out.push(b'l');
            for tier in &self.trackers {
                out.push(b'l');
                for t in tier {
                    put(&mut out, t.as_bytes());
                }
                out.push(b'e');
            }
            out.push(b'e');
        }
        put(&mut out, b"info");
        out.extend_from_slice(info);
        // `piece layers` sorts between `info` and `url-list`; the map's keys are in byte order.
        if !layers.is_empty() {
            put(&mut out, b"piece layers");
            out.push(b'd');
            for (root, layer) in layers {
                put(&mut out, root);
                put(&mut out, &layer.concat());
            }
            out.push(b'e');
        }
        // Keys stay sorted: `url-list` comes after `info`.
        if !self.web_seeds.is_empty() {
            put(&mut out, b"url-list");
            out.push(b'l');
            for url in &self.web_seeds {
                put(&mut out, url.as_bytes());
            }
            out.push(b'e');
        }
        out.push(b'e');
        let t = Metainfo::from_bytes(&out)
            .map_err(|e| SessionError::Metadata(format!("the fetched info dictionary: {e}")))?;
        if t.info_hash().0 != self.info_hash {
            return Err(SessionError::Metadata(
                "the info-hash does not match".into(),
            ));
        }
        if let Some(v2) = self.info_hash_v2 {
            if t.info_hash_v2().map(|h| h.0) != Some(v2) {
                return Err(SessionError::Metadata(
                    "the v2 info-hash (urn:btmh) does not match".into(),
                ));
            }
        }
        if let Some(root) = layers.keys().find(|root| t.piece_layer(root).is_none()) {
            return Err(SessionError::Metadata(format!(
                "the piece layer of root {} does not fit the torrent",
                torrentkit_metainfo::InfoHashV2(*root).to_hex()
            )));
        }
        Ok(t)
    }

    /// The settings the announce task needs, as for a torrent of unknown size.
    fn announce_config(&self) -> SessionConfig {
        let tc = TorrentConfig::new(self.info_hash, self.peer_id, 0, 16_384, self.seed);
        let mut sc = SessionConfig::new(tc, Vec::new());
        sc.trackers = self.trackers.clone();
        sc.listen_port = self.listen_port;
        sc.tracker_client = self.tracker_client.clone();
        sc.announcer = self.announcer.clone();
        sc
    }
}

/// Fetches the metadata of `config`'s info-hash, accepting peers on `listener` too, with its
/// progress in [`Progress::metadata`]. Waits (bounded only by the caller) until some peer has
/// it.
pub async fn fetch_metadata(
    config: &MagnetConfig,
    listener: Option<&TcpListener>,
    progress: &watch::Sender<Progress>,
) -> Result<Metainfo, SessionError> {
    let (_keep, mut commands) = mpsc::unbounded_channel();
    match fetch(config, listener, &mut commands, progress).await? {
        Some(t) => Ok(t),
        None => Err(SessionError::Metadata("stopped".into())),
    }
}

struct Peer {
    conn: Connection,
    link: Option<Link>,
    asked: bool,
}

impl Peer {
    /// `peer ADDR` for log lines (the connection id when the address is unknown).
    fn describe(&self, id: ConnId) -> String {
        match self.link.as_ref().and_then(|l| l.addr) {
            Some(addr) => format!("peer {addr}"),
            None => format!("connection {id:?}"),
        }
    }

    /// A metadata-only connection `id` on `stream` (wrapped as `wrap` says), our handshake
    /// queued.
    fn open(
        id: ConnId,
        stream: super::transport::PeerStream,
        wrap: Wrap,
        cfg: &ConnectionConfig,
        net: &mpsc::Sender<Net>,
        now: std::time::Instant,
    ) -> Peer {
        let link = Link::spawn(
            id,
            stream,
            Permit::unlimited(),
            net.clone(),
            Vec::new(),
            Vec::new(),
            wrap,
        );
        Peer {
            conn: Connection::new(cfg.clone(), now),
            link: Some(link),
            asked: false,
        }
    }
}

/// The fetch loop; `None` when a [`Command::Stop`] came first.
pub(super) async fn fetch(
    config: &MagnetConfig,
    listener: Option<&TcpListener>,
    commands: &mut mpsc::UnboundedReceiver<Command>,
    progress: &watch::Sender<Progress>,
) -> Result<Option<Metainfo>, SessionError> {
    let (net_tx, mut net_rx) = mpsc::channel::<Net>(256);
    let (cmd_tx, mut announced) = mpsc::unbounded_channel::<Command>();
    let dialer =
        super::transport::Dialer::new(config.transport, config.utp.clone(), config.connect_timeout);
    let mut ccfg = ConnectionConfig::new(config.info_hash, config.peer_id, 0);
    ccfg.metadata_only = true;
    ccfg.listen_port = Some(config.listen_port);
    // BEP 52: a link with a v2 info-hash says so in the handshake (libtorrent then answers
    // our hash requests); a v1 link never does.
    ccfg.reserved = ccfg.reserved.with_v2_upgrade(config.info_hash_v2.is_some());
    let mut asm = match config.info_hash_v2.filter(|_| !config.has_v1) {
        Some(v2) => MetadataAssembler::new_v2(v2, config.max_metadata_size),
        None => MetadataAssembler::new(config.info_hash, config.max_metadata_size),
    };
    // The second phase of a v2-only link: the piece layers, and the `info` bytes they go with.
    let mut layers: Option<(PieceLayerFetcher, Vec<u8>)> = None;
    let mut peers: HashMap<ConnId, Peer> = HashMap::new();
    let mut dialling: HashMap<ConnId, SocketAddr> = HashMap::new();
    let mut known: HashSet<SocketAddr> = HashSet::new();
    let mut pool: VecDeque<SocketAddr> = VecDeque::new();
    let mut next_id = 0u64;
    let mut asked = 0usize;
    for &(a, _) in &config.peers {
        if known.insert(a) {
            pool.push_back(a);
        }
    }
    // Not a seed: the size is not known yet, so trackers are told one byte is left.
    let _ = progress.send(Progress {
        bytes_left: 1,
        metadata: Some(MetadataProgress::default()),
        ..Progress::default()
    });
    // Peers on our listener are told apart (plaintext or MSE) off this loop, then come back
    // as `Command::Incoming` on the same channel as the announcer's peers.
    let incoming_tx = cmd_tx.clone();
    let classifying = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let dht_task = super::dht_search::Task::spawn(
        config.dht.clone(),
        config.info_hash,
        config.listen_port,
        progress.subscribe(),
        cmd_tx.clone(),
    );
    let announcer = announce::Task::spawn(config.announce_config(), progress.subscribe(), cmd_tx);
    let result = loop {
        // Dial from the pool while there is room.
        while peers.len() + dialling.len() < config.max_connections {
            let Some(addr) = pool.pop_front() else { break };
            let id = ConnId(next_id);
            next_id += 1;
            dialling.insert(id, addr);
            sockets::dial(id, addr, dialer.clone(), net_tx.clone());
        }
        let now = std::time::Instant::now();
        // Requests, drops and bytes out.
        while let Some((id, piece)) = asm.poll_request(now) {
            if let Some(p) = peers.get_mut(&id) {
                p.conn.request_metadata(now, piece);
            }
        }
        while let Some((id, why)) = asm.poll_drop() {
            if let Some(p) = peers.get_mut(&id) {
                log::info!("metadata: dropping {}: {why}", p.describe(id));
                p.conn.close();
            }
        }
        if let Some(info) = asm.take_metadata() {
            let t = match config.torrent(&info) {
                Ok(t) => t,
                Err(e) => break Err(e),
            };
            let fetcher = PieceLayerFetcher::new(t.info());
            if t.info().version().has_v1() || fetcher.is_done() {
                break Ok(Some(t));
            }
            log::info!(
                "metadata: fetched; now {} chunks of piece layers",
                fetcher.progress().1
            );
            let mut fetcher = fetcher;
            // Every connected peer is asked: libtorrent 2.0 does not set the v2 bit in its
            // handshake for a v2-only torrent, yet answers hash requests.
            for (&id, p) in &peers {
                if p.conn.is_connected() {
                    fetcher.handle_peer(now, id);
                }
            }
            layers = Some((fetcher, info));
        }
        if let Some((fetcher, info)) = &mut layers {
            while let Some((id, request)) = fetcher.poll_request() {
                if let Some(p) = peers.get_mut(&id) {
                    log::debug!("piece layers: asking {} for {request:?}", p.describe(id));
                    p.conn.send_hash_request(now, request);
                }
            }
            while let Some((id, why)) = fetcher.poll_drop() {
                if let Some(p) = peers.get_mut(&id) {
                    log::info!("piece layers: dropping {}: {why}", p.describe(id));
                    p.conn.close();
                }
            }
            if let Some(l) = fetcher.take_layers() {
                break config.torrent_with_layers(info, &l).map(Some);
            }
        }
        let mut closed = Vec::new();
        for (&id, p) in peers.iter_mut() {
            while let Some(bytes) = p.conn.poll_transmit() {
                if let Some(l) = &p.link {
                    let _ = l.writer.send(bytes);
                }
            }
            if !p.conn.is_open() {
                closed.push(id);
            }
        }
        for id in closed {
            if let Some(p) = peers.remove(&id) {
                if let Some(l) = p.link {
                    l.reader.abort();
                }
            }
            asm.remove_peer(id);
            if let Some((f, _)) = &mut layers {
                f.remove_peer(now, id);
            }
        }
        progress.send_modify(|p| {
            let (pieces, of) = asm.pieces();
            p.peers = peers.len();
            p.metadata = Some(MetadataProgress {
                peers_asked: asked,
                connections: peers.len(),
                pieces,
                of,
            });
        });
        let wake = peers
            .values()
            .filter_map(|p| p.conn.poll_timeout())
            .chain(asm.poll_timeout())
            .chain(layers.as_ref().and_then(|(f, _)| f.poll_timeout()))
            .min()
            .map(tokio::time::Instant::from_std);
        let mut touched: Option<ConnId> = None;
        tokio::select! {
            cmd = commands.recv() => match cmd {
                Some(Command::Connect(a)) | Some(Command::ConnectFrom(a, _)) => {
                    if known.insert(a) {
                        pool.push_back(a);
                    }
                }
                Some(Command::Stop) | None => break Ok(None),
                Some(Command::Incoming { addr: _, stream, prefix, streams }) => {
                    let id = ConnId(next_id);
                    next_id += 1;
                    let wrap = Wrap::Ready(streams);
                    peers.insert(id, Peer::open(id, stream, wrap, &ccfg, &net_tx, now));
                    if let Some(p) = peers.get_mut(&id) {
                        p.conn.handle_bytes(now, Bytes::from(prefix));
                    }
                    touched = Some(id);
                }
                Some(_) => {}
            },
            cmd = announced.recv() => match cmd {
                Some(Command::ConnectFrom(a, _)) if known.insert(a) => pool.push_back(a),
                Some(Command::Incoming { addr: _, stream, prefix, streams })
                    if peers.len() < config.max_connections =>
                {
                    let id = ConnId(next_id);
                    next_id += 1;
                    let wrap = Wrap::Ready(streams);
                    peers.insert(id, Peer::open(id, stream, wrap, &ccfg, &net_tx, now));
                    if let Some(p) = peers.get_mut(&id) {
                        p.conn.handle_bytes(now, Bytes::from(prefix));
                    }
                    touched = Some(id);
                }
                _ => {}
            },
            ev = net_rx.recv() => match ev {
                Some(Net::Connected(id, stream)) if dialling.contains_key(&id) => {
                    let addr = dialling.remove(&id);
                    let wrap = match (config.encryption, addr) {
                        (Encryption::Plaintext, _) | (_, None) => Wrap::Ready(None),
                        (policy, Some(addr)) => Wrap::Dial {
                            addr,
                            policy,
                            info_hash: config.info_hash,
                            dialer: dialer.clone(),
                        },
                    };
                    peers.insert(id, Peer::open(id, stream, wrap, &ccfg, &net_tx, now));
                }
                Some(Net::Connected(..)) => {}
                Some(Net::ConnectFailed(id)) => {
                    if let Some(a) = dialling.remove(&id) {
                        // It may come back through a tracker or PEX.
                        known.remove(&a);
                    }
                }
                Some(Net::Data(id, bytes)) => {
                    if let Some(p) = peers.get_mut(&id) {
                        p.conn.handle_bytes(std::time::Instant::now(), bytes);
                        touched = Some(id);
                    }
                }
                Some(Net::Closed(id)) => {
                    if let Some(p) = peers.get_mut(&id) {
                        p.conn.close();
                        touched = Some(id);
                    }
                }
                None => {}
            },
            // uTP peers come in on the endpoint too when this fetch has its own listener.
            accepted = accept_any(
                listener,
                config.utp.as_deref().filter(|_| listener.is_some()),
                config.transport,
            ) => {
                if let Ok((stream, addr)) = accepted {
                    if peers.len() < config.max_connections {
                        encryption::spawn_classify(
                            stream,
                            addr,
                            config.encryption,
                            config.info_hash,
                            incoming_tx.clone(),
                            &classifying,
                        );
                    }
                }
            }
            () = async {
                match wake {
                    Some(w) => tokio::time::sleep_until(w).await,
                    None => std::future::pending().await,
                }
            } => {
                let now = std::time::Instant::now();
                asm.handle_timeout(now);
                if let Some((f, _)) = &mut layers {
                    f.handle_timeout(now);
                }
                for p in peers.values_mut() {
                    if p.conn.poll_timeout().is_some_and(|t| t <= now) {
                        p.conn.handle_timeout(now);
                    }
                }
                let ids: Vec<ConnId> = peers.keys().copied().collect();
                for id in ids {
                    let fetcher = layers.as_mut().map(|(f, _)| f);
                    handle_events(id, &mut peers, &mut asm, fetcher, &mut pool, &mut known, &mut asked);
                }
            }
        }
        if let Some(id) = touched {
            let fetcher = layers.as_mut().map(|(f, _)| f);
            handle_events(
                id, &mut peers, &mut asm, fetcher, &mut pool, &mut known, &mut asked,
            );
        }
    };
    // The phase's connections end here; the session dials its peers afresh.
    for (_, p) in peers.drain() {
        if let Some(l) = p.link {
            l.reader.abort();
        }
    }
    dht_task.stop();
    announcer.stop().await;
    result
}

/// Passes the events of connection `id` to the assembler (or, in a v2 link's second phase,
/// the piece layer fetcher) and the pool.
fn handle_events(
    id: ConnId,
    peers: &mut HashMap<ConnId, Peer>,
    asm: &mut MetadataAssembler,
    mut layers: Option<&mut PieceLayerFetcher>,
    pool: &mut VecDeque<SocketAddr>,
    known: &mut HashSet<SocketAddr>,
    asked: &mut usize,
) {
    let Some(p) = peers.get_mut(&id) else { return };
    let now = std::time::Instant::now();
    while let Some(ev) = p.conn.poll_event() {
        match ev {
            ConnEvent::Connected {
                extensions: true, ..
            } => {
                if let Some(f) = layers.as_deref_mut() {
                    f.handle_peer(now, id);
                }
            }
            ConnEvent::Hashes { request, hashes } => {
                if let Some(f) = layers.as_deref_mut() {
                    f.handle_hashes(now, id, request, hashes);
                }
            }
            ConnEvent::HashRejected(request) => {
                if let Some(f) = layers.as_deref_mut() {
                    f.handle_reject(now, id, request);
                }
            }
            ConnEvent::Extensions {
                ut_metadata,
                metadata_size,
                ..
            } => {
                if ut_metadata && metadata_size.is_some() {
                    if !p.asked {
                        p.asked = true;
                        *asked += 1;
                    }
                    asm.handle_peer(id, metadata_size);
                } else {
                    // It cannot give us the metadata.
                    p.conn.close();
                }
            }
            ConnEvent::Connected {
                extensions: false, ..
            } => p.conn.close(),
            ConnEvent::MetadataPiece {
                piece,
                total_size,
                data,
            } => asm.handle_data(id, piece, total_size, &data),
            ConnEvent::MetadataRejected(piece) => asm.handle_reject(id, piece),
            ConnEvent::Pex(msg) => {
                let v4 = msg.added.iter().map(|&(a, _)| SocketAddr::V4(a));
                let v6 = msg.added6.iter().map(|&(a, _)| SocketAddr::V6(a));
                for a in v4.chain(v6).take(100) {
                    if a.port() != 0 && known.insert(a) {
                        pool.push_back(a);
                    }
                }
            }
            ConnEvent::Closed(reason) => {
                log::info!("metadata: {} closed: {reason}", p.describe(id));
                asm.remove_peer(id);
                if let Some(f) = layers.as_deref_mut() {
                    f.remove_peer(now, id);
                }
            }
            ConnEvent::ExtensionIgnored(why) => {
                log::info!("metadata: {} sent a dropped message: {why}", p.describe(id));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use sha1::{Digest, Sha1};
    use torrentkit_metainfo::{InfoHash, Magnet};

    use super::MagnetConfig;

    /// A magnet's `ws=` web seeds become the torrent's `url-list`, so the download after the
    /// metadata phase uses them; the info-hash still has to match.
    #[test]
    fn a_magnets_web_seeds_become_the_torrents_url_list() {
        let mut info = b"d6:lengthi5e4:name1:a12:piece lengthi16384e6:pieces20:".to_vec();
        info.extend_from_slice(&[7u8; 20]);
        info.push(b'e');
        let hash = InfoHash(Sha1::digest(&info).into());
        let uri = format!(
            "magnet:?xt=urn:btih:{}&ws=http%3A%2F%2F127.0.0.1%3A8080%2Fa",
            hash.to_hex()
        );
        let magnet = Magnet::parse(&uri).unwrap();
        let config = MagnetConfig::from_magnet(&magnet, [1; 20], 1);
        let torrent = config.torrent(&info).unwrap();
        assert_eq!(torrent.web_seeds(), ["http://127.0.0.1:8080/a"]);
        assert_eq!(torrent.info_hash(), hash);

        let mut other = info.clone();
        other[12] = b'6';
        assert!(config.torrent(&other).is_err(), "another info dictionary");
    }
}
