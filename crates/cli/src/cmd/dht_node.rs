//! The DHT node of a `bt` run: started on the peer port's UDP socket (the engine's
//! [`UdpPort`]), rejoining the DHT from the routing table saved in the state directory, else
//! from `--dht-bootstrap` routers resolved only when needed; the table is saved again
//! (atomically) while it runs and on exit.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use torrentkit_dht::{Config, Dht, SavedState};
use torrentkit_peer::session::UdpPort;

/// The well-known routers used when no `--dht-bootstrap` is given (libtorrent's defaults).
pub(crate) const DEFAULT_ROUTERS: [&str; 3] = [
    "router.bittorrent.com:6881",
    "dht.transmissionbt.com:6881",
    "router.utorrent.com:6881",
];
/// How long saved nodes get to answer before the routers are asked after all.
const RESTORE_GRACE: Duration = Duration::from_secs(2);
/// How often the routing table is saved while the node runs.
pub(crate) const SAVE_INTERVAL: Duration = Duration::from_secs(300);

/// A running DHT node and where its table is kept.
pub(crate) struct DhtNode {
    port: UdpPort,
    state: Option<PathBuf>,
    joining: tokio::task::JoinHandle<()>,
}

/// The file the node named `name` keeps its table in: `$XDG_STATE_HOME/torrentkit/NAME`, else
/// `~/.local/state/torrentkit/NAME`; `None` when neither is set.
pub(crate) fn state_path(name: &str) -> Option<PathBuf> {
    let base = std::env::var_os("XDG_STATE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|d| !d.is_empty())
                .map(|h| PathBuf::from(h).join(".local/state"))
        })?;
    Some(base.join("torrentkit").join(name))
}

impl DhtNode {
    /// Starts a node on UDP `bind`:`port` (the peer listener's port; when that is taken, any
    /// port), with the saved table of `state` (a [`state_path`]) if there is one, else joining
    /// through `routers` (`HOST:PORT`, resolved in the background). `contacts` (a torrent's
    /// `nodes`) are pinged in any case. `None`, with a warning, when no UDP socket can be had.
    pub(crate) async fn start(
        bind: IpAddr,
        port: u16,
        routers: &[String],
        contacts: &[(String, u16)],
        state: Option<PathBuf>,
        seed: u64,
        answers_per_second: Option<u32>,
    ) -> Option<DhtNode> {
        let saved = state.as_ref().and_then(|path| {
            let bytes = std::fs::read(path).ok()?;
            match SavedState::decode(&bytes) {
                Ok(s) => Some(s),
                Err(e) => {
                    eprintln!("bt: warning: {}: {e}; starting afresh", path.display());
                    None
                }
            }
        });
        let mut config = Config::default();
        config.seed = seed;
        config.id = saved.as_ref().map(|s| s.id);
        if let Some(n) = answers_per_second {
            config.answers_per_second = n;
        }
        let port = match UdpPort::bind(SocketAddr::new(bind, port), Some(config.clone())).await {
            Ok(p) => p,
            Err(e) if port != 0 => {
                log::info!("dht: UDP port {port}: {e}; using another port");
                match UdpPort::bind(SocketAddr::new(bind, 0), Some(config)).await {
                    Ok(p) => p,
                    Err(e) => return none(&e),
                }
            }
            Err(e) => return none(&e),
        };
        let dht = port.dht().expect("started with a DHT").clone();
        let nodes = saved.map(|s| s.nodes).unwrap_or_default();
        let restored = !nodes.is_empty();
        if restored {
            let _ = dht.restore(nodes);
        }
        let joining = tokio::spawn(join(dht, restored, routers.to_vec(), contacts.to_vec()));
        Some(DhtNode {
            port,
            state,
            joining,
        })
    }

    /// The node.
    pub(crate) fn dht(&self) -> Arc<Dht> {
        self.port.dht().expect("started with a DHT").clone()
    }

    /// The UDP port it runs on (its uTP endpoint serves peers too).
    pub(crate) fn udp_port(&self) -> &UdpPort {
        &self.port
    }

    /// Its UDP address.
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.dht().local_addr()
    }

    /// Saves the routing table (atomically); a failure is a warning, never fatal. Nothing is
    /// saved while the table is empty, so a run that never joined keeps the last good table.
    pub(crate) async fn save(&self) {
        let Some(path) = &self.state else { return };
        let Ok(state) = self.dht().saved_state().await else {
            return;
        };
        if state.nodes.is_empty() {
            return;
        }
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .map_err(|e| e.to_string())
            .and_then(|()| {
                torrentkit_metainfo::write_atomic(path, &state.encode()).map_err(|e| e.to_string())
            });
        if let Err(e) = written {
            eprintln!(
                "bt: warning: saving the DHT table to {}: {e}",
                path.display()
            );
        }
    }
}

impl Drop for DhtNode {
    fn drop(&mut self) {
        self.joining.abort();
    }
}

fn none<T>(e: &std::io::Error) -> Option<T> {
    eprintln!("bt: warning: DHT off: no UDP socket: {e}");
    None
}

/// Pings `contacts` (a torrent's `nodes`, one added after the node started), resolving their
/// names in the background.
pub(crate) fn ping_contacts(dht: Arc<Dht>, contacts: Vec<(String, u16)>) {
    if contacts.is_empty() {
        return;
    }
    tokio::spawn(async move {
        let v4 = dht.local_addr().is_ipv4();
        for (host, port) in &contacts {
            for addr in resolve(&format!("{host}:{port}"), v4).await {
                let _ = dht.add_node(addr);
            }
        }
    });
}

/// Pings the torrent's contacts, and bootstraps through the routers unless the restored table
/// answers within [`RESTORE_GRACE`]. Names are resolved here, off the caller's path, so an
/// unreachable resolver costs nothing but this task.
async fn join(dht: Arc<Dht>, restored: bool, routers: Vec<String>, contacts: Vec<(String, u16)>) {
    let v4 = dht.local_addr().is_ipv4();
    for (host, port) in &contacts {
        for addr in resolve(&format!("{host}:{port}"), v4).await {
            let _ = dht.add_node(addr);
        }
    }
    if restored {
        tokio::time::sleep(RESTORE_GRACE).await;
        match dht.stats().await {
            Ok(s) if s.responses_received > 0 => return,
            Ok(_) => log::info!("dht: no saved node answered; bootstrapping"),
            Err(_) => return,
        }
    }
    let mut addrs = Vec::new();
    for router in &routers {
        addrs.extend(resolve(router, v4).await);
    }
    if addrs.is_empty() {
        log::info!("dht: no bootstrap router resolved");
        return;
    }
    let _ = dht.bootstrap(&addrs).await;
}

/// `HOST:PORT`'s addresses of the node's family (`v4`); none, logged, when it does not resolve.
/// The lookup runs on a thread of its own, not tokio's blocking pool, so that a resolver that
/// hangs never holds up the runtime's shutdown at exit.
async fn resolve(host_port: &str, v4: bool) -> Vec<SocketAddr> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let name = host_port.to_owned();
    let spawned = std::thread::Builder::new()
        .name("bt-dht-resolve".into())
        .spawn(move || {
            let _ = tx.send(std::net::ToSocketAddrs::to_socket_addrs(&name).map(Vec::from_iter));
        });
    if let Err(e) = spawned {
        log::info!("dht: {host_port}: {e}");
        return Vec::new();
    }
    match rx.await {
        Ok(Ok(addrs)) => addrs.into_iter().filter(|a| a.is_ipv4() == v4).collect(),
        Ok(Err(e)) => {
            log::info!("dht: {host_port}: {e}");
            Vec::new()
        }
        Err(_) => Vec::new(),
    }
}
