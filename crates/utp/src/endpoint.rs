//! The [`Endpoint`]: every uTP connection on one UDP socket, demultiplexed by address and
//! connection id; datagrams in with the time, datagrams, timeouts and events out.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::conn::{Conn, State};
use crate::error::Error;
use crate::event::{CloseReason, ConnectionHandle, Event, Transmit};
use crate::packet::{Header, Packet, PacketType};
use crate::seq::Seq;
use crate::stats::Stats;

/// A uTP endpoint: the connections of one UDP socket, with no socket and no clock.
///
/// The driver calls, in this order, whenever something happens:
/// 1. [`handle_datagram`](Endpoint::handle_datagram) for each datagram received (a whole batch
///    of them, so that their acks coalesce), or [`handle_timeout`](Endpoint::handle_timeout)
///    when [`poll_timeout`](Endpoint::poll_timeout)'s instant has come;
/// 2. [`poll_transmit`](Endpoint::poll_transmit) until it returns `None`, sending each
///    datagram;
/// 3. [`poll_event`](Endpoint::poll_event) until it returns `None`;
/// 4. then it sleeps until the next datagram or [`poll_timeout`](Endpoint::poll_timeout).
///
/// The application's calls ([`connect`](Endpoint::connect), [`write`](Endpoint::write),
/// [`read`](Endpoint::read), [`shutdown`](Endpoint::shutdown), [`close`](Endpoint::close))
/// may come at any time; step 2 follows them.
#[derive(Debug)]
pub struct Endpoint {
    config: Config,
    epoch: Instant,
    rng: fastrand::Rng,
    conns: HashMap<u64, Conn>,
    /// (remote, the connection id its packets carry) -> handle.
    by_id: HashMap<(SocketAddr, u16), u64>,
    next_handle: u64,
    /// Connections that may have something to send, oldest first (a handle at most once).
    dirty: VecDeque<u64>,
    events: VecDeque<Event>,
    resets: VecDeque<(SocketAddr, Header)>,
    stats: Stats,
}

impl Endpoint {
    /// An endpoint with no connections. `now` anchors the microsecond clock of the packets'
    /// timestamps.
    pub fn new(config: Config, now: Instant) -> Endpoint {
        Endpoint {
            rng: fastrand::Rng::with_seed(config.seed),
            config,
            epoch: now,
            conns: HashMap::new(),
            by_id: HashMap::new(),
            next_handle: 0,
            dirty: VecDeque::new(),
            events: VecDeque::new(),
            resets: VecDeque::new(),
            stats: Stats::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The counters, and the connections held now.
    pub fn stats(&self) -> Stats {
        let mut s = self.stats.clone();
        s.connections = self.conns.len();
        s.half_open = self.half_open();
        s
    }

    /// Incoming connections answered and not yet heard from again.
    fn half_open(&self) -> usize {
        self.conns.values().filter(|c| c.is_half_open()).count()
    }

    fn micros(&self, now: Instant) -> u32 {
        now.saturating_duration_since(self.epoch).as_micros() as u32
    }

    fn mark_dirty(&mut self, h: u64) {
        if let Some(c) = self.conns.get_mut(&h) {
            if !c.queued {
                c.queued = true;
                self.dirty.push_back(h);
            }
        }
    }

    /// Opens a connection to `remote`: its SYN goes out at the next
    /// [`poll_transmit`](Endpoint::poll_transmit), [`Event::Connected`] follows its answer.
    pub fn connect(&mut self, remote: SocketAddr, now: Instant) -> Result<ConnectionHandle, Error> {
        if self.conns.len() >= self.config.max_connections {
            return Err(Error::TooManyConnections {
                limit: self.config.max_connections,
            });
        }
        // A receive id free for this remote (and the send id after it, which the peer uses
        // as its key for the SYN).
        let recv_id = loop {
            let id = self.rng.u16(..);
            if !self.by_id.contains_key(&(remote, id)) {
                break id;
            }
        };
        let seq = Seq(self.rng.u16(..));
        let conn = Conn::outgoing(remote, recv_id, seq, &self.config, now);
        let h = self.next_handle;
        self.next_handle += 1;
        self.by_id.insert((remote, recv_id), h);
        self.conns.insert(h, conn);
        self.mark_dirty(h);
        Ok(ConnectionHandle(h))
    }

    /// Handles one datagram from `from` received at `now`. Anything malformed or hostile is
    /// dropped and counted ([`Stats`]); nothing here panics or allocates more than the
    /// [`Config`] bounds allow.
    pub fn handle_datagram(&mut self, from: SocketAddr, bytes: &[u8], now: Instant) {
        self.stats.datagrams_received += 1;
        let packet = match Packet::decode(bytes) {
            Ok(p) => p,
            Err(_) => {
                self.stats.malformed += 1;
                return;
            }
        };
        let now_us = self.micros(now);
        let id = packet.header.connection_id;
        if packet.header.packet_type == PacketType::Syn {
            // The initiator sends later packets with id + 1: our receive id.
            if let Some(&h) = self.by_id.get(&(from, id.wrapping_add(1))) {
                if let Some(c) = self.conns.get_mut(&h) {
                    if c.recv_id == id.wrapping_add(1) && !matches!(c.state, State::SynSent) {
                        c.handle_packet(&packet, now, now_us, &mut self.stats);
                        self.after(h);
                        return;
                    }
                }
                // A SYN colliding with a connection of ours to the same host: refuse it.
                self.stats.syn_dropped += 1;
                return;
            }
            if !self.config.accept_incoming
                || self.conns.len() >= self.config.max_connections
                || self.half_open() >= self.config.max_half_open
            {
                self.stats.syn_dropped += 1;
                return;
            }
            let seq = Seq(self.rng.u16(..));
            let conn = Conn::incoming(from, &packet, seq, &self.config, now, now_us);
            let h = self.next_handle;
            self.next_handle += 1;
            self.by_id.insert((from, conn.recv_id), h);
            self.conns.insert(h, conn);
            self.events.push_back(Event::Incoming(ConnectionHandle(h)));
            self.mark_dirty(h);
            return;
        }
        let Some(&h) = self.by_id.get(&(from, id)) else {
            self.stats.unknown_connection += 1;
            if packet.header.packet_type != PacketType::Reset {
                self.queue_reset(from, &packet.header);
            }
            return;
        };
        let conn = self
            .conns
            .get_mut(&h)
            .expect("by_id names held connections");
        conn.handle_packet(&packet, now, now_us, &mut self.stats);
        self.after(h);
    }

    fn queue_reset(&mut self, to: SocketAddr, got: &Header) {
        if self.resets.len() >= self.config.max_pending_resets {
            self.stats.resets_dropped += 1;
            return;
        }
        let header = Header {
            packet_type: PacketType::Reset,
            // Addressed as the peer would address us, so it reaches the connection it thinks
            // it has.
            connection_id: got.connection_id,
            timestamp_us: 0,
            timestamp_diff_us: 0,
            wnd_size: 0,
            seq_nr: Seq(0),
            ack_nr: got.seq_nr,
        };
        self.resets.push_back((to, header));
    }

    /// Collects a connection's pending events, and queues it for output.
    fn after(&mut self, h: u64) {
        let Some(c) = self.conns.get_mut(&h) else {
            return;
        };
        let p = std::mem::take(&mut c.pending);
        let handle = ConnectionHandle(h);
        if p.connected {
            self.events.push_back(Event::Connected(handle));
        }
        if p.readable {
            self.events.push_back(Event::Readable(handle));
        }
        if p.writable {
            self.events.push_back(Event::Writable(handle));
        }
        if p.closed {
            let reason = c.close_reason().unwrap_or(CloseReason::Finished);
            self.events.push_back(Event::Closed(handle, reason));
        }
        self.mark_dirty(h);
    }

    /// Writes the next datagram to send, appended to `out`, and says where it goes. Call
    /// until `None` after every input.
    pub fn poll_transmit(&mut self, now: Instant, out: &mut Vec<u8>) -> Option<Transmit> {
        if let Some((to, header)) = self.resets.pop_front() {
            let start = out.len();
            Packet {
                header,
                sack: None,
                max_packet: None,
                payload: &[],
            }
            .encode(out);
            self.stats.resets_sent += 1;
            self.stats.datagrams_sent += 1;
            return Some(Transmit {
                destination: to,
                len: out.len() - start,
            });
        }
        let now_us = self.micros(now);
        while let Some(&h) = self.dirty.front() {
            let Some(c) = self.conns.get_mut(&h) else {
                self.dirty.pop_front();
                continue;
            };
            if let Some(len) = c.poll_transmit(now, now_us, out, &mut self.stats) {
                let destination = c.remote;
                return Some(Transmit { destination, len });
            }
            c.queued = false;
            self.dirty.pop_front();
            self.collect(h, now);
        }
        None
    }

    /// Moves events out of a connection and removes it once it is finished and released.
    fn collect(&mut self, h: u64, now: Instant) {
        let Some(c) = self.conns.get_mut(&h) else {
            return;
        };
        let p = c.pending;
        if p.connected || p.readable || p.writable || p.closed {
            self.after(h);
            // `after` queued it again; it has nothing to send, that is harmless.
        }
        let Some(c) = self.conns.get(&h) else { return };
        if c.removable(now) {
            let key = (c.remote, c.recv_id);
            self.by_id.remove(&key);
            self.conns.remove(&h);
            self.dirty.retain(|&d| d != h);
        }
    }

    /// The next instant [`handle_timeout`](Endpoint::handle_timeout) has work, if any.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.conns.values().filter_map(Conn::poll_timeout).min()
    }

    /// Runs the timers that are due at `now`: retransmissions, keep-alives, idle and
    /// half-open expiry.
    pub fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<u64> = self
            .conns
            .iter()
            .filter(|(_, c)| c.poll_timeout().is_some_and(|t| t <= now))
            .map(|(&h, _)| h)
            .collect();
        for h in due {
            if let Some(c) = self.conns.get_mut(&h) {
                c.handle_timeout(now, &mut self.stats);
            }
            self.after(h);
        }
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    fn conn(&mut self, h: ConnectionHandle) -> Result<&mut Conn, Error> {
        self.conns.get_mut(&h.0).ok_or(Error::UnknownConnection)
    }

    /// Queues bytes to send; returns how many the send buffer took (0 when it is full, or
    /// the stream is shut or closed: [`Event::Writable`] says when to try again).
    pub fn write(&mut self, h: ConnectionHandle, data: &[u8]) -> Result<usize, Error> {
        let n = self.conn(h)?.write(data);
        if n > 0 {
            self.mark_dirty(h.0);
        }
        Ok(n)
    }

    /// Bytes [`write`](Endpoint::write) takes now.
    pub fn write_capacity(&self, h: ConnectionHandle) -> Result<usize, Error> {
        self.conns
            .get(&h.0)
            .map(Conn::write_capacity)
            .ok_or(Error::UnknownConnection)
    }

    /// Reads received bytes in order: `Some(n)` with `n > 0`, `Some(0)` at the end of the
    /// stream (the peer's FIN, or the connection closed), `None` when nothing has arrived
    /// yet ([`Event::Readable`] says when to try again).
    pub fn read(&mut self, h: ConnectionHandle, buf: &mut [u8]) -> Result<Option<usize>, Error> {
        let r = self.conn(h)?.read(buf);
        self.mark_dirty(h.0);
        Ok(r)
    }

    /// Bytes [`read`](Endpoint::read) returns now without waiting.
    pub fn readable_len(&self, h: ConnectionHandle) -> Result<usize, Error> {
        self.conns
            .get(&h.0)
            .map(Conn::readable_len)
            .ok_or(Error::UnknownConnection)
    }

    /// Ends our direction of the stream: a FIN follows what was written. Reading goes on.
    pub fn shutdown(&mut self, h: ConnectionHandle, now: Instant) -> Result<(), Error> {
        self.conn(h)?.shutdown(now);
        self.after(h.0);
        Ok(())
    }

    /// The application is done with the connection: shut our side (after what was written
    /// is delivered), drop what arrives, and forget the connection once the FINs are
    /// through, or [`Config::linger`] after ours.
    pub fn close(&mut self, h: ConnectionHandle, now: Instant) -> Result<(), Error> {
        self.conn(h)?.release(now);
        self.after(h.0);
        Ok(())
    }

    /// Aborts the connection with a RESET; it is forgotten once that is sent.
    pub fn reset(&mut self, h: ConnectionHandle) -> Result<(), Error> {
        let c = self.conn(h)?;
        c.reset();
        c.released = true;
        self.after(h.0);
        Ok(())
    }

    /// The connection's peer.
    pub fn remote(&self, h: ConnectionHandle) -> Result<SocketAddr, Error> {
        self.conns
            .get(&h.0)
            .map(|c| c.remote)
            .ok_or(Error::UnknownConnection)
    }

    /// Why the connection ended, once it has.
    pub fn close_reason(&self, h: ConnectionHandle) -> Result<Option<CloseReason>, Error> {
        self.conns
            .get(&h.0)
            .map(Conn::close_reason)
            .ok_or(Error::UnknownConnection)
    }

    /// A view of one connection's transport state, for tests and diagnostics.
    pub fn connection_info(&self, h: ConnectionHandle) -> Result<ConnectionInfo, Error> {
        let c = self.conns.get(&h.0).ok_or(Error::UnknownConnection)?;
        Ok(ConnectionInfo {
            packet_size: c.packet_size(),
            window: c.window(),
            rtt: c.rtt(),
            queueing_delay: Duration::from_micros(c.queueing_delay_us() as u64),
        })
    }
}

/// One connection's transport state ([`Endpoint::connection_info`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionInfo {
    /// The datagram size it sends, header included.
    pub packet_size: usize,
    /// LEDBAT's congestion window, in bytes.
    pub window: usize,
    /// The smoothed round-trip time.
    pub rtt: Duration,
    /// LEDBAT's estimate of the queueing delay on the path (the current one-way delay over
    /// the two-minute minimum).
    pub queueing_delay: Duration,
}
