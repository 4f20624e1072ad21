//! The input path: received bytes decoded straight from the caller's buffer (only a message cut
//! by the end of a read is kept), the peer's handshake checked, each message dispatched to the
//! concern that handles it. A block leaves as a [`Bytes`] slice of the buffer it arrived in,
//! never copied.

use std::time::Instant;

use bytes::Bytes;

use torrentkit_wire::{decode_message, Error as WireError, Handshake, Message, Status};

use super::{CloseReason, ConnEvent, Connection, ProtocolViolation, State};
use crate::storage::BLOCK_SIZE;
use crate::Bitfield;

/// The most room reserved ahead for a cut message: a standard block and its `piece` header.
const MAX_RESERVE: usize = BLOCK_SIZE as usize + 13;

impl Connection {
    /// Handles bytes received at `now`. Blocks in them are handed on as slices of `data`
    /// ([`ConnEvent::Block`](super::ConnEvent::Block)), so the buffer lives until they are
    /// written.
    pub fn handle_bytes(&mut self, now: Instant, mut data: Bytes) {
        if self.state == State::Closed || data.is_empty() {
            return;
        }
        self.last_recv = now;
        // Finish a message left partial by an earlier call, copying only the bytes it lacks.
        while !self.inbuf.is_empty() && !data.is_empty() && self.state != State::Closed {
            let needed = match self.needed(&self.inbuf) {
                Ok(n) => n.clamp(1, data.len()),
                Err(e) => return self.close_with(CloseReason::Wire(e)),
            };
            self.inbuf.extend_from_slice(&data.split_to(needed));
            match self.needed(&self.inbuf) {
                // Still partial: wait for more.
                Ok(n) if n > 0 => continue,
                Ok(_) => {}
                Err(e) => return self.close_with(CloseReason::Wire(e)),
            }
            // Whole now: the buffer becomes the block's owner (no copy), and a new one starts.
            let buf = Bytes::from(std::mem::take(&mut self.inbuf));
            let consumed = self.consume(now, &buf);
            if self.state != State::Closed {
                self.inbuf.extend_from_slice(&buf[consumed..]);
            }
        }
        // Then decode straight from the caller's buffer; only a trailing partial message is kept.
        if self.inbuf.is_empty() && self.state != State::Closed {
            let consumed = self.consume(now, &data);
            if self.state != State::Closed && consumed < data.len() {
                let tail = &data[consumed..];
                // Room for the whole message at once (one allocation per cut block), but never
                // more than a block's worth on the word of a length prefix alone.
                let rest = self.needed(tail).unwrap_or(0).min(MAX_RESERVE);
                self.inbuf.reserve_exact(tail.len() + rest);
                self.inbuf.extend_from_slice(tail);
            }
        }
    }

    /// How many more bytes the partial message `partial` needs (at least to learn its length;
    /// 0 when it is whole).
    fn needed(&self, partial: &[u8]) -> Result<usize, WireError> {
        let status = if self.state == State::Handshaking {
            Handshake::decode(partial).map(|s| s.map(drop))
        } else {
            decode_message(partial, &self.cfg.limits).map(|s| s.map(drop))
        };
        match status {
            Ok(Status::Incomplete { needed }) => Ok(needed),
            Ok(_) => Ok(0),
            Err(e) => Err(e),
        }
    }

    /// Decodes and handles every complete message (and the handshake) at the start of `buf`;
    /// returns the bytes consumed.
    fn consume(&mut self, now: Instant, buf: &Bytes) -> usize {
        let mut pos = 0;
        if self.state == State::Handshaking {
            match Handshake::decode(buf) {
                Ok(Status::Complete { value, consumed }) => {
                    pos = consumed;
                    self.on_handshake(now, value);
                }
                Ok(Status::Incomplete { .. }) => return 0,
                Err(e) => {
                    self.close_with(CloseReason::Wire(e));
                    return 0;
                }
            }
        }
        while self.state == State::Open {
            match decode_message(&buf[pos..], &self.cfg.limits) {
                Ok(Status::Complete { value, consumed }) => {
                    pos += consumed;
                    self.on_message(now, value, buf);
                }
                Ok(Status::Incomplete { .. }) => break,
                Err(e) => {
                    self.close_with(CloseReason::Wire(e));
                    break;
                }
            }
        }
        pos
    }

    fn on_handshake(&mut self, now: Instant, hs: Handshake) {
        if hs.info_hash != self.cfg.info_hash {
            return self.close_with(CloseReason::InfoHashMismatch);
        }
        if hs.peer_id.0 == self.cfg.peer_id {
            return self.close_with(CloseReason::SelfConnection);
        }
        self.state = State::Open;
        self.peer_id = Some(hs.peer_id);
        self.fast = hs.reserved.fast() && self.cfg.reserved.fast();
        self.extensions =
            hs.reserved.extension_protocol() && self.cfg.reserved.extension_protocol();
        self.peer_dht = hs.reserved.dht();
        self.peer_v2 = hs.reserved.v2_upgrade();
        self.events.push_back(ConnEvent::Connected {
            peer_id: hs.peer_id,
            fast: self.fast,
            extensions: self.extensions,
        });
        if self.extensions {
            self.send_extension_handshake(now);
        }
    }

    /// Handles one message decoded from `buf`.
    fn on_message(&mut self, now: Instant, msg: Message<'_>, buf: &Bytes) {
        let pieces = self.cfg.piece_count;
        if self.cfg.metadata_only
            && !matches!(msg, Message::Extended { .. } | Message::Unknown { .. })
        {
            // Fetching the metadata: the piece count is not known, so piece messages are not
            // checked or passed on. BEP 52 hash messages name no piece: a magnet's piece layers
            // are fetched on these connections.
            return;
        }
        let result: Result<(), CloseReason> = match msg {
            Message::Choke => {
                self.on_choke();
                Ok(())
            }
            Message::Unchoke => {
                self.peer_choking = false;
                self.events.push_back(ConnEvent::Unchoked);
                Ok(())
            }
            Message::Interested => {
                self.peer_interested = true;
                self.events.push_back(ConnEvent::PeerInterested(true));
                Ok(())
            }
            Message::NotInterested => {
                self.peer_interested = false;
                self.events.push_back(ConnEvent::PeerInterested(false));
                Ok(())
            }
            Message::Have { piece } => self
                .check_piece(piece, "have")
                .map(|()| self.events.push_back(ConnEvent::Have(piece))),
            Message::Bitfield(bytes) => Bitfield::from_bytes(bytes, pieces)
                .map(|b| self.events.push_back(ConnEvent::Bitfield(b)))
                .map_err(CloseReason::Wire),
            Message::HaveAll => {
                self.events.push_back(ConnEvent::HaveAll);
                Ok(())
            }
            Message::HaveNone => {
                self.events.push_back(ConnEvent::HaveNone);
                Ok(())
            }
            Message::SuggestPiece { piece } => self
                .check_piece(piece, "suggest piece")
                .map(|()| self.events.push_back(ConnEvent::Suggest(piece))),
            Message::AllowedFast { piece } => self
                .check_piece(piece, "allowed fast")
                .map(|()| self.events.push_back(ConnEvent::AllowedFast(piece))),
            Message::Request(r) => self.on_request(now, r),
            Message::Cancel(r) => {
                self.on_cancel(now, r);
                Ok(())
            }
            Message::RejectRequest(r) => {
                self.on_reject(r);
                Ok(())
            }
            Message::Piece {
                index,
                begin,
                block,
            } => self.on_piece(now, index, begin, buf.slice_ref(block)),
            // BEP 5: the peer's DHT node; port 0 names nothing.
            Message::Port(port) if port != 0 => {
                self.events.push_back(ConnEvent::DhtPort(port));
                Ok(())
            }
            Message::Extended { id: 0, payload } => self.on_extension_handshake(payload),
            Message::Extended { id, payload } => {
                self.on_extension_message(now, id, payload, buf);
                Ok(())
            }
            // BEP 52 hash request, hashes, hash reject; other ids are ignored.
            Message::Unknown { id, payload } => self.on_unknown(id, payload),
            // Other extension messages (we advertise none) and future message kinds.
            _ => Ok(()),
        };
        if let Err(reason) = result {
            self.close_with(reason);
        }
    }

    /// A piece index the peer sent in a `what` message must name one of the torrent's pieces.
    pub(super) fn check_piece(&self, piece: u32, what: &'static str) -> Result<(), CloseReason> {
        let pieces = self.cfg.piece_count;
        if piece < pieces {
            return Ok(());
        }
        Err(CloseReason::Violation(ProtocolViolation::PieceOutOfRange {
            message: what,
            piece,
            pieces,
        }))
    }
}
