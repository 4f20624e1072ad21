//! One uTP connection as a state machine: the handshake, the send side (buffer, packets in
//! flight, retransmission, LEDBAT window) and the receive side (in-order buffer, out-of-order
//! packets, selective acks). Fed packets and the time by the [`Endpoint`](crate::Endpoint).

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

use crate::config::Config;
use crate::event::CloseReason;
use crate::ledbat::{Ledbat, Rtt};
use crate::packet::{sack_bit, Header, Packet, PacketType, HEADER_LEN, MAX_SACK_LEN};
use crate::seq::Seq;
use crate::stats::Stats;

/// Out-of-order packets are held at most this far past the last in-order one: as far as a
/// selective ack can describe.
const MAX_REORDER: u16 = (MAX_SACK_LEN * 8) as u16 + 1;
/// Unacknowledged packets with at least this many acknowledged after them are taken as lost
/// (BEP 29 and TCP's three duplicate acks).
const LOSS_THRESHOLD: usize = 3;
/// A half-open incoming connection is dropped after this much silence.
const HALF_OPEN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// Our SYN is out; no answer yet.
    SynSent,
    /// We answered a SYN; the initiator has sent nothing since (half-open).
    SynRecv,
    Connected,
    Closed(CloseReason),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Syn,
    Data,
    Fin,
}

/// A packet sent and not yet acknowledged cumulatively.
#[derive(Debug, Clone)]
struct Sent {
    kind: Kind,
    /// Stream offset of its payload (data stays in the send buffer until acked).
    offset: u64,
    len: u32,
    sent_at: Instant,
    transmissions: u32,
    /// Acknowledged by a selective ack.
    sacked: bool,
    /// Taken as lost: waiting to be sent again.
    lost: bool,
}

/// What the connection has to tell the application, collected by the endpoint after each
/// call.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Pending {
    pub(crate) connected: bool,
    pub(crate) readable: bool,
    pub(crate) writable: bool,
    pub(crate) closed: bool,
}

/// Copies `len` bytes starting at `start` of a ring buffer to `out`.
fn copy_out(buf: &VecDeque<u8>, start: usize, len: usize, out: &mut Vec<u8>) {
    let (a, b) = buf.as_slices();
    if start < a.len() {
        let first = (a.len() - start).min(len);
        out.extend_from_slice(&a[start..start + first]);
        out.extend_from_slice(&b[..len - first]);
    } else {
        let s = start - a.len();
        out.extend_from_slice(&b[s..s + len]);
    }
}

#[derive(Debug)]
pub(crate) struct Conn {
    pub(crate) remote: SocketAddr,
    pub(crate) recv_id: u16,
    send_id: u16,
    pub(crate) state: State,
    pub(crate) pending: Pending,
    /// The application closed its handle: drop what arrives, remove once done.
    pub(crate) released: bool,
    /// In the endpoint's queue of connections that may have output.
    pub(crate) queued: bool,

    // Sizes.
    packet_size: usize,
    max_packet_size: usize,
    recv_window: usize,
    send_buffer: usize,
    max_in_flight: usize,
    syn_resends: u32,
    max_resends: u32,

    // Send side.
    seq_nr: Seq,
    send_buf: VecDeque<u8>,
    /// Stream offset of `send_buf[0]`.
    send_base: u64,
    /// Stream offset of the first byte never sent.
    next_offset: u64,
    /// Packets from the oldest unacknowledged on, consecutive sequence numbers.
    in_flight: VecDeque<Sent>,
    first_in_flight: Seq,
    bytes_in_flight: usize,
    lost_count: usize,
    peer_wnd: usize,
    fin_requested: bool,
    fin_sent: bool,
    fin_acked: bool,
    ledbat: Ledbat,
    rtt: Rtt,
    /// The window held back new data since the last ack (LEDBAT grows only then).
    window_limited: bool,
    /// Until the cumulative ack passes this, further losses do not halve the window again.
    recovery_until: Option<Seq>,
    dup_acks: u32,
    rto_deadline: Option<Instant>,
    /// The peer's window is closed and nothing is in flight: one packet may probe it.
    probe_allowed: bool,
    send_reset: bool,
    writable_wanted: bool,
    /// The peer's SYN carried our packet-size extension, so our answer carries it too.
    peer_has_ext: bool,

    // Receive side.
    ack_nr: Seq,
    recv_buf: VecDeque<u8>,
    out_of_order: HashMap<u16, Vec<u8>>,
    ooo_bytes: usize,
    fin_seq: Option<Seq>,
    eof: bool,
    need_ack: bool,
    last_adv_wnd: usize,
    /// Our clock minus the peer's timestamp of the last packet received (µs): echoed in
    /// every header's `timestamp_difference`.
    reply_micro: u32,

    // Timers.
    last_recv: Instant,
    last_sent: Instant,
    linger_deadline: Option<Instant>,
    keepalive: std::time::Duration,
    idle_timeout: std::time::Duration,
    linger: std::time::Duration,
    /// The latest time handed in, for the instant a close happens.
    clock: Instant,
    closed_at: Option<Instant>,
    closed_half_open: bool,
}

impl Conn {
    fn new(
        remote: SocketAddr,
        recv_id: u16,
        send_id: u16,
        seq_nr: Seq,
        state: State,
        config: &Config,
        now: Instant,
    ) -> Conn {
        let packet_size = config.packet_size.clamp(HEADER_LEN + 64, 65_507);
        Conn {
            remote,
            recv_id,
            send_id,
            state,
            pending: Pending::default(),
            released: false,
            queued: false,
            packet_size,
            max_packet_size: config.max_packet_size.clamp(packet_size, 65_507),
            recv_window: config.recv_window as usize,
            send_buffer: config.send_buffer.max(1),
            max_in_flight: config
                .max_packets_in_flight
                .clamp(2, MAX_REORDER as usize - 1),
            syn_resends: config.syn_resends,
            max_resends: config.max_resends,
            seq_nr,
            send_buf: VecDeque::new(),
            send_base: 0,
            next_offset: 0,
            in_flight: VecDeque::new(),
            first_in_flight: seq_nr,
            bytes_in_flight: 0,
            lost_count: 0,
            peer_wnd: packet_size,
            fin_requested: false,
            fin_sent: false,
            fin_acked: false,
            ledbat: Ledbat::new(
                config.target_delay,
                config.gain,
                packet_size,
                config.max_window,
            ),
            rtt: Rtt::new(config.min_timeout),
            window_limited: false,
            recovery_until: None,
            dup_acks: 0,
            rto_deadline: None,
            probe_allowed: false,
            send_reset: false,
            writable_wanted: false,
            peer_has_ext: false,
            ack_nr: Seq(0),
            recv_buf: VecDeque::new(),
            out_of_order: HashMap::new(),
            ooo_bytes: 0,
            fin_seq: None,
            eof: false,
            need_ack: false,
            last_adv_wnd: config.recv_window as usize,
            reply_micro: 0,
            last_recv: now,
            last_sent: now,
            linger_deadline: None,
            keepalive: config.keepalive,
            idle_timeout: config.idle_timeout,
            linger: config.linger,
            clock: now,
            closed_at: None,
            closed_half_open: false,
        }
    }

    /// A connection we open: the SYN goes out with `recv_id`, later packets with `recv_id + 1`.
    pub(crate) fn outgoing(
        remote: SocketAddr,
        recv_id: u16,
        seq_nr: Seq,
        config: &Config,
        now: Instant,
    ) -> Conn {
        let mut c = Conn::new(
            remote,
            recv_id,
            recv_id.wrapping_add(1),
            seq_nr,
            State::SynSent,
            config,
            now,
        );
        c.in_flight.push_back(Sent {
            kind: Kind::Syn,
            offset: 0,
            len: 0,
            sent_at: now,
            transmissions: 0,
            sacked: false,
            lost: true,
        });
        c.lost_count = 1;
        c.seq_nr = seq_nr.plus(1);
        c
    }

    /// A connection a peer opened with `syn`: we answer with a STATE.
    pub(crate) fn incoming(
        remote: SocketAddr,
        syn: &Packet<'_>,
        seq_nr: Seq,
        config: &Config,
        now: Instant,
        now_us: u32,
    ) -> Conn {
        let id = syn.header.connection_id;
        let mut c = Conn::new(
            remote,
            id.wrapping_add(1),
            id,
            seq_nr,
            State::SynRecv,
            config,
            now,
        );
        c.first_in_flight = seq_nr;
        c.ack_nr = syn.header.seq_nr;
        c.peer_wnd = syn.header.wnd_size as usize;
        c.reply_micro = now_us.wrapping_sub(syn.header.timestamp_us);
        c.adopt_packet_size(syn.max_packet);
        c.peer_has_ext = syn.max_packet.is_some();
        c.need_ack = true;
        c
    }

    /// The peer said how large a datagram it takes: use up to that, if the path allows.
    fn adopt_packet_size(&mut self, theirs: Option<u16>) {
        let Some(theirs) = theirs else { return };
        if !self.remote.ip().is_loopback() {
            // Off loopback we cannot know the path's MTU; keep the configured size.
            return;
        }
        let size = (theirs as usize)
            .min(self.max_packet_size)
            .max(self.packet_size);
        if size > self.packet_size {
            self.packet_size = size;
            self.ledbat.set_min(size);
        }
    }

    pub(crate) fn is_half_open(&self) -> bool {
        self.state == State::SynRecv
    }

    pub(crate) fn close_reason(&self) -> Option<CloseReason> {
        match self.state {
            State::Closed(r) => Some(r),
            _ => None,
        }
    }

    /// The datagram size in use.
    pub(crate) fn packet_size(&self) -> usize {
        self.packet_size
    }

    /// The congestion window, in bytes.
    pub(crate) fn window(&self) -> usize {
        self.ledbat.window()
    }

    /// The smoothed round-trip time.
    pub(crate) fn rtt(&self) -> std::time::Duration {
        self.rtt.smoothed()
    }

    /// LEDBAT's view of the queueing delay now, in microseconds.
    pub(crate) fn queueing_delay_us(&self) -> u32 {
        self.ledbat.delays.queueing_delay()
    }

    /// A finished connection stays this long after both FINs ("time-wait"), acknowledging a
    /// FIN of the peer's sent again because our ack of it was lost.
    fn time_wait(&self) -> std::time::Duration {
        (self.rtt.rto * 2).min(self.linger)
    }

    /// Whether everything is done and nothing remains to send: the endpoint may drop it.
    pub(crate) fn removable(&self, now: Instant) -> bool {
        let State::Closed(reason) = self.state else {
            return false;
        };
        let waited = reason != CloseReason::Finished
            || self.closed_at.is_none_or(|t| now >= t + self.time_wait());
        // One that never got past the handshake is dropped unreleased: it never carried a
        // byte, and a SYN flood must not fill the table with them.
        (self.released || self.closed_half_open) && !self.need_ack && !self.send_reset && waited
    }

    fn advertised_window(&self) -> usize {
        self.recv_window
            .saturating_sub(self.recv_buf.len() + self.ooo_bytes)
    }

    fn close(&mut self, reason: CloseReason) {
        if !matches!(self.state, State::Closed(_)) {
            self.closed_half_open = self.state == State::SynRecv;
            self.state = State::Closed(reason);
            self.closed_at = Some(self.clock);
            self.pending.closed = true;
            self.pending.readable = true;
            self.pending.writable = true;
            self.rto_deadline = None;
            self.linger_deadline = None;
            self.in_flight.clear();
            self.bytes_in_flight = 0;
            self.lost_count = 0;
        }
    }

    // ---- application side ----

    /// Copies as much of `data` as the send buffer takes; returns how much.
    pub(crate) fn write(&mut self, data: &[u8]) -> usize {
        if matches!(self.state, State::Closed(_)) || self.fin_requested {
            return 0;
        }
        let room = self.send_buffer.saturating_sub(self.send_buf.len());
        let n = room.min(data.len());
        self.send_buf.extend(&data[..n]);
        if n < data.len() {
            self.writable_wanted = true;
        }
        n
    }

    /// Bytes the send buffer takes now.
    pub(crate) fn write_capacity(&self) -> usize {
        if matches!(self.state, State::Closed(_)) || self.fin_requested {
            0
        } else {
            self.send_buffer.saturating_sub(self.send_buf.len())
        }
    }

    /// Reads buffered data: `Some(n > 0)`, `Some(0)` at the end of the stream, `None` when
    /// nothing is buffered yet.
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> Option<usize> {
        if self.recv_buf.is_empty() {
            return if self.eof || matches!(self.state, State::Closed(_)) {
                Some(0)
            } else {
                None
            };
        }
        let n = buf.len().min(self.recv_buf.len());
        let (a, b) = self.recv_buf.as_slices();
        let first = n.min(a.len());
        buf[..first].copy_from_slice(&a[..first]);
        buf[first..n].copy_from_slice(&b[..n - first]);
        self.recv_buf.drain(..n);
        // Tell the peer the window reopened once it has grown by a quarter, or by a packet
        // when it was nearly shut.
        let wnd = self.advertised_window();
        if wnd >= self.last_adv_wnd + (self.recv_window / 4).max(1)
            || (self.last_adv_wnd < 2 * self.packet_size && wnd >= 2 * self.packet_size)
        {
            self.need_ack = true;
        }
        Some(n)
    }

    /// Bytes readable now.
    pub(crate) fn readable_len(&self) -> usize {
        self.recv_buf.len()
    }

    /// Sends a FIN once everything written is out.
    pub(crate) fn shutdown(&mut self, now: Instant) {
        if !self.fin_requested && !matches!(self.state, State::Closed(_)) {
            self.fin_requested = true;
        }
        let _ = now;
    }

    /// The application is done with the connection.
    pub(crate) fn release(&mut self, now: Instant) {
        self.clock = now;
        self.released = true;
        self.shutdown(now);
        self.recv_buf.clear();
        if self.eof && self.fin_acked {
            self.close(CloseReason::Finished);
        }
    }

    /// Aborts with a RESET.
    pub(crate) fn reset(&mut self) {
        if !matches!(self.state, State::Closed(_)) {
            self.send_reset = self.state != State::SynSent;
            self.close(CloseReason::Aborted);
        }
    }

    // ---- network side ----

    /// Handles one packet addressed to this connection. Returns false when it was dropped
    /// as invalid (an ack for data never sent).
    pub(crate) fn handle_packet(
        &mut self,
        p: &Packet<'_>,
        now: Instant,
        now_us: u32,
        stats: &mut Stats,
    ) -> bool {
        self.clock = now;
        let h = &p.header;
        if let State::Closed(_) = self.state {
            // Ack a retransmitted FIN so the peer can finish too; nothing else matters.
            if h.packet_type == PacketType::Fin || h.packet_type == PacketType::Data {
                self.need_ack = !self.send_reset;
            }
            return true;
        }
        if h.packet_type == PacketType::Reset {
            self.close(CloseReason::Reset);
            return true;
        }
        if h.packet_type == PacketType::Syn {
            // Our answer was lost: send it again.
            if self.state == State::SynRecv || self.state == State::Connected {
                self.need_ack = true;
            }
            return true;
        }
        if self.state == State::SynSent {
            let syn_seq = self.first_in_flight;
            if h.ack_nr != syn_seq {
                stats.acks_for_unsent += 1;
                return false;
            }
            // The answer's sequence number is that of the first data packet to come.
            self.ack_nr = h.seq_nr.minus(1);
            self.state = State::Connected;
            self.pending.connected = true;
            self.pending.writable = true;
            self.adopt_packet_size(p.max_packet);
        } else if self.state == State::SynRecv {
            self.state = State::Connected;
        }
        if !self.handle_ack(p, now, stats) {
            return false;
        }
        self.last_recv = now;
        self.reply_micro = now_us.wrapping_sub(h.timestamp_us);
        self.peer_wnd = h.wnd_size as usize;
        if self.peer_wnd >= self.packet_size {
            self.probe_allowed = false;
        }
        match h.packet_type {
            PacketType::Data => self.receive(h.seq_nr, p.payload, false, stats),
            PacketType::Fin => self.receive(h.seq_nr, p.payload, true, stats),
            _ => {}
        }
        self.check_finished();
        true
    }

    /// Both FINs are through: done. Ours is through and the application let go: wait a
    /// little for the peer's, then drop the connection anyway.
    fn check_finished(&mut self) {
        if self.fin_acked && self.eof {
            self.close(CloseReason::Finished);
        } else if self.fin_acked && self.released && self.linger_deadline.is_none() {
            self.linger_deadline = Some(self.last_recv + self.linger);
        }
    }

    /// Processes the ack number and selective ack of a packet. False: it acknowledges
    /// packets we never sent.
    fn handle_ack(&mut self, p: &Packet<'_>, now: Instant, stats: &mut Stats) -> bool {
        let ack = p.header.ack_nr;
        let last_sent = self.seq_nr.minus(1);
        if last_sent.before(ack) {
            stats.acks_for_unsent += 1;
            return false;
        }
        let mut acked_bytes = 0usize;
        let mut newest_sample = None;
        let progressed = !self.in_flight.is_empty() && !ack.before(self.first_in_flight);
        if progressed {
            let n = ack.since(self.first_in_flight) as usize + 1;
            let mut release_to = None;
            for s in self.in_flight.drain(..n.min(self.in_flight.len())) {
                if !s.sacked {
                    if !s.lost {
                        self.bytes_in_flight -= s.len as usize + HEADER_LEN;
                    } else {
                        self.lost_count -= 1;
                    }
                    acked_bytes += s.len as usize + HEADER_LEN;
                    if s.transmissions == 1 {
                        newest_sample = Some(s.sent_at);
                    }
                }
                match s.kind {
                    Kind::Data => release_to = Some(s.offset + s.len as u64),
                    Kind::Fin => self.fin_acked = true,
                    Kind::Syn => {}
                }
            }
            self.first_in_flight = ack.plus(1);
            if let Some(to) = release_to {
                let n = (to - self.send_base) as usize;
                self.send_buf.drain(..n);
                self.send_base = to;
                if self.writable_wanted {
                    self.writable_wanted = false;
                    self.pending.writable = true;
                }
            }
            self.dup_acks = 0;
            if let Some(r) = self.recovery_until {
                if !ack.before(r) {
                    self.recovery_until = None;
                }
            }
        } else if p.header.packet_type == PacketType::State
            && p.sack.is_none()
            && !self.in_flight.is_empty()
            && ack == self.first_in_flight.minus(1)
        {
            self.dup_acks += 1;
            if self.dup_acks == LOSS_THRESHOLD as u32 {
                self.mark_lost(0);
                self.loss_event();
            }
        }
        if let Some(mask) = p.sack {
            // Bit i: packet ack + 2 + i. Bits past what is in flight are ignored.
            let base = ack.plus(2);
            let mut sacked_after = 0usize;
            let mut loss = false;
            let len = self.in_flight.len();
            let start_idx = base.since(self.first_in_flight) as usize;
            if !base.before(self.first_in_flight) && start_idx < len {
                for i in 0..(mask.len() * 8).min(len - start_idx) {
                    if sack_bit(mask, i) {
                        let s = &mut self.in_flight[start_idx + i];
                        if !s.sacked {
                            s.sacked = true;
                            if s.lost {
                                self.lost_count -= 1;
                                s.lost = false;
                            } else {
                                self.bytes_in_flight -= s.len as usize + HEADER_LEN;
                            }
                            acked_bytes += s.len as usize + HEADER_LEN;
                            if s.transmissions == 1 {
                                newest_sample = Some(
                                    newest_sample.map_or(s.sent_at, |t: Instant| t.max(s.sent_at)),
                                );
                            }
                        }
                    }
                }
                // Holes with enough acknowledged after them are lost (walk from the newest).
                for idx in (0..(start_idx + (mask.len() * 8)).min(len)).rev() {
                    let s = &self.in_flight[idx];
                    if s.sacked {
                        sacked_after += 1;
                    } else if sacked_after >= LOSS_THRESHOLD && !s.lost && s.transmissions == 1 {
                        self.mark_lost(idx);
                        loss = true;
                    }
                }
            }
            if loss {
                self.loss_event();
            }
        }
        if let Some(sent_at) = newest_sample {
            self.rtt.sample(now.saturating_duration_since(sent_at));
        }
        if acked_bytes > 0 {
            if p.header.timestamp_diff_us != 0 {
                self.ledbat.delays.add(p.header.timestamp_diff_us, now);
            }
            self.ledbat.on_ack(acked_bytes, self.window_limited);
            self.window_limited = false;
        }
        self.rearm_rto(now, progressed);
        true
    }

    fn mark_lost(&mut self, idx: usize) {
        let s = &mut self.in_flight[idx];
        if !s.lost && !s.sacked {
            s.lost = true;
            self.lost_count += 1;
            self.bytes_in_flight -= s.len as usize + HEADER_LEN;
        }
    }

    fn loss_event(&mut self) {
        if self.recovery_until.is_none() {
            self.ledbat.on_loss();
            self.recovery_until = Some(self.seq_nr.minus(1));
        }
    }

    fn rearm_rto(&mut self, now: Instant, progressed: bool) {
        let outstanding = self.in_flight.iter().any(|s| !s.sacked);
        if !outstanding {
            self.rto_deadline = None;
        } else if progressed || self.rto_deadline.is_none() {
            self.rto_deadline = Some(now + self.rtt.rto);
        }
    }

    fn receive(&mut self, seq: Seq, payload: &[u8], fin: bool, stats: &mut Stats) {
        self.need_ack = true;
        if !self.ack_nr.before(seq) {
            stats.duplicates += 1;
            return;
        }
        if let Some(f) = self.fin_seq {
            if f.before(seq) {
                return; // nothing follows a FIN
            }
        }
        let d = seq.since(self.ack_nr);
        if d > MAX_REORDER {
            stats.out_of_window += 1;
            return;
        }
        if fin {
            self.fin_seq = Some(seq);
        }
        // After the application let go, data is acknowledged and dropped.
        let keep = if self.released { &[][..] } else { payload };
        if d == 1 {
            if self.recv_buf.len() + self.ooo_bytes + keep.len() > self.recv_window
                && !self.recv_buf.is_empty()
            {
                stats.out_of_window += 1;
                return;
            }
            self.recv_buf.extend(keep);
            self.ack_nr = seq;
            while let Some(next) = self.out_of_order.remove(&self.ack_nr.plus(1).0) {
                self.ooo_bytes -= next.len();
                self.recv_buf.extend(&next);
                self.ack_nr = self.ack_nr.plus(1);
            }
            if self.fin_seq == Some(self.ack_nr) {
                self.eof = true;
            }
            self.pending.readable = true;
        } else {
            if self.out_of_order.contains_key(&seq.0) {
                stats.duplicates += 1;
                return;
            }
            if self.recv_buf.len() + self.ooo_bytes + keep.len() > self.recv_window {
                stats.out_of_window += 1;
                return;
            }
            self.ooo_bytes += keep.len();
            self.out_of_order.insert(seq.0, keep.to_vec());
        }
    }

    /// Builds the selective ack of what is held out of order, into `mask`; returns its
    /// length (0: none).
    fn build_sack(&self, mask: &mut [u8; MAX_SACK_LEN]) -> usize {
        if self.out_of_order.is_empty() {
            return 0;
        }
        let mut top = 0usize;
        for &s in self.out_of_order.keys() {
            let i = Seq(s).since(self.ack_nr.plus(2)) as usize;
            if i < MAX_SACK_LEN * 8 {
                mask[i / 8] |= 1 << (i % 8);
                top = top.max(i + 1);
            }
        }
        top.div_ceil(32) * 4
    }

    // ---- output ----

    fn header(&self, packet_type: PacketType, seq_nr: Seq, now_us: u32) -> Header {
        Header {
            packet_type,
            connection_id: if packet_type == PacketType::Syn {
                self.recv_id
            } else {
                self.send_id
            },
            timestamp_us: now_us,
            timestamp_diff_us: self.reply_micro,
            wnd_size: self.advertised_window() as u32,
            seq_nr,
            ack_nr: if packet_type == PacketType::Syn {
                Seq(0)
            } else {
                self.ack_nr
            },
        }
    }

    /// Writes the next datagram this connection has to send, appended to `out`; returns its
    /// length.
    pub(crate) fn poll_transmit(
        &mut self,
        now: Instant,
        now_us: u32,
        out: &mut Vec<u8>,
        stats: &mut Stats,
    ) -> Option<usize> {
        let start = out.len();
        let len = self.next_datagram(now, now_us, out, stats)?;
        debug_assert_eq!(out.len() - start, len);
        self.last_sent = now;
        stats.datagrams_sent += 1;
        Some(len)
    }

    fn next_datagram(
        &mut self,
        now: Instant,
        now_us: u32,
        out: &mut Vec<u8>,
        stats: &mut Stats,
    ) -> Option<usize> {
        let max_packet = (self.max_packet_size > self.packet_size || self.max_packet_size > 1400)
            .then_some(self.max_packet_size as u16);
        match self.state {
            State::Closed(_) => {
                if self.send_reset {
                    self.send_reset = false;
                    stats.resets_sent += 1;
                    let h = self.header(PacketType::Reset, self.seq_nr, now_us);
                    return Some(self.put_header(&h, None, None, out));
                }
                if self.need_ack {
                    self.need_ack = false;
                    let h = self.header(PacketType::State, self.seq_nr, now_us);
                    return Some(self.put_header(&h, None, None, out));
                }
                return None;
            }
            State::SynSent => {
                if self.lost_count == 0 {
                    return None;
                }
                let syn = &mut self.in_flight[0];
                syn.lost = false;
                syn.transmissions += 1;
                syn.sent_at = now;
                self.lost_count = 0;
                self.bytes_in_flight += HEADER_LEN;
                if self.rto_deadline.is_none() {
                    self.rto_deadline = Some(now + self.rtt.rto);
                }
                // Only the first SYN offers the packet-size extension: libutp (Transmission)
                // does not answer a SYN that carries it, and answers the plain retransmission.
                let offer = max_packet.filter(|_| syn.transmissions == 1);
                let h = self.header(PacketType::Syn, self.first_in_flight, now_us);
                return Some(self.put_header(&h, None, offer, out));
            }
            State::SynRecv | State::Connected => {}
        }
        let mut mask = [0u8; MAX_SACK_LEN];
        let sack_len = self.build_sack(&mut mask);
        let sack = (sack_len > 0).then_some(&mask[..sack_len]);
        let overhead = Packet::encoded_len(sack, None, 0);
        let window = self
            .ledbat
            .window()
            .min(self.peer_wnd.max(if self.probe_allowed {
                self.packet_size
            } else {
                0
            }));

        // Retransmissions first.
        if self.lost_count > 0 {
            let idx = self
                .in_flight
                .iter()
                .position(|s| s.lost)
                .expect("lost_count counts lost packets");
            let wire = self.in_flight[idx].len as usize + HEADER_LEN;
            if self.bytes_in_flight == 0 || self.bytes_in_flight + wire <= window {
                let s = &mut self.in_flight[idx];
                s.lost = false;
                s.transmissions += 1;
                s.sent_at = now;
                let (kind, offset, len) = (s.kind, s.offset, s.len as usize);
                self.lost_count -= 1;
                self.bytes_in_flight += wire;
                stats.retransmits += 1;
                if self.rto_deadline.is_none() {
                    self.rto_deadline = Some(now + self.rtt.rto);
                }
                let seq = self.first_in_flight.plus(idx as u16);
                let t = if kind == Kind::Fin {
                    PacketType::Fin
                } else {
                    PacketType::Data
                };
                let h = self.header(t, seq, now_us);
                self.need_ack = false;
                let from = (offset - self.send_base) as usize;
                return Some(self.put_header(&h, sack, None, out) + self.payload(from, len, out));
            }
            self.window_limited = true;
        }

        // New data, or the FIN.
        let unsent = (self.send_base + self.send_buf.len() as u64 - self.next_offset) as usize;
        let room_in_flight = self.in_flight.len() < self.max_in_flight;
        if (unsent > 0 || (self.fin_requested && !self.fin_sent))
            && room_in_flight
            && self.lost_count == 0
        {
            let max_payload = self.packet_size.saturating_sub(overhead).max(1);
            let len = unsent.min(max_payload);
            // Nagle: a short packet waits while others are in flight, unless it is the last.
            let short_waits = len < max_payload && self.bytes_in_flight > 0 && !self.fin_requested;
            let wire = len + HEADER_LEN;
            let fits = self.bytes_in_flight == 0 || self.bytes_in_flight + wire <= window;
            let peer_open = self.peer_wnd >= wire.min(self.packet_size) || self.probe_allowed;
            if !short_waits && fits && peer_open {
                let is_fin = len == 0;
                let seq = self.seq_nr;
                self.seq_nr = seq.plus(1);
                self.in_flight.push_back(Sent {
                    kind: if is_fin { Kind::Fin } else { Kind::Data },
                    offset: self.next_offset,
                    len: len as u32,
                    sent_at: now,
                    transmissions: 1,
                    sacked: false,
                    lost: false,
                });
                if is_fin {
                    self.fin_sent = true;
                }
                let from = (self.next_offset - self.send_base) as usize;
                self.next_offset += len as u64;
                self.bytes_in_flight += wire;
                self.probe_allowed = false;
                if self.rto_deadline.is_none() {
                    self.rto_deadline = Some(now + self.rtt.rto);
                }
                let t = if is_fin {
                    PacketType::Fin
                } else {
                    PacketType::Data
                };
                let h = self.header(t, seq, now_us);
                self.need_ack = false;
                return Some(self.put_header(&h, sack, None, out) + self.payload(from, len, out));
            }
            if !fits {
                self.window_limited = true;
            }
            if !peer_open && self.bytes_in_flight == 0 && self.rto_deadline.is_none() {
                // The peer's window is shut and nothing is in flight to reopen it: probe
                // after a timeout.
                self.rto_deadline = Some(now + self.rtt.rto);
            }
        }

        if self.need_ack {
            self.need_ack = false;
            let answer_syn = self.state == State::SynRecv;
            let h = self.header(PacketType::State, self.seq_nr, now_us);
            let ext = (answer_syn && self.peer_has_ext)
                .then_some(max_packet)
                .flatten();
            return Some(self.put_header(&h, sack, ext, out));
        }
        None
    }

    /// Appends a header (and extensions) to `out`; returns its length.
    fn put_header(
        &mut self,
        h: &Header,
        sack: Option<&[u8]>,
        max_packet: Option<u16>,
        out: &mut Vec<u8>,
    ) -> usize {
        let n = Packet::encoded_len(sack, max_packet, 0);
        let start = out.len();
        out.resize(start + n, 0);
        Packet::write_header(h, sack, max_packet, &mut out[start..]);
        if h.packet_type != PacketType::Syn {
            self.last_adv_wnd = h.wnd_size as usize;
        }
        n
    }

    fn payload(&self, from: usize, len: usize, out: &mut Vec<u8>) -> usize {
        copy_out(&self.send_buf, from, len, out);
        len
    }

    /// The next time [`Conn::handle_timeout`] has work.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        let mut t = self.rto_deadline;
        let mut min = |x: Instant| t = Some(t.map_or(x, |t| t.min(x)));
        match self.state {
            State::Closed(CloseReason::Finished) if self.released => {
                return self.closed_at.map(|c| c + self.time_wait());
            }
            State::Closed(_) => return None,
            State::Connected | State::SynRecv => {
                min(self.last_sent + self.keepalive);
                min(self.last_recv + self.idle_limit());
            }
            State::SynSent => {}
        }
        if let Some(l) = self.linger_deadline {
            min(l);
        }
        t
    }

    /// How long silence is borne: a half-open connection (a SYN answered, nothing since)
    /// goes after [`HALF_OPEN_TIMEOUT`], so a SYN flood does not hold slots for a minute.
    fn idle_limit(&self) -> std::time::Duration {
        if self.state == State::SynRecv {
            HALF_OPEN_TIMEOUT.min(self.idle_timeout)
        } else {
            self.idle_timeout
        }
    }

    pub(crate) fn handle_timeout(&mut self, now: Instant, stats: &mut Stats) {
        self.clock = now;
        if matches!(self.state, State::Closed(_)) {
            return;
        }
        if self.linger_deadline.is_some_and(|l| now >= l) {
            self.close(CloseReason::Finished);
            return;
        }
        if self.state != State::SynSent && now >= self.last_recv + self.idle_limit() {
            self.close(CloseReason::TimedOut);
            return;
        }
        if self.rto_deadline.is_some_and(|d| now >= d) {
            self.rto_deadline = None;
            if self.state == State::SynSent {
                if self.in_flight[0].transmissions > self.syn_resends {
                    self.close(CloseReason::TimedOut);
                    return;
                }
                self.rtt.back_off();
                if !self.in_flight[0].lost {
                    self.in_flight[0].lost = true;
                    self.lost_count = 1;
                    self.bytes_in_flight = 0;
                }
                return;
            }
            if self.in_flight.iter().any(|s| !s.sacked) {
                stats.timeouts += 1;
                if self
                    .in_flight
                    .iter()
                    .any(|s| s.transmissions > self.max_resends)
                {
                    self.close(CloseReason::TimedOut);
                    return;
                }
                self.rtt.back_off();
                self.ledbat.on_timeout();
                self.recovery_until = Some(self.seq_nr.minus(1));
                for i in 0..self.in_flight.len() {
                    self.mark_lost(i);
                }
            } else if self.peer_wnd < self.packet_size {
                self.probe_allowed = true;
                self.rtt.back_off();
            }
        }
        if matches!(self.state, State::Connected | State::SynRecv)
            && now >= self.last_sent + self.keepalive
        {
            self.need_ack = true;
        }
    }
}
