//! The socket side of the driver: the listener, dialling, and one reader and one writer task per
//! connection, with the rate limits applied where the bytes move.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::transport::{Dialer, PeerStream, Transport, WriteHalf};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use torrentkit_utp::UtpSocket;

use super::encryption::{self, Encryption};
use super::limit::Bucket;
use super::Permit;
use crate::ConnId;
use torrentkit_wire::mse::{Cipher, Streams};

/// The size of the allocations a connection reads into.
const READ_CHUNK: usize = 64 * 1024;
/// A read gets at least this much room; with less left, a new allocation starts.
const MIN_READ: usize = 16 * 1024;

/// What the socket tasks report to the driver.
#[derive(Debug)]
pub(super) enum Net {
    Connected(ConnId, PeerStream),
    ConnectFailed(ConnId),
    Data(ConnId, Bytes),
    Closed(ConnId),
}

/// Binds the peer listener on the first free port of `ports` (the classic client's 6881, then
/// 6882 ... 6889); the error names the whole range when every port is taken.
pub async fn bind_listener(
    ip: IpAddr,
    ports: std::ops::RangeInclusive<u16>,
) -> std::io::Result<TcpListener> {
    let mut last = None;
    for port in ports.clone() {
        match TcpListener::bind(SocketAddr::new(ip, port)).await {
            Ok(l) => return Ok(l),
            Err(e) => last = Some(e),
        }
    }
    let kind = last
        .as_ref()
        .map_or(std::io::ErrorKind::InvalidInput, std::io::Error::kind);
    let why = last.map_or_else(|| "empty port range".to_string(), |e| e.to_string());
    Err(std::io::Error::new(
        kind,
        format!(
            "no port free for peers on {ip} in {}..={}: {why}",
            ports.start(),
            ports.end()
        ),
    ))
}

/// Accepts a peer. After a failure (out of descriptors, say) it waits a little before
/// reporting it, so a listener that keeps failing does not spin its caller's loop.
pub(super) async fn accept(listener: &TcpListener) -> std::io::Result<(PeerStream, SocketAddr)> {
    let accepted = listener.accept().await;
    if accepted.is_err() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    accepted.map(|(s, a)| (PeerStream::Tcp(s), a))
}

/// Accepts the next peer on either transport: TCP on `listener` (taken and dropped when
/// `transport` excludes TCP), uTP on `utp`. Never ready with neither.
pub(super) async fn accept_any(
    listener: Option<&TcpListener>,
    utp: Option<&UtpSocket>,
    transport: Transport,
) -> std::io::Result<(PeerStream, SocketAddr)> {
    let tcp = async {
        match listener {
            Some(l) => loop {
                let accepted = accept(l).await;
                if transport.tcp() || accepted.is_err() {
                    return accepted;
                }
            },
            None => std::future::pending().await,
        }
    };
    let utp = async {
        match utp.filter(|_| transport.utp()) {
            Some(u) => u.accept().await.map(|s| {
                let addr = s.peer_addr();
                (PeerStream::Utp(s), addr)
            }),
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        a = tcp => a,
        a = utp => a,
    }
}

/// One connection's socket side.
pub(super) struct Link {
    /// Bytes to send, to the writer task.
    pub(super) writer: mpsc::UnboundedSender<Vec<u8>>,
    /// The reader task, aborted when the torrent drops the connection.
    pub(super) reader: JoinHandle<()>,
    /// Its slot under the shared connection cap.
    _permit: Permit,
    /// Whether the connection runs RC4 (MSE/PE); set once its handshake has settled. For the
    /// peer list, and for PEX's `added.f` encryption flag.
    pub(super) encrypted: Arc<AtomicBool>,
    /// The peer's address, for the reason logged when the connection closes.
    pub(super) addr: Option<std::net::SocketAddr>,
    /// The connection runs over uTP (else TCP): for the peer list and PEX's `added.f`.
    pub(super) utp: bool,
}

/// How a connection's bytes are wrapped.
pub(super) enum Wrap {
    /// Plaintext, or an incoming MSE connection already settled (`Some` streams for RC4).
    Ready(Option<Box<Streams>>),
    /// An outgoing connection under this policy, for this torrent: the MSE handshake runs in the
    /// reader task, with the torrent's first bytes (its handshake) as the IA.
    Dial {
        addr: SocketAddr,
        policy: Encryption,
        info_hash: [u8; 20],
        /// For MSE's plaintext retry, over the same transport.
        dialer: Dialer,
    },
}

impl Link {
    /// Starts the reader and writer tasks of connection `id` on `stream`: bytes read go to
    /// `net` (through the `down` buckets), bytes given to [`Link::writer`] go out (through the
    /// `up` buckets).
    pub(super) fn spawn(
        id: ConnId,
        stream: PeerStream,
        permit: Permit,
        net: mpsc::Sender<Net>,
        down: Vec<Arc<Bucket>>,
        up: Vec<Arc<Bucket>>,
        wrap: Wrap,
    ) -> Link {
        stream.set_nodelay();
        let peer_addr = stream.peer_addr();
        let utp = stream.is_utp();
        let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
        // An incoming connection already settled its MSE handshake: it is encrypted from the
        // first snapshot on (its handshake may be in `prefix`, read before this task runs).
        let encrypted = Arc::new(AtomicBool::new(matches!(wrap, Wrap::Ready(Some(_)))));
        let flag = encrypted.clone();
        let reader = tokio::spawn(async move {
            let (stream, streams, first, payload) = match wrap {
                Wrap::Ready(streams) => (stream, streams, None, Vec::new()),
                Wrap::Dial {
                    addr,
                    policy,
                    info_hash,
                    dialer,
                } => {
                    // The torrent's first bytes open the MSE handshake (as its IA).
                    let Some(first) = rx.recv().await else {
                        return;
                    };
                    match encryption::dial(stream, addr, policy, info_hash, &first, &dialer).await {
                        Ok(d) => {
                            let rest =
                                first[first.len().min(torrentkit_wire::HANDSHAKE_LEN)..].to_vec();
                            (d.stream, d.streams.map(Box::new), Some(rest), d.payload)
                        }
                        Err(e) => {
                            log::info!("peer {addr}: {e}");
                            let _ = net.send(Net::Closed(id)).await;
                            return;
                        }
                    }
                }
            };
            flag.store(streams.is_some(), Ordering::Relaxed);
            let (mut recv, send) = match streams {
                Some(s) => (Some(s.recv), Some(s.send)),
                None => (None, None),
            };
            let (mut read, write) = stream.into_split();
            tokio::spawn(write_loop(write, rx, up, send, first));
            if !payload.is_empty() && net.send(Net::Data(id, Bytes::from(payload))).await.is_err() {
                return;
            }
            // Each read is split off the buffer and sent on as it is: the blocks in it reach the
            // disk thread as slices of it, and the allocation is freed when the last is written.
            // Reads fill one allocation until it runs low; then a new one starts.
            let mut buf = BytesMut::with_capacity(READ_CHUNK);
            loop {
                if buf.capacity() < MIN_READ {
                    buf.reserve(READ_CHUNK);
                }
                match read.read_buf(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if let Some(cipher) = &mut recv {
                            // In place on the bytes just read: no copy of the blocks.
                            let len = buf.len();
                            cipher.apply(&mut buf[len - n..]);
                        }
                        for limit in &down {
                            limit.take(n).await;
                        }
                        let data = buf.split().freeze();
                        if net.send(Net::Data(id, data)).await.is_err() {
                            return;
                        }
                    }
                }
            }
            let _ = net.send(Net::Closed(id)).await;
        });
        Link {
            writer: tx,
            reader,
            _permit: permit,
            encrypted,
            addr: peer_addr,
            utp,
        }
    }

    /// Whether the connection runs RC4 (false until its MSE handshake has settled).
    pub(super) fn is_encrypted(&self) -> bool {
        self.encrypted.load(Ordering::Relaxed)
    }
}

/// The writer task: sends what the torrent gives (`first` before it, when the MSE handshake
/// left some of the torrent's first bytes), through the `up` buckets, encrypted in place when
/// `send` is there.
async fn write_loop(
    mut write: WriteHalf,
    mut rx: mpsc::UnboundedReceiver<Vec<u8>>,
    up: Vec<Arc<Bucket>>,
    mut send: Option<Cipher>,
    mut first: Option<Vec<u8>>,
) {
    loop {
        let mut bytes = match first.take() {
            Some(b) if b.is_empty() => continue,
            Some(b) => b,
            None => match rx.recv().await {
                Some(b) => b,
                None => break,
            },
        };
        if let Some(cipher) = &mut send {
            cipher.apply(&mut bytes);
        }
        for limit in &up {
            limit.take(bytes.len()).await;
        }
        if write.write_all(&bytes).await.is_err() {
            break;
        }
    }
    let _ = write.shutdown().await;
}

/// Dials `addr` for connection `id` with `dialer` (its transports and time limit); the
/// outcome goes to `net`.
pub(super) fn dial(id: ConnId, addr: SocketAddr, dialer: Dialer, net: mpsc::Sender<Net>) {
    tokio::spawn(async move {
        let event = match dialer.dial(addr).await {
            Ok(stream) => Net::Connected(id, stream),
            Err(e) => {
                log::debug!("peer {addr}: {e}");
                Net::ConnectFailed(id)
            }
        };
        let _ = net.send(event).await;
    });
}
