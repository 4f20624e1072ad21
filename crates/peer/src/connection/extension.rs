//! Extension messages (BEP 10): our extension handshake and the peer's, whose `reqq` bounds
//! our request queue.

use std::time::Instant;

use torrentkit_wire::{ExtendedHandshake, Message};

use super::{CloseReason, ConnEvent, Connection};

impl Connection {
    /// Sends our extension handshake: client name, listen port, and our `reqq`.
    pub(super) fn send_extension_handshake(&mut self, now: Instant) {
        let client = format!("torrentkit {}", env!("CARGO_PKG_VERSION"));
        let ours = ExtendedHandshake {
            client: Some(client.as_bytes()),
            listen_port: self.cfg.listen_port,
            request_queue: Some(self.cfg.max_peer_requests),
            ..ExtendedHandshake::default()
        };
        let payload = ours.to_payload();
        self.push(
            now,
            &Message::Extended {
                id: 0,
                payload: &payload,
            },
        );
    }

    /// The peer's extension handshake.
    pub(super) fn on_extension_handshake(&mut self, payload: &[u8]) -> Result<(), CloseReason> {
        let hs = ExtendedHandshake::decode(payload)?;
        if let Some(q) = hs.request_queue {
            self.peer_reqq = q.max(1);
        }
        self.events.push_back(ConnEvent::ExtensionHandshake {
            client: hs.client.map(|c| String::from_utf8_lossy(c).into_owned()),
            reqq: hs.request_queue,
            listen_port: hs.listen_port,
        });
        Ok(())
    }
}
