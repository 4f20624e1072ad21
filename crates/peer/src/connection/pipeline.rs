//! Our request pipeline: how many requests to keep in flight (slow start, then enough for
//! [`ConnectionConfig::queue_time`](super::ConnectionConfig::queue_time) at the peer's rate,
//! bounded by its `reqq`), sending and cancelling them, the blocks, rejects and chokes that
//! answer them, and the timeout that marks a peer snubbed.

use std::time::Instant;

use bytes::Bytes;
use torrentkit_wire::{BlockRequest as WireRequest, Message};

use super::{from_wire, to_wire, CloseReason, ConnEvent, Connection, State};
use crate::storage::BLOCK_SIZE;
use crate::BlockRequest;

impl Connection {
    /// The request queue depth we aim for now: enough blocks for
    /// [`ConnectionConfig::queue_time`](super::ConnectionConfig::queue_time) at the peer's
    /// measured rate (slow start until measured), at least `min_queue`, at most the peer's
    /// `reqq` and `max_queue`; 1 while snubbed.
    pub fn queue_depth(&self) -> u32 {
        if self.snubbed {
            return 1;
        }
        let by_rate = if self.down.has_sample() {
            (self.down.rate() as f64 * self.cfg.queue_time.as_secs_f64() / f64::from(BLOCK_SIZE))
                as u32
        } else {
            self.slow_start
        };
        by_rate
            .max(self.cfg.min_queue)
            .min(self.peer_reqq.min(self.cfg.max_queue))
            .max(1)
    }

    /// How many more requests to send now (0 unless we are interested and unchoked).
    pub fn request_slots(&self) -> usize {
        if self.state != State::Open || !self.am_interested || self.peer_choking {
            return 0;
        }
        (self.queue_depth() as usize).saturating_sub(self.in_flight.len())
    }

    /// How many more requests for allowed-fast pieces (BEP 6) to send now: like
    /// [`request_slots`](Self::request_slots) but while the peer chokes us (0 without the
    /// fast extension, or when unchoked: then `request_slots` applies).
    pub fn choked_request_slots(&self) -> usize {
        if self.state != State::Open || !self.am_interested || !self.peer_choking || !self.fast {
            return 0;
        }
        (self.queue_depth() as usize).saturating_sub(self.in_flight.len())
    }

    /// Sends requests (normally [`request_slots`](Self::request_slots) of them from the picker).
    pub fn send_requests(&mut self, now: Instant, requests: &[BlockRequest]) {
        if self.state != State::Open {
            return;
        }
        for r in requests {
            self.push(now, &Message::Request(to_wire(*r)));
            self.in_flight.push(*r);
        }
        if !self.in_flight.is_empty() && self.waiting_since.is_none() {
            self.waiting_since = Some(now);
        }
    }

    /// Cancels a request (endgame: another peer delivered the block).
    pub fn cancel(&mut self, now: Instant, request: BlockRequest) {
        if let Some(i) = self.in_flight.iter().position(|x| *x == request) {
            self.in_flight.remove(i);
            if self.in_flight.is_empty() {
                self.waiting_since = None;
            }
            self.push(now, &Message::Cancel(to_wire(request)));
        }
    }

    /// Requests unanswered for [`request_timeout`](super::ConnectionConfig::request_timeout)
    /// at `now`: the peer is snubbed and they are cancelled and handed back.
    pub(super) fn time_out_requests(&mut self, now: Instant) {
        if self
            .waiting_since
            .is_some_and(|w| now >= w + self.cfg.request_timeout)
        {
            self.snubbed = true;
            self.waiting_since = None;
            let released = std::mem::take(&mut self.in_flight);
            for r in &released {
                self.push(now, &Message::Cancel(to_wire(*r)));
            }
            self.events.push_back(ConnEvent::Snubbed);
            self.events.push_back(ConnEvent::Released(released));
        }
    }

    /// The peer choked us.
    pub(super) fn on_choke(&mut self) {
        self.peer_choking = true;
        if !self.fast && !self.in_flight.is_empty() {
            // Without the fast extension a choke discards every request.
            self.waiting_since = None;
            self.events
                .push_back(ConnEvent::Released(std::mem::take(&mut self.in_flight)));
        }
        self.events.push_back(ConnEvent::Choked);
    }

    /// The peer rejected one of our requests (BEP 6).
    pub(super) fn on_reject(&mut self, r: WireRequest) {
        let req = from_wire(r);
        if let Some(i) = self.in_flight.iter().position(|x| *x == req) {
            self.in_flight.remove(i);
            if self.in_flight.is_empty() {
                self.waiting_since = None;
            }
            self.events.push_back(ConnEvent::Rejected(req));
        }
    }

    /// A block arrived.
    pub(super) fn on_piece(
        &mut self,
        now: Instant,
        index: u32,
        begin: u32,
        block: Bytes,
    ) -> Result<(), CloseReason> {
        self.check_piece(index, "piece")?;
        let len = u32::try_from(block.len()).unwrap_or(u32::MAX);
        let req = BlockRequest {
            piece: index,
            offset: begin,
            len,
        };
        let requested = match self.in_flight.iter().position(|x| *x == req) {
            Some(i) => {
                self.in_flight.remove(i);
                true
            }
            None => false,
        };
        self.down.add(now, u64::from(len));
        self.last_block = Some(now);
        self.snubbed = false;
        if !self.down.has_sample() {
            self.slow_start = self.slow_start.saturating_add(1);
        }
        self.waiting_since = (!self.in_flight.is_empty()).then_some(now);
        self.events.push_back(ConnEvent::Block {
            piece: index,
            offset: begin,
            data: block,
            requested,
        });
        Ok(())
    }
}
