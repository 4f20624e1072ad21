//! The engine's one UDP port: a socket bound to the TCP listener's port number that serves uTP
//! and (once the DHT is wired in) the DHT, told apart by the first byte as libtorrent does. A
//! bencoded KRPC message is a dictionary, so it starts with `d`; no uTP packet does (its first
//! byte is the type in the high nibble, 0 to 4, over version 1). For now DHT datagrams are
//! counted and dropped in [`dht_hook`]; everything else goes to the uTP endpoint. The UDP
//! tracker client keeps its own socket.

// Not yet called by the session: the lead wires it with the DHT branch's version of this file.
#![cfg_attr(not(test), allow(dead_code))]

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::net::TcpListener;
use torrentkit_utp::{Config, UtpSocket};

/// The UDP side of the peer port.
pub(crate) struct UdpPort {
    utp: UtpSocket,
    dht_datagrams: Arc<AtomicU64>,
}

/// Whether a datagram is the DHT's (a bencoded dictionary) rather than uTP's.
pub(crate) fn is_dht(datagram: &[u8]) -> bool {
    datagram.first() == Some(&b'd')
}

/// The hook the uTP driver shows every datagram first: DHT datagrams are taken (counted and
/// dropped until the DHT node is wired here), the rest left to uTP.
fn dht_hook(count: Arc<AtomicU64>) -> torrentkit_utp::DatagramHook {
    Box::new(move |_from, datagram| {
        if is_dht(datagram) {
            count.fetch_add(1, Ordering::Relaxed);
            return true;
        }
        false
    })
}

impl UdpPort {
    /// Binds UDP on the address (IP and port number) of the TCP `listener`.
    pub(crate) async fn bind(listener: &TcpListener) -> io::Result<UdpPort> {
        let addr = listener.local_addr()?;
        UdpPort::bind_addr(addr).await
    }

    /// Binds UDP on `addr`.
    pub(crate) async fn bind_addr(addr: SocketAddr) -> io::Result<UdpPort> {
        let dht_datagrams = Arc::new(AtomicU64::new(0));
        // 64 KiB datagrams are offered to torrentkit peers on loopback; everyone else gets
        // 1,400-byte ones.
        let config = Config {
            max_packet_size: 65_000,
            ..Config::default()
        };
        let utp = UtpSocket::bind_with_hook(addr, config, dht_hook(dht_datagrams.clone()))
            .await
            .map_err(|e| {
                io::Error::new(e.kind(), format!("binding the uTP/DHT port {addr}: {e}"))
            })?;
        Ok(UdpPort { utp, dht_datagrams })
    }

    /// The uTP endpoint: `connect` to dial peers, `accept` for incoming ones.
    pub(crate) fn utp(&self) -> &UtpSocket {
        &self.utp
    }

    /// The address bound.
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.utp.local_addr()
    }

    /// DHT datagrams received (and dropped, for now).
    pub(crate) fn dht_datagrams(&self) -> u64 {
        self.dht_datagrams.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn the_first_byte_tells_dht_from_utp() {
        assert!(is_dht(b"d1:ad2:id20:"));
        for utp_first in [0x01, 0x11, 0x21, 0x31, 0x41] {
            assert!(!is_dht(&[utp_first, 0]));
        }
        assert!(!is_dht(b""));
    }

    #[tokio::test]
    async fn one_port_number_for_tcp_and_udp_and_dht_datagrams_are_set_aside() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = UdpPort::bind(&listener).await.unwrap();
        assert_eq!(port.local_addr(), listener.local_addr().unwrap());

        let dht = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        dht.send_to(
            b"d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe",
            port.local_addr(),
        )
        .await
        .unwrap();

        // uTP on the same port goes on working.
        let other = UtpSocket::bind("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let to = port.local_addr();
        let dial = tokio::spawn(async move {
            let mut s = other.connect(to).await.unwrap();
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
        // The DHT datagram was sent before the uTP connection: it has been seen.
        assert_eq!(port.dht_datagrams(), 1);
        assert_eq!(port.utp().stats().malformed, 0, "it never reached uTP");
    }
}
