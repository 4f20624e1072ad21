//! The engine's one UDP port: a socket bound to the same port number as the peer listener,
//! shared by the DHT and uTP and demultiplexed by the first byte of each datagram, as
//! libtorrent does: a KRPC message is a bencoded dictionary and starts with `d`; a uTP packet
//! starts with its type and version byte (`0x01`, `0x11`, `0x21`, `0x31`, `0x41`), never `d`.
//!
//! [`UdpPort`] owns the socket and its receive task. DHT datagrams go to a
//! [`torrentkit_dht::Dht`] started on the same socket ([`Dht::on_shared_socket`]); everything
//! else goes to `to_utp`, the hook uTP fills (for now it counts the datagram and drops it).

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::net::UdpSocket;
use tokio::task::JoinHandle;
use torrentkit_dht::{Config as DhtConfig, Dht, Inbox};

/// Which protocol a datagram on the shared port belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UdpProtocol {
    /// A KRPC message (starts with `d`): the DHT's.
    Dht,
    /// Anything else: uTP's (BEP 29), handed to the uTP hook (`to_utp`, counted in [`UdpPort::utp_dropped`] until uTP is wired in).
    Utp,
}

/// Tells the DHT's datagrams from uTP's by their first byte.
pub fn classify(datagram: &[u8]) -> UdpProtocol {
    match datagram.first() {
        Some(b'd') => UdpProtocol::Dht,
        _ => UdpProtocol::Utp,
    }
}

/// What the port received and could not hand on.
#[derive(Debug, Default)]
struct Counters {
    /// Datagrams for uTP, dropped while uTP is not wired in.
    utp_dropped: AtomicU64,
    /// DHT datagrams dropped: no DHT on this port, or its inbox was full.
    dht_dropped: AtomicU64,
}

/// The uTP hook: every datagram of the shared port that is not the DHT's comes here. uTP is
/// not wired in yet, so it is counted ([`UdpPort::utp_dropped`]) and dropped.
fn to_utp(_from: SocketAddr, _datagram: &[u8], counters: &Counters) {
    counters.utp_dropped.fetch_add(1, Ordering::Relaxed);
}

/// The shared UDP socket, its receive task and the DHT node on it. Dropping it stops both.
#[derive(Debug)]
pub struct UdpPort {
    socket: Arc<UdpSocket>,
    dht: Option<Arc<Dht>>,
    counters: Arc<Counters>,
    task: JoinHandle<()>,
}

impl UdpPort {
    /// Binds `addr` (the peer listener's address and port, so both share one port number) and
    /// starts a DHT node on it with `dht` when given. Must be called inside a tokio runtime.
    pub async fn bind(addr: SocketAddr, dht: Option<DhtConfig>) -> io::Result<UdpPort> {
        let socket = Arc::new(UdpSocket::bind(addr).await?);
        let counters = Arc::new(Counters::default());
        let (dht, inbox) = match dht {
            Some(config) => {
                let (dht, inbox) = Dht::on_shared_socket(socket.clone(), config)?;
                (Some(Arc::new(dht)), Some(inbox))
            }
            None => (None, None),
        };
        let task = tokio::spawn(receive(socket.clone(), inbox, counters.clone()));
        Ok(UdpPort {
            socket,
            dht,
            counters,
            task,
        })
    }

    /// The socket's address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// The DHT node on this port, if one was started.
    pub fn dht(&self) -> Option<&Arc<Dht>> {
        self.dht.as_ref()
    }

    /// Datagrams for uTP received and dropped (uTP is not wired in yet).
    pub fn utp_dropped(&self) -> u64 {
        self.counters.utp_dropped.load(Ordering::Relaxed)
    }

    /// DHT datagrams dropped (no DHT on this port, or it was too far behind).
    pub fn dht_dropped(&self) -> u64 {
        self.counters.dht_dropped.load(Ordering::Relaxed)
    }
}

impl Drop for UdpPort {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The receive loop: one datagram at a time, to the DHT's inbox or to [`to_utp`].
async fn receive(socket: Arc<UdpSocket>, dht: Option<Inbox>, counters: Arc<Counters>) {
    // The largest UDP payload: nothing is cut short, whatever the DHT or uTP accept.
    let mut buffer = vec![0; 65_536];
    loop {
        // An error (an ICMP port unreachable reported on the socket) carries no datagram.
        let Ok((len, from)) = socket.recv_from(&mut buffer).await else {
            continue;
        };
        let datagram = &buffer[..len];
        match classify(datagram) {
            UdpProtocol::Dht => {
                if !dht.as_ref().is_some_and(|d| d.deliver(from, datagram)) {
                    counters.dht_dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
            UdpProtocol::Utp => to_utp(from, datagram, &counters),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn krpc_goes_to_the_dht_and_utp_headers_do_not() {
        assert_eq!(classify(b"d1:ad2:id20:"), UdpProtocol::Dht);
        // uTP type/version bytes: ST_DATA, ST_FIN, ST_STATE, ST_RESET, ST_SYN (version 1).
        for first in [0x01u8, 0x11, 0x21, 0x31, 0x41] {
            assert_eq!(classify(&[first, 0, 0, 0]), UdpProtocol::Utp);
        }
        assert_eq!(classify(b""), UdpProtocol::Utp);
    }

    #[tokio::test]
    async fn one_port_serves_the_dht_and_counts_the_rest() {
        let port = UdpPort::bind("127.0.0.1:0".parse().unwrap(), Some(DhtConfig::default()))
            .await
            .unwrap();
        let addr = port.local_addr().unwrap();
        let other = Dht::bind("127.0.0.1:0".parse().unwrap(), {
            let mut c = DhtConfig::default();
            c.seed = 5;
            c
        })
        .await
        .unwrap();
        // A DHT node reaches the port's node through the shared socket.
        let joined = other.bootstrap(&[addr]).await.unwrap();
        assert_eq!(joined.closest.len(), 1);
        assert_eq!(joined.closest[0].addr, addr);
        let stats = port.dht().unwrap().stats().await.unwrap();
        assert!(stats.answers_sent >= 1, "{stats:?}");
        // A uTP SYN is counted and dropped, not fed to the DHT.
        let probe = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        probe.send_to(&[0x41, 1, 0, 0], addr).await.unwrap();
        let start = std::time::Instant::now();
        while port.utp_dropped() == 0 {
            assert!(
                start.elapsed().as_secs() < 5,
                "the uTP datagram never arrived"
            );
            tokio::task::yield_now().await;
        }
        assert_eq!(port.dht().unwrap().stats().await.unwrap().malformed, 0);
    }
}
