//! The engine's one UDP port: a socket bound to the same port number as the peer listener,
//! shared by the DHT and uTP and demultiplexed by the first byte of each datagram, as
//! libtorrent does: a KRPC message is a bencoded dictionary and starts with `d`; a uTP packet
//! starts with its type and version byte (`0x01`, `0x11`, `0x21`, `0x31`, `0x41`), never `d`.
//!
//! The uTP endpoint ([`UtpSocket`]) owns the socket and its receive task (batched, as its
//! driver does it); every datagram is shown first to a hook that takes the DHT's and hands them
//! to a [`torrentkit_dht::Dht`] started on the same socket ([`Dht::on_shared_socket`]), which
//! sends on it directly. The UDP tracker client keeps its own socket.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use tokio::net::UdpSocket;
use torrentkit_dht::{Config as DhtConfig, Dht, Inbox};
use torrentkit_utp::{Config as UtpConfig, DatagramHook, UtpSocket};

/// Which protocol a datagram on the shared port belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UdpProtocol {
    /// A KRPC message (starts with `d`): the DHT's.
    Dht,
    /// Anything else: uTP's (BEP 29).
    Utp,
}

/// Tells the DHT's datagrams from uTP's by their first byte.
pub fn classify(datagram: &[u8]) -> UdpProtocol {
    match datagram.first() {
        Some(b'd') => UdpProtocol::Dht,
        _ => UdpProtocol::Utp,
    }
}

/// Where the hook sends DHT datagrams: set once the DHT node exists (it needs the socket the
/// uTP endpoint has just taken), never when the port runs without a DHT.
type DhtInbox = Arc<OnceLock<Inbox>>;

/// The demultiplexer the uTP driver shows every datagram first: the DHT's are taken (handed to
/// its inbox, or counted in `dropped` when there is no DHT or it is too far behind), the rest
/// are left to uTP.
fn dht_hook(inbox: DhtInbox, dropped: Arc<AtomicU64>) -> DatagramHook {
    Box::new(move |from, datagram| {
        if classify(datagram) != UdpProtocol::Dht {
            return false;
        }
        if !inbox.get().is_some_and(|d| d.deliver(from, datagram)) {
            dropped.fetch_add(1, Ordering::Relaxed);
        }
        true
    })
}

/// The shared UDP socket: the uTP endpoint on it and the DHT node, if any. Dropping it stops
/// both (the uTP task once its last stream is gone).
#[derive(Debug)]
pub struct UdpPort {
    utp: Arc<UtpSocket>,
    dht: Option<Arc<Dht>>,
    dht_dropped: Arc<AtomicU64>,
}

impl UdpPort {
    /// Binds `addr` (the peer listener's address and port, so both share one port number) and
    /// starts a DHT node on it with `dht` when given. Must be called inside a tokio runtime.
    pub async fn bind(addr: SocketAddr, dht: Option<DhtConfig>) -> io::Result<UdpPort> {
        let socket = UdpSocket::bind(addr).await?;
        let inbox = DhtInbox::default();
        let dht_dropped = Arc::new(AtomicU64::new(0));
        let config = UtpConfig {
            // 64 KiB datagrams are offered to torrentkit peers on loopback; everyone else gets
            // 1,400-byte ones.
            max_packet_size: 65_000,
            ..UtpConfig::default()
        };
        let utp = UtpSocket::from_socket(
            socket,
            config,
            Some(dht_hook(inbox.clone(), dht_dropped.clone())),
        )?;
        let dht = match dht {
            Some(config) => {
                let (dht, receiver) = Dht::on_shared_socket(utp.udp_socket(), config)?;
                // Just created: nothing else can have set it.
                let _ = inbox.set(receiver);
                Some(Arc::new(dht))
            }
            None => None,
        };
        Ok(UdpPort {
            utp: Arc::new(utp),
            dht,
            dht_dropped,
        })
    }

    /// The socket's address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.utp.local_addr())
    }

    /// The DHT node on this port, if one was started.
    pub fn dht(&self) -> Option<&Arc<Dht>> {
        self.dht.as_ref()
    }

    /// The uTP endpoint on this port: `connect` to dial peers, `accept` for incoming ones.
    pub fn utp(&self) -> &UtpSocket {
        &self.utp
    }

    /// The uTP endpoint, to share with sessions ([`SessionConfig::utp`](super::SessionConfig::utp))
    /// and [`Shared::serve_utp`](super::Shared::serve_utp).
    pub fn utp_socket(&self) -> Arc<UtpSocket> {
        self.utp.clone()
    }

    /// DHT datagrams dropped (no DHT on this port, or it was too far behind).
    pub fn dht_dropped(&self) -> u64 {
        self.dht_dropped.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

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
    async fn one_port_serves_the_dht_and_utp() {
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

        // uTP on the same port works beside it.
        let dialer = UtpSocket::bind("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let dial = tokio::spawn(async move {
            let mut s = dialer.connect(addr).await.unwrap();
            s.write_all(b"hello").await.unwrap();
            s.shutdown().await.unwrap();
            let mut rest = Vec::new();
            s.read_to_end(&mut rest).await.unwrap();
        });
        let mut s = port.utp().accept().await.unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"hello");
        drop(s);
        dial.await.unwrap();
        assert_eq!(port.utp().stats().malformed, 0, "no KRPC reached uTP");
        assert_eq!(port.dht().unwrap().stats().await.unwrap().malformed, 0);
        assert_eq!(port.dht_dropped(), 0);
    }

    #[tokio::test]
    async fn without_a_dht_its_datagrams_are_counted_and_dropped() {
        let port = UdpPort::bind("127.0.0.1:0".parse().unwrap(), None)
            .await
            .unwrap();
        let probe = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        probe
            .send_to(
                b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe",
                port.local_addr().unwrap(),
            )
            .await
            .unwrap();
        let start = std::time::Instant::now();
        while port.dht_dropped() == 0 {
            assert!(
                start.elapsed().as_secs() < 5,
                "the KRPC datagram never arrived"
            );
            tokio::task::yield_now().await;
        }
        assert_eq!(port.utp().stats().malformed, 0);
    }
}
