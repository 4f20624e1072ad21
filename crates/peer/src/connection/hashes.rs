//! BEP 52 hash messages on a connection: sending `hash request`, `hashes` and `hash reject`,
//! and handing the peer's on to the torrent as [`ConnEvent`]s. A malformed one (a count that
//! does not fit its request, a header out of bounds) closes the connection, as libtorrent does.
//!
//! The connection keeps no state for them: what was asked of whom, and whether a reply proves
//! out, is the torrent's business (serving in `torrent/hash_serve.rs`, fetching piece layers in
//! `metadata/layers.rs`).

use std::time::Instant;

use torrentkit_wire::{HashMessage, HashRequest};

use super::{CloseReason, ConnEvent, Connection, State};

impl Connection {
    /// Whether the peer set the BEP 52 v2-upgrade bit in its handshake.
    pub fn peer_v2(&self) -> bool {
        self.peer_v2
    }

    /// Asks the peer for hashes of a file's Merkle tree; the answer comes as
    /// [`ConnEvent::Hashes`] or [`ConnEvent::HashRejected`].
    pub fn send_hash_request(&mut self, now: Instant, request: HashRequest) {
        self.push_hash(now, &HashMessage::Request(request));
    }

    /// Answers a [`ConnEvent::HashRequest`]: `hashes` are the `length` base hashes then
    /// [`HashRequest::uncle_count`] uncles, nearest first.
    pub fn send_hashes(&mut self, now: Instant, request: HashRequest, hashes: Vec<[u8; 32]>) {
        self.push_hash(now, &HashMessage::Hashes { request, hashes });
    }

    /// Refuses a [`ConnEvent::HashRequest`].
    pub fn send_hash_reject(&mut self, now: Instant, request: HashRequest) {
        self.push_hash(now, &HashMessage::Reject(request));
    }

    fn push_hash(&mut self, now: Instant, msg: &HashMessage) {
        if self.state == State::Open {
            msg.encode(&mut self.outbuf);
            self.last_send = now;
        }
    }

    /// A message of unknown id: one of BEP 52's becomes an event; others are ignored.
    pub(super) fn on_unknown(&mut self, id: u8, payload: &[u8]) -> Result<(), CloseReason> {
        let Some(decoded) = HashMessage::decode(id, payload) else {
            return Ok(());
        };
        let event = match decoded.map_err(CloseReason::Wire)? {
            HashMessage::Request(r) => ConnEvent::HashRequest(r),
            HashMessage::Hashes { request, hashes } => ConnEvent::Hashes { request, hashes },
            HashMessage::Reject(r) => ConnEvent::HashRejected(r),
        };
        self.events.push_back(event);
        Ok(())
    }
}
