//! The socket side of the driver: the listener, dialling, and one reader and one writer task per
//! connection, with the rate limits applied where the bytes move.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::limit::Bucket;
use super::Permit;
use crate::ConnId;

/// The size of the allocations a connection reads into.
const READ_CHUNK: usize = 64 * 1024;
/// A read gets at least this much room; with less left, a new allocation starts.
const MIN_READ: usize = 16 * 1024;

/// What the socket tasks report to the driver.
#[derive(Debug)]
pub(super) enum Net {
    Connected(ConnId, TcpStream),
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
pub(super) async fn accept(listener: &TcpListener) -> std::io::Result<(TcpStream, SocketAddr)> {
    let accepted = listener.accept().await;
    if accepted.is_err() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    accepted
}

/// One connection's socket side.
pub(super) struct Link {
    /// Bytes to send, to the writer task.
    pub(super) writer: mpsc::UnboundedSender<Vec<u8>>,
    /// The reader task, aborted when the torrent drops the connection.
    pub(super) reader: JoinHandle<()>,
    /// Its slot under the shared connection cap.
    _permit: Permit,
}

impl Link {
    /// Starts the reader and writer tasks of connection `id` on `stream`: bytes read go to
    /// `net` (through the `down` buckets), bytes given to [`Link::writer`] go out (through the
    /// `up` buckets).
    pub(super) fn spawn(
        id: ConnId,
        stream: TcpStream,
        permit: Permit,
        net: mpsc::Sender<Net>,
        down: Vec<Arc<Bucket>>,
        up: Vec<Arc<Bucket>>,
    ) -> Link {
        let _ = stream.set_nodelay(true);
        let (mut read, mut write) = stream.into_split();
        let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
        let reader = tokio::spawn(async move {
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
        tokio::spawn(async move {
            while let Some(bytes) = rx.recv().await {
                for limit in &up {
                    limit.take(bytes.len()).await;
                }
                if write.write_all(&bytes).await.is_err() {
                    break;
                }
            }
            let _ = write.shutdown().await;
        });
        Link {
            writer: tx,
            reader,
            _permit: permit,
        }
    }
}

/// Dials `addr` for connection `id`, within `limit`; the outcome goes to `net`.
pub(super) fn dial(id: ConnId, addr: SocketAddr, limit: Duration, net: mpsc::Sender<Net>) {
    tokio::spawn(async move {
        let event = match tokio::time::timeout(limit, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => Net::Connected(id, stream),
            _ => Net::ConnectFailed(id),
        };
        let _ = net.send(event).await;
    });
}
