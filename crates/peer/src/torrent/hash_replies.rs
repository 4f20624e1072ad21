//! BEP 52 hashes that peers send the torrent: the command to ask a connection for some, and
//! where their `hashes` and `hash reject` replies arrive. The torrent asks for the 16 KiB leaf
//! hashes of failed pieces (the bad-block hunt, `bad_block.rs`); a magnet's piece layers are
//! fetched before the torrent starts (`metadata/layers.rs`).

use std::time::Instant;

use torrentkit_wire::HashRequest;

use super::Torrent;
use crate::ConnId;

impl Torrent {
    /// Sends `request` to the peer on `id` (nothing if it is gone); the reply is handed to
    /// `on_hashes` or `on_hash_rejected`.
    pub fn send_hash_request(&mut self, now: Instant, id: ConnId, request: HashRequest) {
        if let Some(p) = self.peers.get_mut(&id) {
            p.conn.send_hash_request(now, request);
        }
    }

    /// Hashes from `id` answering `request`: `length` base hashes then the uncles, unchecked.
    pub(super) fn on_hashes(
        &mut self,
        now: Instant,
        id: ConnId,
        request: HashRequest,
        hashes: Vec<[u8; 32]>,
    ) {
        self.hunt_hashes(now, id, &request, &hashes);
    }

    /// `id` refused `request`.
    pub(super) fn on_hash_rejected(&mut self, now: Instant, id: ConnId, request: HashRequest) {
        self.hunt_rejected(now, id, &request);
    }
}
