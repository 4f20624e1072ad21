//! One peer connection as a sans-IO state machine: the handshake and its checks, every BEP 3/6/10
//! message, request pipelining with a queue depth that follows the peer's rate (and its `reqq`),
//! request timeouts and snubbing, keep-alives, and serving the peer's requests.
//!
//! This file holds the state and the timers; the input path, our request pipeline, serving the
//! peer's requests and extension messages each have their own file.

mod close;
mod config;
mod dht_port;
mod event;
mod extension;
mod hashes;
mod input;
#[cfg(test)]
mod pair;
mod pipeline;
mod serving;
#[cfg(test)]
mod tests;

pub use close::{CloseReason, ProtocolViolation};
pub use config::ConnectionConfig;
pub use event::ConnEvent;

use std::collections::VecDeque;
use std::time::Instant;

use torrentkit_wire::{BlockRequest as WireRequest, ExtensionIds, Handshake, Message, PeerId};

use crate::rate::RateMeter;
use crate::{Bitfield, BlockRequest};

/// The `reqq` assumed for peers that do not send one (libtorrent's default).
const DEFAULT_PEER_REQQ: u32 = 250;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Handshaking,
    Open,
    Closed,
}

/// One peer connection, without the socket.
///
/// Feed received bytes to [`handle_bytes`](Self::handle_bytes) and call
/// [`handle_timeout`](Self::handle_timeout) at [`poll_timeout`](Self::poll_timeout); after either,
/// and after any command, send [`poll_transmit`](Self::poll_transmit)'s bytes and act on
/// [`poll_event`](Self::poll_event)'s events until they return `None`. Our handshake is queued
/// at creation.
#[derive(Debug)]
pub struct Connection {
    cfg: ConnectionConfig,
    state: State,
    inbuf: Vec<u8>,
    outbuf: Vec<u8>,
    events: VecDeque<ConnEvent>,
    peer_id: Option<PeerId>,
    fast: bool,
    /// Pieces we told the peer it may request while we choke it (BEP 6 allowed fast).
    allowed_out: Vec<u32>,
    extensions: bool,
    /// The peer set the DHT bit in its handshake (BEP 5): it takes a `port` message.
    peer_dht: bool,
    /// The peer set the BEP 52 v2-upgrade bit: it may speak hash requests.
    peer_v2: bool,
    peer_reqq: u32,
    am_choking: bool,
    am_interested: bool,
    peer_choking: bool,
    peer_interested: bool,
    in_flight: Vec<BlockRequest>,
    waiting_since: Option<Instant>,
    snubbed: bool,
    slow_start: u32,
    peer_requests: VecDeque<BlockRequest>,
    created: Instant,
    last_recv: Instant,
    last_send: Instant,
    last_block: Option<Instant>,
    down: RateMeter,
    up: RateMeter,
    /// The peer's extension ids (none until its extension handshake).
    theirs: ExtensionIds,
    /// Metadata requests from the peer: the start of the current window and the count in it.
    metadata_window: (Instant, u32),
}

impl Connection {
    /// A connection at `now`, our handshake queued for sending.
    pub fn new(cfg: ConnectionConfig, now: Instant) -> Self {
        let mut c = Connection {
            state: State::Handshaking,
            inbuf: Vec::new(),
            outbuf: Vec::new(),
            events: VecDeque::new(),
            peer_id: None,
            fast: false,
            allowed_out: Vec::new(),
            extensions: false,
            peer_dht: false,
            peer_v2: false,
            peer_reqq: DEFAULT_PEER_REQQ,
            am_choking: true,
            am_interested: false,
            peer_choking: true,
            peer_interested: false,
            in_flight: Vec::new(),
            waiting_since: None,
            snubbed: false,
            slow_start: cfg.min_queue.max(1),
            peer_requests: VecDeque::new(),
            created: now,
            last_recv: now,
            last_send: now,
            last_block: None,
            down: RateMeter::new(),
            up: RateMeter::new(),
            theirs: ExtensionIds::NONE,
            metadata_window: (now, 0),
            cfg,
        };
        let mut hs = Handshake::new(c.cfg.info_hash, PeerId(c.cfg.peer_id));
        hs.reserved = c.cfg.reserved.with_dht(c.cfg.dht_port.is_some());
        hs.encode(&mut c.outbuf);
        c
    }

    // ----- getters -----

    /// Whether the connection is still usable.
    pub fn is_open(&self) -> bool {
        self.state != State::Closed
    }

    /// Whether the handshake is done.
    pub fn is_connected(&self) -> bool {
        self.state == State::Open
    }

    /// The peer's id, once its handshake arrived.
    pub fn peer_id(&self) -> Option<PeerId> {
        self.peer_id
    }

    /// Whether both sides speak the fast extension.
    pub fn fast(&self) -> bool {
        self.fast
    }

    /// Whether the peer chokes us.
    pub fn peer_choking(&self) -> bool {
        self.peer_choking
    }

    /// Whether the peer is interested in us.
    pub fn peer_interested(&self) -> bool {
        self.peer_interested
    }

    /// Whether we choke the peer.
    pub fn am_choking(&self) -> bool {
        self.am_choking
    }

    /// Whether we are interested in the peer.
    pub fn am_interested(&self) -> bool {
        self.am_interested
    }

    /// Whether the peer is snubbing us.
    pub fn is_snubbed(&self) -> bool {
        self.snubbed
    }

    /// Our requests awaiting a block.
    pub fn in_flight(&self) -> &[BlockRequest] {
        &self.in_flight
    }

    /// When the connection was created.
    pub fn connected_at(&self) -> Instant {
        self.created
    }

    /// When the peer last sent us a block.
    pub fn last_block_at(&self) -> Option<Instant> {
        self.last_block
    }

    /// Our download rate from this peer, bytes per second.
    pub fn download_rate(&self) -> u64 {
        self.down.rate()
    }

    /// Our upload rate to this peer, bytes per second.
    pub fn upload_rate(&self) -> u64 {
        self.up.rate()
    }

    /// Payload bytes received and sent.
    pub fn transferred(&self) -> (u64, u64) {
        (self.down.total(), self.up.total())
    }

    // ----- outputs -----

    /// Bytes to send, if any.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        (!self.outbuf.is_empty()).then(|| std::mem::take(&mut self.outbuf))
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<ConnEvent> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.state == State::Closed {
            return None;
        }
        let mut t = self.last_recv + self.cfg.idle_timeout;
        let mut consider = |x: Option<Instant>| {
            if let Some(x) = x {
                t = t.min(x);
            }
        };
        if self.state == State::Handshaking {
            consider(Some(self.created + self.cfg.handshake_timeout));
        } else {
            consider(Some(self.last_send + self.cfg.keepalive_interval));
        }
        consider(self.waiting_since.map(|w| w + self.cfg.request_timeout));
        consider(self.down.next_tick());
        consider(self.up.next_tick());
        Some(t)
    }

    // ----- inputs -----

    /// Handles the timers due at `now`: handshake and idle timeouts, keep-alives, request
    /// timeouts, rate windows.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.state == State::Closed {
            return;
        }
        self.down.tick(now);
        self.up.tick(now);
        if self.state == State::Handshaking && now >= self.created + self.cfg.handshake_timeout {
            return self.close_with(CloseReason::Timeout("no handshake"));
        }
        if now >= self.last_recv + self.cfg.idle_timeout {
            return self.close_with(CloseReason::Timeout("the peer sent nothing"));
        }
        self.time_out_requests(now);
        if self.state == State::Open && now >= self.last_send + self.cfg.keepalive_interval {
            self.push(now, &Message::KeepAlive);
        }
    }

    // ----- commands -----

    /// Sends our pieces: have-all or have-none when both speak the fast extension and it fits,
    /// else a bitfield (nothing for an empty one without the fast extension).
    pub fn send_bitfield(&mut self, now: Instant, have: &Bitfield) {
        if self.fast && have.is_full() {
            self.push(now, &Message::HaveAll);
        } else if have.is_clear() {
            if self.fast {
                self.push(now, &Message::HaveNone);
            }
        } else {
            let bytes = have.to_bytes();
            self.push(now, &Message::Bitfield(&bytes));
        }
    }

    /// Announces a newly verified piece.
    pub fn send_have(&mut self, now: Instant, piece: u32) {
        self.push(now, &Message::Have { piece });
    }

    /// Becomes interested or not (sends the message on change).
    pub fn set_interested(&mut self, now: Instant, interested: bool) {
        if self.am_interested != interested && self.state == State::Open {
            self.am_interested = interested;
            self.push(
                now,
                if interested {
                    &Message::Interested
                } else {
                    &Message::NotInterested
                },
            );
        }
    }

    /// Closes the connection.
    pub fn close(&mut self) {
        self.close_with(CloseReason::Local);
    }

    fn close_with(&mut self, reason: CloseReason) {
        if self.state == State::Closed {
            return;
        }
        self.state = State::Closed;
        self.inbuf = Vec::new();
        let released = std::mem::take(&mut self.in_flight);
        if !released.is_empty() {
            self.events.push_back(ConnEvent::Released(released));
        }
        self.events.push_back(ConnEvent::Closed(reason));
    }

    fn push(&mut self, now: Instant, msg: &Message<'_>) {
        // Encoding only fails for payloads over 4 GiB, which nothing here builds.
        if msg.encode(&mut self.outbuf).is_ok() {
            self.last_send = now;
        }
    }
}

fn to_wire(r: BlockRequest) -> WireRequest {
    WireRequest {
        index: r.piece,
        begin: r.offset,
        length: r.len,
    }
}

fn from_wire(r: WireRequest) -> BlockRequest {
    BlockRequest {
        piece: r.index,
        offset: r.begin,
        len: r.length,
    }
}
