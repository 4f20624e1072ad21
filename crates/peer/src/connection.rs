//! One peer connection as a sans-IO state machine: the handshake and its checks, every BEP 3/6/10
//! message, request pipelining with a queue depth that follows the peer's rate (and its `reqq`),
//! request timeouts and snubbing, keep-alives, and serving the peer's requests.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use torrentkit_wire::{
    decode_message, BlockRequest as WireRequest, ExtendedHandshake, Handshake, Limits, Message,
    PeerId, Reserved, Status,
};

use crate::rate::RateMeter;
use crate::storage::BLOCK_SIZE;
use crate::{Bitfield, BlockRequest};

/// The `reqq` assumed for peers that do not send one (libtorrent's default).
const DEFAULT_PEER_REQQ: u32 = 250;

/// Settings for a [`Connection`].
#[derive(Debug, Clone)]
pub struct ConnectionConfig {
    /// The torrent's info-hash; a peer that handshakes with another is dropped.
    pub info_hash: [u8; 20],
    /// Our peer id; a peer with the same id is ourselves, and dropped.
    pub peer_id: [u8; 20],
    /// The torrent's piece count, to check indices.
    pub piece_count: u32,
    /// The reserved bits we send (fast extension and extension protocol on by default).
    pub reserved: Reserved,
    /// Time for the peer's handshake to arrive.
    pub handshake_timeout: Duration,
    /// A peer that sends nothing at all for this long is dropped.
    pub idle_timeout: Duration,
    /// We send a keep-alive after this long without sending anything.
    pub keepalive_interval: Duration,
    /// Requests unanswered for this long (no block at all arriving) mark the peer snubbed:
    /// its requests are cancelled and handed back for other peers.
    pub request_timeout: Duration,
    /// The smallest request queue (and the start of slow start).
    pub min_queue: u32,
    /// The largest request queue, whatever the peer's `reqq`.
    pub max_queue: u32,
    /// The queue holds this much time's worth of blocks at the peer's current rate.
    pub queue_time: Duration,
    /// How many of the peer's requests we queue at most (advertised as our `reqq`).
    pub max_peer_requests: u32,
    /// Message size limits for decoding.
    pub limits: Limits,
    /// Our listen port, advertised in the extension handshake.
    pub listen_port: Option<u16>,
}

impl ConnectionConfig {
    /// Defaults for a torrent.
    pub fn new(info_hash: [u8; 20], peer_id: [u8; 20], piece_count: u32) -> Self {
        ConnectionConfig {
            info_hash,
            peer_id,
            piece_count,
            reserved: Reserved::torrentkit(),
            handshake_timeout: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(180),
            keepalive_interval: Duration::from_secs(90),
            request_timeout: Duration::from_secs(30),
            min_queue: 4,
            max_queue: 500,
            queue_time: Duration::from_secs(3),
            max_peer_requests: 500,
            limits: Limits::default(),
            listen_port: None,
        }
    }
}

/// Why a connection closed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// The peer's handshake names another torrent.
    InfoHashMismatch,
    /// The peer is ourselves (same peer id).
    SelfConnection,
    /// The peer broke the protocol; the text says how.
    Protocol(String),
    /// A timer ran out; the text says which.
    Timeout(&'static str),
    /// We closed it ([`Connection::close`]).
    Local,
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::InfoHashMismatch => f.write_str("peer handshake is for another torrent"),
            CloseReason::SelfConnection => f.write_str("connected to ourselves"),
            CloseReason::Protocol(m) => write!(f, "protocol error: {m}"),
            CloseReason::Timeout(what) => write!(f, "timed out: {what}"),
            CloseReason::Local => f.write_str("closed locally"),
        }
    }
}

/// What a [`Connection`] reports to the torrent.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnEvent {
    /// The handshake completed.
    Connected {
        /// The peer's id.
        peer_id: PeerId,
        /// Both sides support the fast extension (BEP 6).
        fast: bool,
        /// Both sides support the extension protocol (BEP 10).
        extensions: bool,
    },
    /// The peer's extension handshake.
    ExtensionHandshake {
        /// Its client name (`v`).
        client: Option<String>,
        /// Its request queue size (`reqq`).
        reqq: Option<u32>,
        /// Its listen port (`p`).
        listen_port: Option<u16>,
    },
    /// The peer's bitfield.
    Bitfield(Bitfield),
    /// The peer has every piece (BEP 6).
    HaveAll,
    /// The peer has no piece (BEP 6).
    HaveNone,
    /// The peer completed a piece.
    Have(u32),
    /// The peer became interested (`true`) or not.
    PeerInterested(bool),
    /// The peer choked us.
    Choked,
    /// The peer unchoked us: requests may go out ([`Connection::request_slots`]).
    Unchoked,
    /// A block arrived. Hand it to the picker and write it through.
    Block {
        /// Piece index.
        piece: u32,
        /// Offset in the piece.
        offset: u32,
        /// The data.
        data: Vec<u8>,
        /// Whether we had requested it (false: late, after a cancel or timeout).
        requested: bool,
    },
    /// The peer rejected one of our requests (BEP 6): give it back to the picker.
    Rejected(BlockRequest),
    /// These requests will not be answered (the peer choked us without the fast extension, or
    /// they timed out): give them back to the picker.
    Released(Vec<BlockRequest>),
    /// The peer stopped sending blocks; it now gets one request at a time.
    Snubbed,
    /// The peer wants this block: read it and pass it to [`Connection::send_block`].
    ReadBlock(BlockRequest),
    /// The peer lets us request this piece while choked (BEP 6).
    AllowedFast(u32),
    /// The peer suggests this piece (BEP 6).
    Suggest(u32),
    /// The connection is closed; drop the socket.
    Closed(CloseReason),
}

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
    extensions: bool,
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
            extensions: false,
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
            cfg,
        };
        let mut hs = Handshake::new(c.cfg.info_hash, PeerId(c.cfg.peer_id));
        hs.reserved = c.cfg.reserved;
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

    /// The request queue depth we aim for now: enough blocks for
    /// [`ConnectionConfig::queue_time`] at the peer's measured rate (slow start until measured),
    /// at least `min_queue`, at most the peer's `reqq` and `max_queue`; 1 while snubbed.
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
        if self.state == State::Open && now >= self.last_send + self.cfg.keepalive_interval {
            self.push(now, &Message::KeepAlive);
        }
    }

    /// Handles bytes received at `now`.
    pub fn handle_bytes(&mut self, now: Instant, mut data: &[u8]) {
        if self.state == State::Closed || data.is_empty() {
            return;
        }
        self.last_recv = now;
        // Finish a message left partial by an earlier call, copying only the bytes it lacks.
        while !self.inbuf.is_empty() && !data.is_empty() && self.state != State::Closed {
            let needed = match self.needed() {
                Ok(n) => n.clamp(1, data.len()),
                Err(e) => return self.close_with(CloseReason::Protocol(e)),
            };
            self.inbuf.extend_from_slice(&data[..needed]);
            data = &data[needed..];
            let buf = std::mem::take(&mut self.inbuf);
            let consumed = self.consume(now, &buf);
            if self.state != State::Closed {
                self.inbuf = buf;
                self.inbuf.drain(..consumed);
            }
        }
        // Then decode straight from the caller's buffer; only a trailing partial message is kept.
        if self.inbuf.is_empty() && self.state != State::Closed {
            let consumed = self.consume(now, data);
            if self.state != State::Closed {
                self.inbuf.extend_from_slice(&data[consumed..]);
            }
        }
    }

    /// How many more bytes the partial message in `inbuf` needs (at least to learn its length).
    fn needed(&self) -> Result<usize, String> {
        let status = if self.state == State::Handshaking {
            Handshake::decode(&self.inbuf).map(|s| s.map(drop))
        } else {
            decode_message(&self.inbuf, &self.cfg.limits).map(|s| s.map(drop))
        };
        match status {
            Ok(Status::Incomplete { needed }) => Ok(needed),
            Ok(_) => Ok(0),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Decodes and handles every complete message (and the handshake) at the start of `buf`;
    /// returns the bytes consumed.
    fn consume(&mut self, now: Instant, buf: &[u8]) -> usize {
        let mut pos = 0;
        if self.state == State::Handshaking {
            match Handshake::decode(buf) {
                Ok(Status::Complete { value, consumed }) => {
                    pos = consumed;
                    self.on_handshake(now, value);
                }
                Ok(Status::Incomplete { .. }) => return 0,
                Err(e) => {
                    self.close_with(CloseReason::Protocol(e.to_string()));
                    return 0;
                }
            }
        }
        while self.state == State::Open {
            match decode_message(&buf[pos..], &self.cfg.limits) {
                Ok(Status::Complete { value, consumed }) => {
                    pos += consumed;
                    self.on_message(now, value);
                }
                Ok(Status::Incomplete { .. }) => break,
                Err(e) => {
                    self.close_with(CloseReason::Protocol(e.to_string()));
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
        self.events.push_back(ConnEvent::Connected {
            peer_id: hs.peer_id,
            fast: self.fast,
            extensions: self.extensions,
        });
        if self.extensions {
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
    }

    fn on_message(&mut self, now: Instant, msg: Message<'_>) {
        let pieces = self.cfg.piece_count;
        let check = |piece: u32, what: &str| {
            (piece < pieces)
                .then_some(())
                .ok_or_else(|| format!("{what} for piece {piece} of {pieces}"))
        };
        let result: Result<(), String> = (|| {
            match msg {
                Message::Choke => {
                    self.peer_choking = true;
                    if !self.fast && !self.in_flight.is_empty() {
                        // Without the fast extension a choke discards every request.
                        self.waiting_since = None;
                        self.events
                            .push_back(ConnEvent::Released(std::mem::take(&mut self.in_flight)));
                    }
                    self.events.push_back(ConnEvent::Choked);
                }
                Message::Unchoke => {
                    self.peer_choking = false;
                    self.events.push_back(ConnEvent::Unchoked);
                }
                Message::Interested => {
                    self.peer_interested = true;
                    self.events.push_back(ConnEvent::PeerInterested(true));
                }
                Message::NotInterested => {
                    self.peer_interested = false;
                    self.events.push_back(ConnEvent::PeerInterested(false));
                }
                Message::Have { piece } => {
                    check(piece, "have")?;
                    self.events.push_back(ConnEvent::Have(piece));
                }
                Message::Bitfield(bytes) => {
                    let b = Bitfield::from_bytes(bytes, pieces).map_err(|e| e.to_string())?;
                    self.events.push_back(ConnEvent::Bitfield(b));
                }
                Message::HaveAll => self.events.push_back(ConnEvent::HaveAll),
                Message::HaveNone => self.events.push_back(ConnEvent::HaveNone),
                Message::SuggestPiece { piece } => {
                    check(piece, "suggest piece")?;
                    self.events.push_back(ConnEvent::Suggest(piece));
                }
                Message::AllowedFast { piece } => {
                    check(piece, "allowed fast")?;
                    self.events.push_back(ConnEvent::AllowedFast(piece));
                }
                Message::Request(r) => {
                    check(r.index, "request")?;
                    if r.length == 0 || r.length > self.cfg.limits.max_block_len {
                        return Err(format!("request of {} bytes", r.length));
                    }
                    let req = from_wire(r);
                    if self.am_choking
                        || self.peer_requests.len() >= self.cfg.max_peer_requests as usize
                    {
                        if self.fast {
                            self.push(now, &Message::RejectRequest(r));
                        }
                    } else if !self.peer_requests.contains(&req) {
                        self.peer_requests.push_back(req);
                        self.events.push_back(ConnEvent::ReadBlock(req));
                    }
                }
                Message::Cancel(r) => {
                    let req = from_wire(r);
                    if let Some(i) = self.peer_requests.iter().position(|x| *x == req) {
                        self.peer_requests.remove(i);
                        if self.fast {
                            self.push(now, &Message::RejectRequest(r));
                        }
                    }
                }
                Message::RejectRequest(r) => {
                    let req = from_wire(r);
                    if let Some(i) = self.in_flight.iter().position(|x| *x == req) {
                        self.in_flight.remove(i);
                        if self.in_flight.is_empty() {
                            self.waiting_since = None;
                        }
                        self.events.push_back(ConnEvent::Rejected(req));
                    }
                }
                Message::Piece {
                    index,
                    begin,
                    block,
                } => {
                    check(index, "piece")?;
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
                        data: block.to_vec(),
                        requested,
                    });
                }
                Message::Extended { id: 0, payload } => {
                    let hs = ExtendedHandshake::decode(payload).map_err(|e| e.to_string())?;
                    if let Some(q) = hs.request_queue {
                        self.peer_reqq = q.max(1);
                    }
                    self.events.push_back(ConnEvent::ExtensionHandshake {
                        client: hs.client.map(|c| String::from_utf8_lossy(c).into_owned()),
                        reqq: hs.request_queue,
                        listen_port: hs.listen_port,
                    });
                }
                // Other extension messages (we advertise none) and future message kinds.
                _ => {}
            }
            Ok(())
        })();
        if let Err(problem) = result {
            self.close_with(CloseReason::Protocol(problem));
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

    /// Chokes or unchokes the peer (sends the message on change). Choking drops the peer's
    /// queued requests, rejecting each when the fast extension is on.
    pub fn set_choking(&mut self, now: Instant, choking: bool) {
        if self.am_choking == choking || self.state != State::Open {
            return;
        }
        self.am_choking = choking;
        if choking {
            self.push(now, &Message::Choke);
            for r in std::mem::take(&mut self.peer_requests) {
                if self.fast {
                    self.push(now, &Message::RejectRequest(to_wire(r)));
                }
            }
        } else {
            self.push(now, &Message::Unchoke);
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ConnId, Picker, PickerConfig, Received};

    const HASH: [u8; 20] = [9; 20];

    fn cfg(id: u8, pieces: u32) -> ConnectionConfig {
        ConnectionConfig::new(HASH, [id; 20], pieces)
    }

    /// Two connections joined by an in-memory link, on a virtual clock.
    struct Pair {
        a: Connection,
        b: Connection,
        now: Instant,
        ev_a: Vec<ConnEvent>,
        ev_b: Vec<ConnEvent>,
        bytes_ab: usize,
    }

    impl Pair {
        fn new(a: ConnectionConfig, b: ConnectionConfig) -> Self {
            let now = Instant::now();
            let mut p = Pair {
                a: Connection::new(a, now),
                b: Connection::new(b, now),
                now,
                ev_a: Vec::new(),
                ev_b: Vec::new(),
                bytes_ab: 0,
            };
            p.drive();
            p
        }

        fn step(&mut self) -> bool {
            let mut moved = false;
            if let Some(bytes) = self.a.poll_transmit() {
                self.bytes_ab += bytes.len();
                // Deliver in two parts to exercise reassembly.
                let (x, y) = bytes.split_at(bytes.len() / 2);
                self.b.handle_bytes(self.now, x);
                self.b.handle_bytes(self.now, y);
                moved = true;
            }
            if let Some(bytes) = self.b.poll_transmit() {
                self.a.handle_bytes(self.now, &bytes);
                moved = true;
            }
            while let Some(e) = self.a.poll_event() {
                self.ev_a.push(e);
                moved = true;
            }
            while let Some(e) = self.b.poll_event() {
                self.ev_b.push(e);
                moved = true;
            }
            moved
        }

        fn drive(&mut self) {
            for _ in 0..10_000 {
                if !self.step() {
                    return;
                }
            }
            panic!("link never went quiet");
        }

        fn advance(&mut self, by: Duration) {
            self.now += by;
            self.a.handle_timeout(self.now);
            self.b.handle_timeout(self.now);
            self.drive();
        }
    }

    #[test]
    fn handshake_and_extension_handshake() {
        let mut b = cfg(2, 8);
        b.max_peer_requests = 77;
        b.listen_port = Some(6881);
        let p = Pair::new(cfg(1, 8), b);
        assert!(p.a.is_connected() && p.b.is_connected());
        assert!(
            matches!(&p.ev_a[0], ConnEvent::Connected { peer_id, fast: true, extensions: true } if peer_id.0 == [2; 20])
        );
        match &p.ev_a[1] {
            ConnEvent::ExtensionHandshake {
                client,
                reqq,
                listen_port,
            } => {
                assert!(client.as_deref().unwrap().starts_with("torrentkit "));
                assert_eq!((*reqq, *listen_port), (Some(77), Some(6881)));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(p.a.peer_reqq, 77, "a honours b's reqq");
    }

    /// Regression guard for the zero-copy input path: however a stream is cut into reads, the
    /// events are the same.
    #[test]
    fn any_split_of_the_input_gives_the_same_events() {
        let mut stream = Vec::new();
        Handshake::new(HASH, PeerId([2; 20])).encode(&mut stream);
        Message::Bitfield(&[0b1010_0000])
            .encode(&mut stream)
            .unwrap();
        for i in 0..20u32 {
            Message::Have { piece: i % 8 }.encode(&mut stream).unwrap();
            Message::Piece {
                index: i % 8,
                begin: i * 16,
                block: &vec![i as u8; 100 + i as usize * 7],
            }
            .encode(&mut stream)
            .unwrap();
            Message::KeepAlive.encode(&mut stream).unwrap();
        }
        let events = |cuts: &[usize]| {
            let now = Instant::now();
            let mut c = Connection::new(cfg(1, 8), now);
            let mut at = 0;
            for &cut in cuts.iter().chain([stream.len()].iter()) {
                c.handle_bytes(now, &stream[at..cut.max(at)]);
                at = cut.max(at);
            }
            std::iter::from_fn(|| c.poll_event()).collect::<Vec<_>>()
        };
        let whole = events(&[]);
        assert_eq!(
            whole.len(),
            1 + 1 + 40,
            "connected, bitfield, 20 haves and 20 blocks"
        );
        let mut rng = crate::Rng::new(11);
        for _ in 0..200 {
            let mut cuts: Vec<usize> = (0..rng.index(30))
                .map(|_| rng.index(stream.len()))
                .collect();
            cuts.sort_unstable();
            assert_eq!(events(&cuts), whole, "cuts {cuts:?}");
        }
        let every_byte: Vec<usize> = (1..stream.len()).collect();
        assert_eq!(events(&every_byte), whole);
    }

    #[test]
    fn wrong_info_hash_and_self_connections_are_dropped() {
        let mut other = cfg(2, 8);
        other.info_hash = [1; 20];
        let p = Pair::new(cfg(1, 8), other);
        assert!(!p.a.is_open() && !p.b.is_open());
        assert_eq!(
            p.ev_a.last(),
            Some(&ConnEvent::Closed(CloseReason::InfoHashMismatch))
        );
        let p = Pair::new(cfg(1, 8), cfg(1, 8));
        assert_eq!(
            p.ev_a.last(),
            Some(&ConnEvent::Closed(CloseReason::SelfConnection))
        );
    }

    #[test]
    fn garbage_and_bad_indices_close_with_the_reason() {
        let now = Instant::now();
        let mut c = Connection::new(cfg(1, 8), now);
        c.handle_bytes(now, b"GET / HTTP/1.1\r\n\r\n................................................................");
        match c.poll_event() {
            Some(ConnEvent::Closed(CloseReason::Protocol(m))) => assert!(m.contains("wire"), "{m}"),
            other => panic!("{other:?}"),
        }
        let mut p = Pair::new(cfg(1, 8), cfg(2, 8));
        p.b.send_have(p.now, 8);
        p.drive();
        assert_eq!(
            p.ev_a.last(),
            Some(&ConnEvent::Closed(CloseReason::Protocol(
                "have for piece 8 of 8".into()
            )))
        );
        let mut p = Pair::new(cfg(1, 8), cfg(2, 8));
        p.b.push(p.now, &Message::Bitfield(&[0xff, 0xff]));
        p.drive();
        assert!(
            matches!(p.ev_a.last(), Some(ConnEvent::Closed(CloseReason::Protocol(m))) if m.contains("bitfield"))
        );
    }

    /// A whole download over one connection: bitfield, interest, unchoke, pipelined requests
    /// served from the seed's data, every piece verified by content.
    #[test]
    fn leecher_downloads_everything_from_a_seed() {
        let piece_len = 4 * BLOCK_SIZE;
        let total = u64::from(piece_len) * 6 - 1000;
        let pieces = 6;
        let data: Vec<u8> = (0..total).map(|i| (i * 7 % 251) as u8).collect();
        let mut p = Pair::new(cfg(1, pieces), cfg(2, pieces));
        p.b.send_bitfield(p.now, &Bitfield::full(pieces));
        p.drive();
        let mut picker = Picker::with_sizes(total, piece_len, PickerConfig::default(), 3);
        let seed = ConnId(2);
        picker.add_peer(seed);
        let mut got = vec![0u8; total as usize];
        let mut max_in_flight = 0;
        for _round in 0..1000 {
            for e in std::mem::take(&mut p.ev_a) {
                match e {
                    ConnEvent::HaveAll => picker.peer_have_all(seed),
                    ConnEvent::Bitfield(b) => {
                        picker.peer_bitfield(seed, &b);
                    }
                    ConnEvent::Block {
                        piece,
                        offset,
                        data,
                        requested,
                    } => {
                        assert!(requested);
                        if let Received::New { piece_complete, .. } =
                            picker.block_received(seed, piece, offset, data.len() as u32)
                        {
                            let at = (u64::from(piece) * u64::from(piece_len) + u64::from(offset))
                                as usize;
                            got[at..at + data.len()].copy_from_slice(&data);
                            if piece_complete {
                                picker.piece_verified(piece);
                            }
                        }
                    }
                    _ => {}
                }
            }
            let interested = picker.is_interesting(seed);
            p.a.set_interested(p.now, interested);
            for e in std::mem::take(&mut p.ev_b) {
                match e {
                    ConnEvent::PeerInterested(true) => p.b.set_choking(p.now, false),
                    ConnEvent::ReadBlock(r) => {
                        let at = (u64::from(r.piece) * u64::from(piece_len) + u64::from(r.offset))
                            as usize;
                        assert!(p.b.send_block(p.now, r, &data[at..at + r.len as usize]));
                    }
                    _ => {}
                }
            }
            let slots = p.a.request_slots();
            let reqs = picker.pick(seed, slots);
            p.a.send_requests(p.now, &reqs);
            max_in_flight = max_in_flight.max(p.a.in_flight().len());
            p.now += Duration::from_millis(100);
            p.a.handle_timeout(p.now);
            p.b.handle_timeout(p.now);
            p.drive();
            if picker.is_complete() {
                break;
            }
        }
        assert!(picker.is_complete());
        assert_eq!(got, data);
        assert!(
            max_in_flight > 4,
            "pipelined: {max_in_flight} in flight at most"
        );
        assert_eq!(p.b.transferred().1, total);
        assert_eq!(p.a.transferred().0, total);
    }

    #[test]
    fn queue_depth_follows_the_rate_and_honours_reqq() {
        let mut b = cfg(2, 1000);
        b.max_peer_requests = 40;
        let mut p = Pair::new(cfg(1, 1000), b);
        let c = &mut p.a;
        assert_eq!(c.queue_depth(), 4, "min queue before anything arrives");
        // Slow start: every block adds one.
        let now = p.now;
        let block = vec![0u8; BLOCK_SIZE as usize];
        for i in 0..10 {
            let mut msg = Vec::new();
            Message::Piece {
                index: i,
                begin: 0,
                block: &block,
            }
            .encode(&mut msg)
            .unwrap();
            c.handle_bytes(now, &msg);
        }
        assert_eq!(c.queue_depth(), 14);
        // 100 blocks in the next second: ~1.6 MB/s, 3 s worth is ~300 blocks, capped at reqq 40.
        for i in 0..100 {
            let mut msg = Vec::new();
            Message::Piece {
                index: i,
                begin: 0,
                block: &block,
            }
            .encode(&mut msg)
            .unwrap();
            c.handle_bytes(now + Duration::from_millis(10 * i as u64), &msg);
        }
        c.handle_timeout(now + Duration::from_secs(1));
        assert!(c.download_rate() > 1_500_000, "{}", c.download_rate());
        assert_eq!(c.queue_depth(), 40, "capped by the peer's reqq");
        // A slow peer: 10 KB/s gives the minimum.
        let mut slow = Connection::new(cfg(1, 1000), now);
        slow.peer_reqq = 250;
        slow.state = State::Open;
        slow.handle_bytes(now, &{
            let mut msg = Vec::new();
            Message::Piece {
                index: 0,
                begin: 0,
                block: &[0u8; 10_000],
            }
            .encode(&mut msg)
            .unwrap();
            msg
        });
        slow.handle_timeout(now + Duration::from_secs(1));
        assert_eq!(slow.queue_depth(), 4);
    }

    #[test]
    fn unanswered_requests_time_out_and_the_peer_is_snubbed() {
        let mut p = Pair::new(cfg(1, 8), cfg(2, 8));
        p.b.send_bitfield(p.now, &Bitfield::full(8));
        p.drive();
        p.a.set_interested(p.now, true);
        p.b.set_choking(p.now, false);
        p.drive();
        let reqs: Vec<BlockRequest> = (0..4)
            .map(|i| BlockRequest {
                piece: i,
                offset: 0,
                len: BLOCK_SIZE,
            })
            .collect();
        assert_eq!(p.a.request_slots(), 4);
        p.a.send_requests(p.now, &reqs);
        p.drive();
        assert_eq!(
            p.ev_b
                .iter()
                .filter(|e| matches!(e, ConnEvent::ReadBlock(_)))
                .count(),
            4
        );
        p.ev_a.clear();
        // b never answers.
        p.advance(Duration::from_secs(29));
        assert!(!p.a.is_snubbed());
        assert_eq!(p.a.poll_timeout(), Some(p.now + Duration::from_secs(1)));
        p.advance(Duration::from_secs(1));
        assert!(p.a.is_snubbed());
        assert_eq!(
            p.ev_a,
            vec![ConnEvent::Snubbed, ConnEvent::Released(reqs.clone())]
        );
        assert!(p.a.in_flight().is_empty());
        assert_eq!(
            p.a.request_slots(),
            1,
            "one request at a time while snubbed"
        );
        // The cancels reached b (fast extension: b answers each with a reject, ignored by a).
        assert!(p.b.peer_requests.is_empty());
        // A block ends the snub.
        p.a.send_requests(p.now, &reqs[..1]);
        p.drive();
        assert!(p.b.send_block(p.now, reqs[0], &[1u8; BLOCK_SIZE as usize]));
        p.drive();
        assert!(!p.a.is_snubbed());
    }

    #[test]
    fn choke_releases_requests_without_fast_and_rejects_with_it() {
        for fast in [false, true] {
            let mut a = cfg(1, 8);
            a.reserved = a.reserved.with_fast(fast);
            let mut p = Pair::new(a, cfg(2, 8));
            assert_eq!(p.a.fast(), fast);
            p.a.set_interested(p.now, true);
            p.b.set_choking(p.now, false);
            p.drive();
            let reqs: Vec<BlockRequest> = (0..2)
                .map(|i| BlockRequest {
                    piece: i,
                    offset: 0,
                    len: BLOCK_SIZE,
                })
                .collect();
            p.a.send_requests(p.now, &reqs);
            p.drive();
            p.ev_a.clear();
            p.b.set_choking(p.now, true);
            p.drive();
            if fast {
                assert_eq!(
                    p.ev_a,
                    vec![
                        ConnEvent::Choked,
                        ConnEvent::Rejected(reqs[0]),
                        ConnEvent::Rejected(reqs[1])
                    ]
                );
            } else {
                assert_eq!(
                    p.ev_a,
                    vec![ConnEvent::Released(reqs.clone()), ConnEvent::Choked]
                );
            }
            assert!(p.a.in_flight().is_empty());
            assert_eq!(p.a.request_slots(), 0, "choked");
            // A request while choked is rejected (fast) or ignored.
            p.ev_b.clear();
            p.a.send_requests(p.now, &reqs[..1]);
            p.drive();
            assert!(p.ev_b.is_empty(), "{:?}", p.ev_b);
            assert_eq!(p.a.in_flight().len(), usize::from(!fast));
        }
    }

    #[test]
    fn cancelled_requests_are_not_served() {
        let mut p = Pair::new(cfg(1, 8), cfg(2, 8));
        p.a.set_interested(p.now, true);
        p.b.set_choking(p.now, false);
        p.drive();
        let r = BlockRequest {
            piece: 3,
            offset: 0,
            len: 100,
        };
        p.a.send_requests(p.now, &[r]);
        p.drive();
        p.a.cancel(p.now, r);
        p.drive();
        assert!(
            !p.b.send_block(p.now, r, &[0; 100]),
            "cancelled before it was read"
        );
        assert!(p.ev_a.contains(&ConnEvent::Rejected(r)) || p.a.in_flight().is_empty());
    }

    #[test]
    fn keepalives_and_idle_timeout() {
        let mut p = Pair::new(cfg(1, 8), cfg(2, 8));
        let before = p.bytes_ab;
        p.advance(Duration::from_secs(89));
        assert_eq!(p.bytes_ab, before);
        p.advance(Duration::from_secs(1));
        assert_eq!(p.bytes_ab, before + 4, "a keep-alive is 4 zero bytes");
        assert!(
            p.a.is_open() && p.b.is_open(),
            "keep-alives keep both ends open"
        );
        // Ten minutes of silence, with timers serviced every 10 s as a driver would.
        for _ in 0..60 {
            p.advance(Duration::from_secs(10));
        }
        assert!(p.a.is_open() && p.b.is_open());
        assert_eq!(p.bytes_ab, before + 4 * 7, "one keep-alive per 90 s");
        // A peer that falls silent is dropped after 180 s.
        let now = Instant::now();
        let mut lone = Connection::new(cfg(1, 8), now);
        lone.state = State::Open;
        lone.handle_timeout(now + Duration::from_secs(179));
        assert!(lone.is_open());
        lone.handle_timeout(now + Duration::from_secs(180));
        assert_eq!(
            lone.poll_event(),
            Some(ConnEvent::Closed(CloseReason::Timeout(
                "the peer sent nothing"
            )))
        );
        let mut shy = Connection::new(cfg(1, 8), now);
        assert_eq!(shy.poll_timeout(), Some(now + Duration::from_secs(20)));
        shy.handle_timeout(now + Duration::from_secs(20));
        assert_eq!(
            shy.poll_event(),
            Some(ConnEvent::Closed(CloseReason::Timeout("no handshake")))
        );
    }
}
