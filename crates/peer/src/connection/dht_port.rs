//! The BEP 5 `port` message we send: our DHT node's UDP port, to a peer whose handshake set
//! the DHT bit, when we run a DHT for the torrent ([`ConnectionConfig::dht_port`]).
//!
//! [`ConnectionConfig::dht_port`]: super::ConnectionConfig::dht_port

use std::time::Instant;

use torrentkit_wire::Message;

use super::Connection;

impl Connection {
    /// We run a DHT for this connection's torrent (its `port` messages are worth taking).
    pub fn runs_dht(&self) -> bool {
        self.cfg.dht_port.is_some()
    }

    /// Sends our DHT port if the peer set the DHT bit and we run a DHT; the torrent calls it
    /// right after the bitfield, which must come first. True when it went out.
    pub fn send_dht_port(&mut self, now: Instant) -> bool {
        match self.cfg.dht_port {
            Some(port) if self.peer_dht && self.is_connected() => {
                self.push(now, &Message::Port(port));
                true
            }
            _ => false,
        }
    }
}
