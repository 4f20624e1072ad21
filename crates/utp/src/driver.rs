//! The tokio driver: a task that owns a UDP socket and an [`Endpoint`], moving batches of
//! datagrams between them (GSO/GRO and `recvmmsg` through quinn-udp), and the connections as
//! [`UtpStream`]s (`AsyncRead + AsyncWrite`).

use std::collections::{HashMap, VecDeque};
use std::future::poll_fn;
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::UdpSocket;
use tokio::sync::Notify;

use crate::config::Config;
use crate::endpoint::Endpoint;
use crate::event::{CloseReason, ConnectionHandle, Event};

/// The largest datagram read (UDP's limit); with GRO one read holds several.
const RECV_BUF: usize = 65_536;
/// What the driver asks of the kernel for each socket buffer: loopback bursts of 64 KiB
/// datagrams overflow the 208 KiB default (Linux caps it at `net.core.rmem_max`).
const SOCKET_BUFFER: usize = 4 << 20;
/// The datagram size the driver offers peers on loopback (UDP on IPv4 takes 65,507).
pub(crate) const LOOPBACK_PACKET: usize = 65_000;
/// Incoming connections waiting for [`UtpSocket::accept`], at most; more are reset.
const ACCEPT_BACKLOG: usize = 128;

/// A datagram hook: sees each received datagram first and returns true when it took it (it
/// is then not handed to the uTP endpoint). See [`UtpSocket::bind_with_hook`].
pub type DatagramHook = Box<dyn FnMut(SocketAddr, &[u8]) -> bool + Send>;

#[derive(Default)]
struct Status {
    connected: bool,
    closed: Option<CloseReason>,
    read: Option<Waker>,
    write: Option<Waker>,
}

struct Inner {
    endpoint: Endpoint,
    status: HashMap<ConnectionHandle, Status>,
    incoming: VecDeque<ConnectionHandle>,
    accept: Option<Waker>,
}

struct Shared {
    inner: Mutex<Inner>,
    /// Wakes the driver task: the application wrote, read or closed something.
    wake: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while locked leaves the endpoint consistent enough to keep going.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A uTP endpoint on a UDP socket, driven by a tokio task.
///
/// The task runs while the socket or any of its streams lives (and until closing
/// connections finish). Each step it handles a batch of received datagrams (or the
/// endpoint's timeout), sends everything the endpoint has queued in GSO batches, wakes the
/// streams its events concern, then sleeps until the next datagram, timeout or application
/// call.
pub struct UtpSocket {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
    socket: Arc<UdpSocket>,
}

impl std::fmt::Debug for UtpSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UtpSocket")
            .field("local_addr", &self.local_addr)
            .finish()
    }
}

impl UtpSocket {
    /// Binds a UDP socket on `addr` (port 0 for any) with the default [`Config`], offering
    /// 64 KiB datagrams to torrentkit peers on loopback.
    pub async fn bind(addr: SocketAddr) -> io::Result<UtpSocket> {
        let config = Config {
            max_packet_size: LOOPBACK_PACKET,
            ..Config::default()
        };
        UtpSocket::bind_with_config(addr, config).await
    }

    /// Binds with `config`.
    pub async fn bind_with_config(addr: SocketAddr, config: Config) -> io::Result<UtpSocket> {
        let socket = UdpSocket::bind(addr).await?;
        UtpSocket::from_socket(socket, config, None)
    }

    /// Binds with `config`, showing every datagram to `hook` first: the caller's
    /// demultiplexer (libtorrent serves the DHT on the same port and tells the two apart by
    /// the first byte, `d` for bencoded KRPC).
    pub async fn bind_with_hook(
        addr: SocketAddr,
        config: Config,
        hook: DatagramHook,
    ) -> io::Result<UtpSocket> {
        let socket = UdpSocket::bind(addr).await?;
        UtpSocket::from_socket(socket, config, Some(hook))
    }

    /// Runs the endpoint on an already bound socket.
    pub fn from_socket(
        socket: UdpSocket,
        config: Config,
        hook: Option<DatagramHook>,
    ) -> io::Result<UtpSocket> {
        let local_addr = socket.local_addr()?;
        let state = quinn_udp::UdpSocketState::new((&socket).into())?;
        // Best effort: a smaller buffer only costs speed.
        let _ = state.set_recv_buffer_size((&socket).into(), SOCKET_BUFFER);
        let _ = state.set_send_buffer_size((&socket).into(), SOCKET_BUFFER);
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                endpoint: Endpoint::new(config, Instant::now()),
                status: HashMap::new(),
                incoming: VecDeque::new(),
                accept: None,
            }),
            wake: Notify::new(),
        });
        let socket = Arc::new(socket);
        tokio::spawn(run(shared.clone(), socket.clone(), state, hook));
        Ok(UtpSocket {
            shared,
            local_addr,
            socket,
        })
    }

    /// The UDP socket under the endpoint, for a protocol sharing the port to send on (the
    /// DHT, whose datagrams the [`DatagramHook`] takes on the way in).
    pub fn udp_socket(&self) -> Arc<UdpSocket> {
        self.socket.clone()
    }

    /// The socket's address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Sends one datagram that is not uTP (the DHT's, on a shared port).
    pub async fn send_to(&self, bytes: &[u8], to: SocketAddr) -> io::Result<usize> {
        self.socket.send_to(bytes, to).await
    }

    /// The endpoint's counters.
    pub fn stats(&self) -> crate::Stats {
        self.shared.lock().endpoint.stats()
    }

    /// Opens a connection to `remote`; resolves once the peer answered the SYN.
    pub async fn connect(&self, remote: SocketAddr) -> io::Result<UtpStream> {
        let handle = {
            let mut inner = self.shared.lock();
            let h = inner
                .endpoint
                .connect(remote, Instant::now())
                .map_err(|e| io::Error::other(e.to_string()))?;
            inner.status.insert(h, Status::default());
            h
        };
        self.shared.wake.notify_one();
        let stream = UtpStream {
            shared: self.shared.clone(),
            handle,
            remote,
        };
        poll_fn(|cx| {
            let mut inner = self.shared.lock();
            let st = inner
                .status
                .get_mut(&handle)
                .expect("status lives as long as the stream");
            if st.connected {
                return Poll::Ready(Ok(()));
            }
            if let Some(reason) = st.closed {
                return Poll::Ready(Err(match reason {
                    CloseReason::Reset => io::Error::new(
                        io::ErrorKind::ConnectionRefused,
                        format!("utp: {remote} refused the connection"),
                    ),
                    _ => io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("utp: {remote} did not answer"),
                    ),
                }));
            }
            st.write = Some(cx.waker().clone());
            Poll::Pending
        })
        .await?;
        Ok(stream)
    }

    /// Waits for the next incoming connection.
    pub async fn accept(&self) -> io::Result<UtpStream> {
        poll_fn(|cx| {
            let mut inner = self.shared.lock();
            if let Some(handle) = inner.incoming.pop_front() {
                let remote = inner
                    .endpoint
                    .remote(handle)
                    .map_err(|e| io::Error::other(e.to_string()))?;
                return Poll::Ready(Ok(UtpStream {
                    shared: self.shared.clone(),
                    handle,
                    remote,
                }));
            }
            inner.accept = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }
}

impl Drop for UtpSocket {
    fn drop(&mut self) {
        self.shared.wake.notify_one();
    }
}

/// One uTP connection as a byte stream.
///
/// Reads end (`Ok(0)`) at the peer's FIN; a RESET or a peer that stops answering is an
/// error (`ConnectionReset`, `TimedOut`). `poll_shutdown` sends our FIN once what was
/// written is delivered; dropping the stream closes it (after the same delivery).
pub struct UtpStream {
    shared: Arc<Shared>,
    handle: ConnectionHandle,
    remote: SocketAddr,
}

impl std::fmt::Debug for UtpStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UtpStream")
            .field("remote", &self.remote)
            .finish()
    }
}

impl UtpStream {
    /// The peer's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.remote
    }

    /// The connection's transport state (packet size, window, RTT, queueing delay).
    pub fn info(&self) -> Option<crate::ConnectionInfo> {
        self.shared
            .lock()
            .endpoint
            .connection_info(self.handle)
            .ok()
    }
}

fn closed_error(reason: CloseReason) -> io::Error {
    match reason {
        CloseReason::Reset => io::Error::new(
            io::ErrorKind::ConnectionReset,
            "utp: connection reset by peer",
        ),
        CloseReason::TimedOut => {
            io::Error::new(io::ErrorKind::TimedOut, "utp: peer stopped answering")
        }
        _ => io::Error::new(io::ErrorKind::BrokenPipe, "utp: connection closed"),
    }
}

impl AsyncRead for UtpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let mut inner = self.shared.lock();
        let r = inner.endpoint.read(self.handle, buf.initialize_unfilled());
        match r {
            Ok(Some(n)) if n > 0 => {
                buf.advance(n);
                drop(inner);
                self.shared.wake.notify_one();
                Poll::Ready(Ok(()))
            }
            Ok(Some(_)) | Err(_) => {
                let reason = inner.endpoint.close_reason(self.handle).ok().flatten();
                match reason {
                    Some(r @ (CloseReason::Reset | CloseReason::TimedOut)) => {
                        Poll::Ready(Err(closed_error(r)))
                    }
                    _ => Poll::Ready(Ok(())),
                }
            }
            Ok(None) => {
                if let Some(st) = inner.status.get_mut(&self.handle) {
                    st.read = Some(cx.waker().clone());
                }
                Poll::Pending
            }
        }
    }
}

impl AsyncWrite for UtpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut inner = self.shared.lock();
        match inner.endpoint.write(self.handle, data) {
            Ok(n) if n > 0 => {
                drop(inner);
                self.shared.wake.notify_one();
                Poll::Ready(Ok(n))
            }
            Ok(_) if data.is_empty() => Poll::Ready(Ok(0)),
            Ok(_) => {
                if let Ok(Some(reason)) = inner.endpoint.close_reason(self.handle) {
                    return Poll::Ready(Err(closed_error(reason)));
                }
                if let Some(st) = inner.status.get_mut(&self.handle) {
                    if let Some(reason) = st.closed {
                        return Poll::Ready(Err(closed_error(reason)));
                    }
                    st.write = Some(cx.waker().clone());
                }
                Poll::Pending
            }
            Err(_) => Poll::Ready(Err(closed_error(CloseReason::Finished))),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut inner = self.shared.lock();
        let _ = inner.endpoint.shutdown(self.handle, Instant::now());
        drop(inner);
        self.shared.wake.notify_one();
        Poll::Ready(Ok(()))
    }
}

impl Drop for UtpStream {
    fn drop(&mut self) {
        let mut inner = self.shared.lock();
        let _ = inner.endpoint.close(self.handle, Instant::now());
        inner.status.remove(&self.handle);
        drop(inner);
        self.shared.wake.notify_one();
    }
}

/// One GSO batch: datagrams to one destination, all `segment` bytes but the last.
struct Batch {
    destination: SocketAddr,
    segment: usize,
    count: usize,
    bytes: Vec<u8>,
}

/// Drains the endpoint's datagrams into GSO batches.
fn collect_transmits(
    endpoint: &mut Endpoint,
    now: Instant,
    max_segments: usize,
    batches: &mut Vec<Batch>,
    spare: &mut Vec<Vec<u8>>,
) {
    loop {
        let mut bytes = spare.pop().unwrap_or_default();
        bytes.clear();
        let Some(t) = endpoint.poll_transmit(now, &mut bytes) else {
            spare.push(bytes);
            return;
        };
        if let Some(b) = batches.last_mut() {
            let fits = b.destination == t.destination
                && t.len <= b.segment
                && b.bytes.len() % b.segment == 0
                && b.count < max_segments
                && b.bytes.len() + t.len <= 65_000;
            if fits {
                b.bytes.extend_from_slice(&bytes);
                b.count += 1;
                spare.push(bytes);
                continue;
            }
        }
        batches.push(Batch {
            destination: t.destination,
            segment: t.len,
            count: 1,
            bytes,
        });
    }
}

/// Hands events to the streams they concern.
fn dispatch_events(inner: &mut Inner) {
    while let Some(event) = inner.endpoint.poll_event() {
        let (h, f): (ConnectionHandle, fn(&mut Status)) = match event {
            Event::Incoming(h) => {
                if inner.incoming.len() >= ACCEPT_BACKLOG {
                    let _ = inner.endpoint.reset(h);
                    continue;
                }
                inner.status.insert(h, Status::default());
                inner.incoming.push_back(h);
                if let Some(w) = inner.accept.take() {
                    w.wake();
                }
                continue;
            }
            Event::Connected(h) => (h, |s| s.connected = true),
            Event::Readable(h) | Event::Writable(h) => (h, |_| {}),
            Event::Closed(h, reason) => {
                if let Some(s) = inner.status.get_mut(&h) {
                    s.closed = Some(reason);
                }
                (h, |_| {})
            }
        };
        if let Some(s) = inner.status.get_mut(&h) {
            f(s);
            if matches!(event, Event::Readable(_) | Event::Closed(..)) {
                if let Some(w) = s.read.take() {
                    w.wake();
                }
            }
            if !matches!(event, Event::Readable(_)) {
                if let Some(w) = s.write.take() {
                    w.wake();
                }
            }
        }
    }
}

async fn run(
    shared: Arc<Shared>,
    socket: Arc<UdpSocket>,
    state: quinn_udp::UdpSocketState,
    mut hook: Option<DatagramHook>,
) {
    let batch = quinn_udp::BATCH_SIZE;
    let gro = state.gro_segments().max(1);
    let mut storage = vec![vec![0u8; RECV_BUF * gro.min(4)]; batch];
    let mut meta = vec![quinn_udp::RecvMeta::default(); batch];
    let max_segments = state.max_gso_segments().max(1);
    let mut batches: Vec<Batch> = Vec::new();
    let mut spare: Vec<Vec<u8>> = Vec::new();
    loop {
        // Output, then events.
        let timeout = {
            let mut inner = shared.lock();
            collect_transmits(
                &mut inner.endpoint,
                Instant::now(),
                max_segments,
                &mut batches,
                &mut spare,
            );
            dispatch_events(&mut inner);
            if Arc::strong_count(&shared) == 1 && inner.endpoint.stats().connections == 0 {
                return;
            }
            inner.endpoint.poll_timeout()
        };
        for b in batches.drain(..) {
            let transmit = quinn_udp::Transmit {
                destination: b.destination,
                ecn: None,
                contents: &b.bytes,
                segment_size: (b.count > 1).then_some(b.segment),
                src_ip: None,
            };
            loop {
                match socket.try_io(Interest::WRITABLE, || {
                    state.send((&*socket).into(), &transmit)
                }) {
                    Ok(()) => break,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        if socket.writable().await.is_err() {
                            break;
                        }
                    }
                    // Unreachable hosts and the like: the datagram is lost, uTP resends.
                    Err(_) => break,
                }
            }
            spare.push(b.bytes);
        }
        let sleep = async {
            match timeout {
                Some(t) => tokio::time::sleep_until(t.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            r = socket.readable() => {
                if r.is_err() {
                    return;
                }
                let mut bufs: Vec<IoSliceMut<'_>> = storage.iter_mut().map(|b| IoSliceMut::new(b)).collect();
                // Read until the socket is empty (or 16 batches: then send what is due).
                for _ in 0..16 {
                    let n = match socket.try_io(Interest::READABLE, || state.recv((&*socket).into(), &mut bufs, &mut meta)) {
                        Ok(n) => n,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        // An ICMP error for an earlier send.
                        Err(_) => continue,
                    };
                    let now = Instant::now();
                    let mut inner = shared.lock();
                    for (buf, m) in bufs.iter().zip(&meta).take(n) {
                        let stride = m.stride.max(1);
                        for datagram in buf[..m.len].chunks(stride) {
                            if let Some(h) = hook.as_mut() {
                                if h(m.addr, datagram) {
                                    continue;
                                }
                            }
                            inner.endpoint.handle_datagram(m.addr, datagram, now);
                        }
                    }
                }
                let mut inner = shared.lock();
                inner.endpoint.handle_timeout(Instant::now());
            }
            _ = shared.wake.notified() => {}
            _ = sleep => {
                shared.lock().endpoint.handle_timeout(Instant::now());
            }
        }
    }
}
