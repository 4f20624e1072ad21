//! What sessions share when one program runs many torrents (`bt launch-many`): one listening
//! port whose peers are handed to the session of the info-hash they ask for, one connection
//! cap and one pair of rate limits over all of them.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use torrentkit_utp::UtpSocket;

use torrentkit_wire::PROTOCOL;

use super::encryption::{self, Encryption};
use super::limit::Bucket;
use super::transport::PeerStream;
use super::Command;

/// The handshake bytes read to find a torrent: length, protocol name, reserved, info-hash (the
/// peer id may wait for our handshake).
const HANDSHAKE_PREFIX: usize = 1 + PROTOCOL.len() + 8 + 20;
/// A peer that has not sent that much within this time is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Most incoming connections still waiting for their handshake; more are refused.
const MAX_PENDING_HANDSHAKES: usize = 256;

/// Settings for [`Shared`].
#[derive(Debug, Clone)]
pub struct SharedConfig {
    /// Most connections (and connects in progress) over all sessions together.
    pub max_connections: usize,
    /// Most bytes per second sent by all sessions together (`None`: unlimited).
    pub max_upload_rate: Option<u64>,
    /// Most bytes per second received by all sessions together (`None`: unlimited).
    pub max_download_rate: Option<u64>,
    /// Protocol encryption for the peers of the shared listener (an MSE peer is matched
    /// against the info-hashes of every session) and for each session's dials.
    pub encryption: Encryption,
}

impl Default for SharedConfig {
    fn default() -> Self {
        SharedConfig {
            max_connections: 200,
            max_upload_rate: None,
            max_download_rate: None,
            encryption: Encryption::default(),
        }
    }
}

/// Limits and a listener shared by several [`Session`](super::Session)s: put a clone in each
/// [`SessionConfig::shared`](super::SessionConfig::shared) and call [`serve`](Self::serve) once
/// with the listener. Cloning is cheap; every clone is the same set of limits.
///
/// ```
/// use torrentkit_peer::session::{Shared, SharedConfig};
/// let shared = Shared::new(SharedConfig { max_connections: 2, ..SharedConfig::default() });
/// let a = shared.try_acquire().unwrap();
/// let _b = shared.try_acquire().unwrap();
/// assert!(shared.try_acquire().is_none(), "the cap holds across every session");
/// drop(a);
/// assert_eq!(shared.connections(), 1);
/// ```
#[derive(Clone)]
pub struct Shared {
    inner: Arc<Inner>,
}

struct Inner {
    max_connections: usize,
    connections: AtomicUsize,
    pending_handshakes: AtomicUsize,
    upload: Option<Arc<Bucket>>,
    download: Option<Arc<Bucket>>,
    routes: Mutex<HashMap<[u8; 20], mpsc::UnboundedSender<Command>>>,
    encryption: Encryption,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("max_connections", &self.inner.max_connections)
            .field("connections", &self.connections())
            .field("torrents", &self.torrents())
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// A new set of shared limits with no sessions.
    pub fn new(config: SharedConfig) -> Self {
        Shared {
            inner: Arc::new(Inner {
                max_connections: config.max_connections,
                connections: AtomicUsize::new(0),
                pending_handshakes: AtomicUsize::new(0),
                upload: config.max_upload_rate.map(|r| Arc::new(Bucket::new(r))),
                download: config.max_download_rate.map(|r| Arc::new(Bucket::new(r))),
                routes: Mutex::new(HashMap::new()),
                encryption: config.encryption,
            }),
        }
    }

    /// Connections (and connects in progress) held now by all sessions.
    pub fn connections(&self) -> usize {
        self.inner.connections.load(Ordering::Relaxed)
    }

    /// How many sessions accept peers from the shared listener now.
    pub fn torrents(&self) -> usize {
        self.routes().len()
    }

    /// Takes one connection slot, or `None` at the cap; the slot is free again when the
    /// [`Permit`] drops. Sessions call this for every connection; it is public so that other
    /// connection-making code can count against the same cap.
    pub fn try_acquire(&self) -> Option<Permit> {
        let max = self.inner.max_connections;
        self.inner
            .connections
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| Permit {
                shared: Some(self.inner.clone()),
            })
    }

    /// Accepts peers on `listener` until the returned task is aborted: each one's handshake
    /// names an info-hash, and the peer goes to the session of that torrent (or is dropped
    /// when none runs it).
    pub fn serve(&self, listener: TcpListener) -> JoinHandle<()> {
        let inner = self.inner.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, addr)) = super::sockets::accept(&listener).await else {
                    continue;
                };
                route_incoming(&inner, stream, addr);
            }
        })
    }

    /// [`serve`](Self::serve) for the uTP peers of `utp` (the [`UdpPort`](super::UdpPort)'s
    /// endpoint): the same first-bytes dispatch (plaintext or MSE) and hand-over, under the
    /// same bound on pending handshakes.
    pub fn serve_utp(&self, utp: std::sync::Arc<UtpSocket>) -> JoinHandle<()> {
        let inner = self.inner.clone();
        tokio::spawn(async move {
            while let Ok(stream) = utp.accept().await {
                let addr = stream.peer_addr();
                route_incoming(&inner, PeerStream::Utp(stream), addr);
            }
        })
    }

    pub(super) fn upload_limit(&self) -> Option<Arc<Bucket>> {
        self.inner.upload.clone()
    }

    pub(super) fn download_limit(&self) -> Option<Arc<Bucket>> {
        self.inner.download.clone()
    }

    /// Sends the peers that ask for `info_hash` to `commands` until the [`Route`] drops.
    pub(super) fn route(
        &self,
        info_hash: [u8; 20],
        commands: mpsc::UnboundedSender<Command>,
    ) -> Route {
        self.routes().insert(info_hash, commands.clone());
        Route {
            shared: self.clone(),
            info_hash,
            commands,
        }
    }

    fn routes(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<[u8; 20], mpsc::UnboundedSender<Command>>> {
        self.inner
            .routes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Reads an incoming peer's first bytes in a task of its own and hands it to the session of
/// the torrent they name; dropped at once when [`MAX_PENDING_HANDSHAKES`] are under way.
fn route_incoming(inner: &Arc<Inner>, stream: PeerStream, addr: SocketAddr) {
    let pending = inner.pending_handshakes.fetch_add(1, Ordering::AcqRel);
    if pending >= MAX_PENDING_HANDSHAKES {
        inner.pending_handshakes.fetch_sub(1, Ordering::AcqRel);
        return;
    }
    let inner = inner.clone();
    tokio::spawn(async move {
        let routed = read_prefix(stream, &inner).await;
        inner.pending_handshakes.fetch_sub(1, Ordering::AcqRel);
        if let Some((stream, prefix, info_hash, streams)) = routed {
            inner.hand_over(addr, stream, prefix, info_hash, streams);
        }
    });
}

impl Inner {
    fn hand_over(
        &self,
        addr: SocketAddr,
        stream: PeerStream,
        prefix: Vec<u8>,
        info_hash: [u8; 20],
        streams: Option<torrentkit_wire::mse::Streams>,
    ) {
        let routes = self.routes.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(session) = routes.get(&info_hash) {
            let _ = session.send(Command::Incoming {
                addr,
                stream,
                prefix,
                streams: streams.map(Box::new),
            });
        }
    }
}

/// The torrent an incoming peer asks for: a plaintext handshake's first 48 bytes, within the
/// time limit, or an MSE handshake matched against every session's info-hash; `None` for
/// anything else. Gives the bytes read (decrypted), the info-hash and the RC4 streams.
#[allow(clippy::type_complexity)]
async fn read_prefix(
    mut stream: PeerStream,
    inner: &Inner,
) -> Option<(
    PeerStream,
    Vec<u8>,
    [u8; 20],
    Option<torrentkit_wire::mse::Streams>,
)> {
    let keys = || {
        let routes = inner.routes.lock().unwrap_or_else(PoisonError::into_inner);
        routes.keys().copied().collect()
    };
    let incoming = match encryption::accept(&mut stream, inner.encryption, keys).await {
        Ok(incoming) => incoming,
        Err(e) => {
            let from = stream
                .peer_addr()
                .map_or_else(|| "?".to_owned(), |a| a.to_string());
            log::info!("incoming peer {from}: {e}");
            return None;
        }
    };
    if let Some(info_hash) = incoming.info_hash {
        return Some((stream, incoming.prefix, info_hash, incoming.streams));
    }
    let mut prefix = incoming.prefix;
    prefix.resize(HANDSHAKE_PREFIX, 0);
    tokio::time::timeout(
        HANDSHAKE_TIMEOUT,
        stream.read_exact(&mut prefix[encryption::PLAIN_PREFIX..]),
    )
    .await
    .ok()?
    .ok()?;
    let mut info_hash = [0u8; 20];
    info_hash.copy_from_slice(&prefix[HANDSHAKE_PREFIX - 20..HANDSHAKE_PREFIX]);
    Some((stream, prefix, info_hash, None))
}

/// One connection slot under a [`Shared`] cap, given back on drop.
#[derive(Debug)]
pub struct Permit {
    shared: Option<Arc<Inner>>,
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Shared")
    }
}

impl Permit {
    /// A slot for a session without shared limits.
    pub(super) fn unlimited() -> Self {
        Permit { shared: None }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(inner) = &self.shared {
            inner.connections.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// A session's entry in the routing table, removed when the session ends.
pub(super) struct Route {
    shared: Shared,
    info_hash: [u8; 20],
    commands: mpsc::UnboundedSender<Command>,
}

impl Drop for Route {
    fn drop(&mut self) {
        let mut routes = self.shared.routes();
        // A later session of the same torrent may have taken the entry over: leave it.
        if routes
            .get(&self.info_hash)
            .is_some_and(|c| c.same_channel(&self.commands))
        {
            routes.remove(&self.info_hash);
        }
    }
}
