//! Serving the peer's requests: queueing them (rejected when we choke or the queue is full),
//! cancels, choking (which drops the queue) and sending the blocks read for them.

use std::time::Instant;

use torrentkit_wire::{BlockRequest as WireRequest, Message};

use super::{from_wire, to_wire, CloseReason, ConnEvent, Connection, ProtocolViolation, State};
use crate::BlockRequest;

impl Connection {
    /// Chokes or unchokes the peer (sends the message on change). Choking drops the peer's
    /// queued requests, rejecting each when the fast extension is on.
    pub fn set_choking(&mut self, now: Instant, choking: bool) {
        if self.am_choking == choking || self.state != State::Open {
            return;
        }
        self.am_choking = choking;
        if choking {
            self.push(now, &Message::Choke);
            let (keep, dropped) = std::mem::take(&mut self.peer_requests)
                .into_iter()
                .partition(|r| self.allowed_out.contains(&r.piece));
            self.peer_requests = keep;
            for r in dropped {
                if self.fast {
                    self.push(now, &Message::RejectRequest(to_wire(r)));
                }
            }
        } else {
            self.push(now, &Message::Unchoke);
        }
    }

    /// Sends a block the peer asked for ([`ConnEvent::ReadBlock`]); returns `false` (and sends
    /// nothing) if the request was cancelled or choked away meanwhile.
    pub fn send_block(&mut self, now: Instant, request: BlockRequest, data: &[u8]) -> bool {
        let Some(i) = self.peer_requests.iter().position(|x| *x == request) else {
            return false;
        };
        if data.len() != request.len as usize || self.state != State::Open {
            return false;
        }
        self.peer_requests.remove(i);
        self.push(
            now,
            &Message::Piece {
                index: request.piece,
                begin: request.offset,
                block: data,
            },
        );
        self.up.add(now, data.len() as u64);
        true
    }

    /// Refuses a request the peer made ([`ConnEvent::ReadBlock`]): it is dropped and, with the
    /// fast extension, a reject sent.
    pub fn reject(&mut self, now: Instant, request: BlockRequest) {
        if let Some(i) = self.peer_requests.iter().position(|x| *x == request) {
            self.peer_requests.remove(i);
            if self.fast {
                self.push(now, &Message::RejectRequest(to_wire(request)));
            }
        }
    }

    /// Suggests a piece the peer would do well to request (BEP 6; nothing without the fast
    /// extension).
    pub fn suggest(&mut self, now: Instant, piece: u32) {
        if self.fast && self.state == State::Open {
            self.push(now, &Message::SuggestPiece { piece });
        }
    }

    /// Lets the peer request blocks of `piece` even while we choke it (BEP 6 allowed fast;
    /// nothing without the fast extension).
    pub fn send_allowed_fast(&mut self, now: Instant, piece: u32) {
        if self.fast && self.state == State::Open && !self.allowed_out.contains(&piece) {
            self.allowed_out.push(piece);
            self.push(now, &Message::AllowedFast { piece });
        }
    }

    /// The peer requests a block: queued and reported as [`ConnEvent::ReadBlock`] unless we
    /// choke it or its queue is full (then rejected, with the fast extension).
    pub(super) fn on_request(&mut self, now: Instant, r: WireRequest) -> Result<(), CloseReason> {
        self.check_piece(r.index, "request")?;
        if r.length == 0 || r.length > self.cfg.limits.max_block_len {
            return Err(ProtocolViolation::RequestLength { length: r.length }.into());
        }
        let req = from_wire(r);
        let choked = self.am_choking && !self.allowed_out.contains(&req.piece);
        if choked || self.peer_requests.len() >= self.cfg.max_peer_requests as usize {
            if self.fast {
                self.push(now, &Message::RejectRequest(r));
            }
        } else if !self.peer_requests.contains(&req) {
            self.peer_requests.push_back(req);
            self.events.push_back(ConnEvent::ReadBlock(req));
        }
        Ok(())
    }

    /// The peer cancels a request it made.
    pub(super) fn on_cancel(&mut self, now: Instant, r: WireRequest) {
        let req = from_wire(r);
        if let Some(i) = self.peer_requests.iter().position(|x| *x == req) {
            self.peer_requests.remove(i);
            if self.fast {
                self.push(now, &Message::RejectRequest(r));
            }
        }
    }
}
