//! The UDP side of a `bt` run's peer port: the DHT node (which owns the port's [`UdpPort`]
//! when it runs) or else a bare [`UdpPort`] for uTP alone, so that `--no-dht` and private
//! torrents still speak uTP. One per process, bound to the peer listener's port number.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use torrentkit_peer::session::{Transport, UdpPort};
use torrentkit_utp::UtpSocket;

use super::dht_node::DhtNode;

/// The run's UDP port, with the DHT on it or not.
pub(crate) struct PeerUdp {
    dht: Option<DhtNode>,
    /// The port when no DHT node holds it (uTP only).
    bare: Option<UdpPort>,
    transport: Transport,
}

impl PeerUdp {
    /// Keeps `dht`'s port, or binds one on `bind`:`port` for uTP when `transport` allows uTP
    /// (on any port, with a warning, when that one is taken: outgoing uTP still works).
    pub(crate) async fn new(
        dht: Option<DhtNode>,
        bind: IpAddr,
        port: u16,
        transport: Transport,
    ) -> PeerUdp {
        let mut bare = None;
        if dht.is_none() && transport.utp() {
            bare = match UdpPort::bind(SocketAddr::new(bind, port), None).await {
                Ok(p) => Some(p),
                Err(e) => {
                    eprintln!("bt: warning: uTP: UDP port {port}: {e}; using another port");
                    match UdpPort::bind(SocketAddr::new(bind, 0), None).await {
                        Ok(p) => Some(p),
                        Err(e) => {
                            eprintln!("bt: warning: uTP off: no UDP socket: {e}");
                            None
                        }
                    }
                }
            };
        }
        PeerUdp {
            dht,
            bare,
            transport,
        }
    }

    /// The DHT node, when one runs.
    pub(crate) fn dht(&self) -> Option<&DhtNode> {
        self.dht.as_ref()
    }

    /// The uTP endpoint peers are dialled from and accepted on; `None` under `--transport tcp`.
    pub(crate) fn utp(&self) -> Option<Arc<UtpSocket>> {
        if !self.transport.utp() {
            return None;
        }
        let port = self
            .dht
            .as_ref()
            .map(DhtNode::udp_port)
            .or(self.bare.as_ref())?;
        Some(port.utp_socket())
    }
}
