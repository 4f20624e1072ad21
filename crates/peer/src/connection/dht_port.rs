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

#[cfg(test)]
mod tests {
    use super::super::pair::Pair;
    use crate::{ConnEvent, ConnectionConfig};

    fn cfg(id: u8, pieces: u32) -> ConnectionConfig {
        ConnectionConfig::new([9; 20], [id; 20], pieces)
    }

    #[test]
    fn port_goes_only_between_peers_that_both_run_a_dht() {
        for (a_dht, b_dht) in [(true, true), (true, false), (false, true), (false, false)] {
            let mut a = cfg(1, 8);
            a.dht_port = a_dht.then_some(6881);
            let mut b = cfg(2, 8);
            b.dht_port = b_dht.then_some(7000);
            let mut p = Pair::new(a, b);
            let now = p.now;
            assert_eq!(p.a.send_dht_port(now), a_dht && b_dht);
            assert_eq!(p.b.send_dht_port(now), a_dht && b_dht);
            p.drive();
            let got = |events: &[ConnEvent]| {
                events.iter().find_map(|e| match e {
                    ConnEvent::DhtPort(port) => Some(*port),
                    _ => None,
                })
            };
            let both = a_dht && b_dht;
            assert_eq!(got(&p.ev_b), both.then_some(6881));
            assert_eq!(got(&p.ev_a), both.then_some(7000));
        }
    }
}
