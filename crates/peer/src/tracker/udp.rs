//! The UDP tracker client (BEP 15), sans-IO: a session that connects, reuses the connection id
//! for a minute, matches transaction ids and retransmits after 15 * 2^n seconds. The packets are
//! torrentkit-tracker-proto's.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use torrentkit_tracker_proto::action::{ANNOUNCE, CONNECT, ERROR, SCRAPE};
use torrentkit_tracker_proto::{
    compact, read_scrape_entries, reply_header, InfoHash, UdpAnnounce, UdpRequest, UdpResponse,
};

use super::{AnnounceRequest, AnnounceResponse, ScrapeStats, TrackerError};
use crate::Rng;

/// How many times BEP 15 retransmits before giving up (waits of 15 s * 2^0 ... 2^8).
pub const MAX_RETRANSMITS: u32 = 8;
/// How long a connection id may be used after it was received.
const CONNECTION_ID_LIFETIME: Duration = Duration::from_secs(60);
/// Most info-hashes in one scrape packet (BEP 15: about 74).
const MAX_SCRAPE: usize = 74;

/// The result of one announce or scrape on a [`UdpSession`].
#[derive(Debug)]
pub enum UdpEvent {
    /// The announce succeeded.
    Announced(AnnounceResponse),
    /// The scrape succeeded.
    Scraped(Vec<ScrapeStats>),
    /// The tracker sent an error, or every retransmission timed out.
    Failed(TrackerError),
}

#[derive(Debug, Clone)]
enum Op {
    Announce(AnnounceRequest),
    Scrape(Vec<InfoHash>),
}

#[derive(Debug)]
struct Pending {
    op: Op,
    connecting: bool,
    tid: u32,
    attempt: u32,
    deadline: Instant,
    packet: Vec<u8>,
}

/// One client's conversation with one UDP tracker.
///
/// Start an operation with [`announce`](Self::announce) or [`scrape`](Self::scrape), then send
/// what [`poll_transmit`](Self::poll_transmit) returns, feed replies to
/// [`handle_datagram`](Self::handle_datagram), call [`handle_timeout`](Self::handle_timeout) at
/// [`poll_timeout`](Self::poll_timeout), and collect the result from
/// [`poll_event`](Self::poll_event). The connection id is kept for 60 seconds, so the next
/// operation within that time skips the connect round trip.
#[derive(Debug)]
pub struct UdpSession {
    rng: Rng,
    ipv6: bool,
    max_retransmits: u32,
    connection: Option<(u64, Instant)>,
    pending: Option<Pending>,
    transmit: VecDeque<Vec<u8>>,
    events: VecDeque<UdpEvent>,
}

impl UdpSession {
    /// A session with a tracker reached over IPv6 (`ipv6`: replies carry 18-byte peers) or IPv4;
    /// transaction ids come from `seed`.
    pub fn new(seed: u64, ipv6: bool) -> Self {
        UdpSession {
            rng: Rng::new(seed),
            ipv6,
            max_retransmits: MAX_RETRANSMITS,
            connection: None,
            pending: None,
            transmit: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// Gives up after `n` retransmissions instead of BEP 15's 8 (which waits over two hours).
    pub fn with_max_retransmits(mut self, n: u32) -> Self {
        self.max_retransmits = n;
        self
    }

    /// Whether an operation is under way.
    pub fn is_busy(&self) -> bool {
        self.pending.is_some()
    }

    /// Starts an announce (replacing any operation under way).
    pub fn announce(&mut self, now: Instant, req: AnnounceRequest) {
        self.start(now, Op::Announce(req));
    }

    /// Starts a scrape of up to 74 info-hashes (more are dropped, as one packet holds 74).
    pub fn scrape(&mut self, now: Instant, mut hashes: Vec<InfoHash>) {
        hashes.truncate(MAX_SCRAPE);
        self.start(now, Op::Scrape(hashes));
    }

    fn start(&mut self, now: Instant, op: Op) {
        let connection = self
            .connection
            .filter(|&(_, at)| now.saturating_duration_since(at) < CONNECTION_ID_LIFETIME);
        let tid = self.rng.next_u32();
        let (connecting, packet) = match connection {
            Some((cid, _)) => (false, request_packet(cid, tid, &op)),
            None => (true, connect_packet(tid)),
        };
        self.transmit.push_back(packet.clone());
        self.pending = Some(Pending {
            op,
            connecting,
            tid,
            attempt: 0,
            deadline: now + retransmit_delay(0),
            packet,
        });
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmit.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) should be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.pending.as_ref().map(|p| p.deadline)
    }

    /// The next result.
    pub fn poll_event(&mut self) -> Option<UdpEvent> {
        self.events.pop_front()
    }

    /// Retransmits, or gives up, if the reply is overdue.
    pub fn handle_timeout(&mut self, now: Instant) {
        let Some(p) = &mut self.pending else { return };
        if now < p.deadline {
            return;
        }
        if p.attempt >= self.max_retransmits {
            self.pending = None;
            self.events
                .push_back(UdpEvent::Failed(TrackerError::Timeout));
            return;
        }
        p.attempt += 1;
        p.deadline = now + retransmit_delay(p.attempt);
        self.transmit.push_back(p.packet.clone());
    }

    /// Handles a datagram from the tracker. Datagrams that do not match the transaction under
    /// way are ignored (late replies, spoofing).
    pub fn handle_datagram(&mut self, now: Instant, data: &[u8]) {
        let Some(p) = &mut self.pending else { return };
        let Some((action, tid)) = reply_header(data) else {
            return;
        };
        let expected = match action {
            ERROR => true,
            CONNECT => p.connecting,
            ANNOUNCE => !p.connecting && matches!(p.op, Op::Announce(_)),
            SCRAPE => !p.connecting && matches!(p.op, Op::Scrape(_)),
            _ => false,
        };
        if tid != p.tid || !expected {
            return;
        }
        let result = match UdpResponse::parse(data, self.ipv6) {
            Err(e) => Err(TrackerError::from(e)),
            Ok(UdpResponse::Error { message, .. }) => Err(TrackerError::Failure(
                String::from_utf8_lossy(message).into_owned(),
            )),
            Ok(UdpResponse::Connect { connection_id, .. }) => {
                self.connection = Some((connection_id, now));
                let tid = self.rng.next_u32();
                p.connecting = false;
                p.tid = tid;
                p.attempt = 0;
                p.deadline = now + retransmit_delay(0);
                p.packet = request_packet(connection_id, tid, &p.op);
                self.transmit.push_back(p.packet.clone());
                return;
            }
            Ok(UdpResponse::Announce {
                interval,
                leechers,
                seeders,
                peers,
                ..
            }) => {
                let peers = if self.ipv6 {
                    compact::iter_v6(peers).collect()
                } else {
                    compact::iter_v4(peers).collect()
                };
                Ok(UdpEvent::Announced(AnnounceResponse {
                    interval: Duration::from_secs(u64::from(interval)),
                    leechers: Some(leechers),
                    seeders: Some(seeders),
                    peers,
                    ..AnnounceResponse::default()
                }))
            }
            Ok(UdpResponse::Scrape { entries, .. }) => match &p.op {
                Op::Scrape(hashes) => read_scrape_entries(entries, hashes)
                    .map(UdpEvent::Scraped)
                    .map_err(TrackerError::from),
                Op::Announce(_) => return,
            },
        };
        self.pending = None;
        match result {
            Ok(ev) => self.events.push_back(ev),
            Err(e) => {
                // An error may mean our connection id expired on the tracker's side.
                self.connection = None;
                self.events.push_back(UdpEvent::Failed(e));
            }
        }
    }
}

/// BEP 15: wait 15 * 2^n seconds before retransmission n + 1.
fn retransmit_delay(attempt: u32) -> Duration {
    Duration::from_secs(15 << attempt.min(8))
}

/// The 16-byte connect request.
fn connect_packet(transaction_id: u32) -> Vec<u8> {
    let mut p = Vec::with_capacity(16);
    UdpRequest::Connect { transaction_id }.write(&mut p);
    p
}

fn request_packet(connection_id: u64, transaction_id: u32, op: &Op) -> Vec<u8> {
    let mut p = Vec::with_capacity(98);
    match op {
        Op::Announce(r) => {
            UdpRequest::Announce(UdpAnnounce::from_request(r, connection_id, transaction_id))
                .write(&mut p)
        }
        Op::Scrape(hashes) => {
            let info_hashes: Vec<u8> = hashes.iter().flat_map(|h| h.0).collect();
            UdpRequest::Scrape {
                connection_id,
                transaction_id,
                info_hashes: &info_hashes,
            }
            .write(&mut p)
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracker::Event;
    use torrentkit_tracker_proto::PeerId;

    fn be32(b: &[u8]) -> u32 {
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }

    fn be64(b: &[u8]) -> u64 {
        u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
    }

    fn connect_reply(tid: u32, cid: u64) -> Vec<u8> {
        let mut r = Vec::new();
        r.extend_from_slice(&CONNECT.to_be_bytes());
        r.extend_from_slice(&tid.to_be_bytes());
        r.extend_from_slice(&cid.to_be_bytes());
        r
    }

    fn announce_reply(tid: u32, peers: &[u8]) -> Vec<u8> {
        let mut r = Vec::new();
        for v in [ANNOUNCE, tid, 1800, 7, 3] {
            r.extend_from_slice(&v.to_be_bytes());
        }
        r.extend_from_slice(peers);
        r
    }

    fn tid_of(packet: &[u8]) -> u32 {
        be32(&packet[12..16])
    }

    fn req() -> AnnounceRequest {
        let mut r = AnnounceRequest::new(InfoHash([1; 20]), PeerId([2; 20]), 6881, 500);
        r.event = Event::Started;
        r.key = Some(9);
        r
    }

    #[test]
    fn connect_then_announce_with_exact_packet_layout() {
        let t0 = Instant::now();
        let mut s = UdpSession::new(1, false);
        s.announce(t0, req());
        let c = s.poll_transmit().unwrap();
        assert_eq!(c.len(), 16);
        assert_eq!(
            &c[..12],
            &[0, 0, 0x04, 0x17, 0x27, 0x10, 0x19, 0x80, 0, 0, 0, 0]
        );
        assert!(s.poll_transmit().is_none());
        s.handle_datagram(t0, &connect_reply(tid_of(&c), 0x1122_3344_5566_7788));
        let a = s.poll_transmit().unwrap();
        assert_eq!(a.len(), 98);
        assert_eq!(be64(&a[0..8]), 0x1122_3344_5566_7788);
        assert_eq!(be32(&a[8..12]), ANNOUNCE);
        assert_eq!(&a[16..36], &[1; 20]);
        assert_eq!(&a[36..56], &[2; 20]);
        assert_eq!(be64(&a[64..72]), 500, "left");
        assert_eq!(be32(&a[80..84]), 2, "event started");
        assert_eq!(be32(&a[88..92]), 9, "key");
        assert_eq!(be32(&a[92..96]), u32::MAX, "numwant -1");
        assert_eq!(&a[96..98], &6881u16.to_be_bytes());
        s.handle_datagram(
            t0,
            &announce_reply(be32(&a[12..16]), &[127, 0, 0, 1, 0x1A, 0xE1]),
        );
        match s.poll_event() {
            Some(UdpEvent::Announced(r)) => {
                assert_eq!(r.interval, Duration::from_secs(1800));
                assert_eq!((r.leechers, r.seeders), (Some(7), Some(3)));
                assert_eq!(r.peers, vec!["127.0.0.1:6881".parse().unwrap()]);
            }
            other => panic!("{other:?}"),
        }
        assert!(!s.is_busy());
    }

    #[test]
    fn connection_id_is_reused_for_sixty_seconds_only() {
        let t0 = Instant::now();
        let mut s = UdpSession::new(2, false);
        s.announce(t0, req());
        let c = s.poll_transmit().unwrap();
        s.handle_datagram(t0, &connect_reply(tid_of(&c), 42));
        let a = s.poll_transmit().unwrap();
        s.handle_datagram(t0, &announce_reply(be32(&a[12..16]), &[]));
        assert!(matches!(s.poll_event(), Some(UdpEvent::Announced(_))));
        s.announce(t0 + Duration::from_secs(59), req());
        let a2 = s.poll_transmit().unwrap();
        assert_eq!(a2.len(), 98, "straight to announce with the cached id");
        assert_eq!(be64(&a2[..8]), 42);
        s.handle_datagram(t0, &announce_reply(be32(&a2[12..16]), &[]));
        s.poll_event();
        s.announce(t0 + Duration::from_secs(60), req());
        assert_eq!(
            s.poll_transmit().unwrap().len(),
            16,
            "expired: connect again"
        );
    }

    #[test]
    fn retransmits_after_15_times_2_to_the_n_seconds_then_gives_up() {
        let t0 = Instant::now();
        let mut s = UdpSession::new(3, false);
        s.announce(t0, req());
        let first = s.poll_transmit().unwrap();
        let mut now = t0;
        let mut waits = Vec::new();
        while let Some(deadline) = s.poll_timeout() {
            s.handle_timeout(deadline - Duration::from_millis(1));
            assert!(s.poll_transmit().is_none(), "not before the deadline");
            waits.push((deadline - now).as_secs());
            now = deadline;
            s.handle_timeout(now);
            if let Some(p) = s.poll_transmit() {
                assert_eq!(p, first, "the same request again");
            }
        }
        assert_eq!(waits, vec![15, 30, 60, 120, 240, 480, 960, 1920, 3840]);
        assert!(matches!(
            s.poll_event(),
            Some(UdpEvent::Failed(TrackerError::Timeout))
        ));

        let mut quick = UdpSession::new(3, false).with_max_retransmits(1);
        quick.announce(t0, req());
        quick.handle_timeout(t0 + Duration::from_secs(15));
        quick.handle_timeout(t0 + Duration::from_secs(45));
        assert_eq!(std::iter::from_fn(|| quick.poll_transmit()).count(), 2);
        assert!(matches!(
            quick.poll_event(),
            Some(UdpEvent::Failed(TrackerError::Timeout))
        ));
    }

    #[test]
    fn wrong_transaction_ids_and_junk_are_ignored_errors_reported() {
        let t0 = Instant::now();
        let mut s = UdpSession::new(4, false);
        s.announce(t0, req());
        let c = s.poll_transmit().unwrap();
        s.handle_datagram(t0, &connect_reply(tid_of(&c).wrapping_add(1), 5));
        s.handle_datagram(t0, b"abc");
        assert!(s.poll_transmit().is_none() && s.poll_event().is_none() && s.is_busy());
        let mut err = Vec::new();
        err.extend_from_slice(&ERROR.to_be_bytes());
        err.extend_from_slice(&tid_of(&c).to_be_bytes());
        err.extend_from_slice(b"torrent not registered");
        s.handle_datagram(t0, &err);
        match s.poll_event() {
            Some(UdpEvent::Failed(e)) => {
                assert_eq!(e.to_string(), "tracker: failure: torrent not registered")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn scrape_and_ipv6_peers() {
        let t0 = Instant::now();
        let mut s = UdpSession::new(5, true);
        s.scrape(t0, vec![InfoHash([7; 20]), InfoHash([8; 20])]);
        let c = s.poll_transmit().unwrap();
        s.handle_datagram(t0, &connect_reply(tid_of(&c), 77));
        let p = s.poll_transmit().unwrap();
        assert_eq!(p.len(), 16 + 40);
        let mut reply = Vec::new();
        for v in [SCRAPE, be32(&p[12..16]), 1, 2, 3, 4, 5, 6] {
            reply.extend_from_slice(&v.to_be_bytes());
        }
        s.handle_datagram(t0, &reply);
        match s.poll_event() {
            Some(UdpEvent::Scraped(v)) => {
                assert_eq!(
                    v[0],
                    ScrapeStats {
                        info_hash: InfoHash([7; 20]),
                        seeders: 1,
                        completed: 2,
                        leechers: 3
                    }
                );
                assert_eq!(v[1].leechers, 6);
            }
            other => panic!("{other:?}"),
        }
        s.announce(t0, req());
        let a = s.poll_transmit().unwrap();
        let mut peer = std::net::Ipv6Addr::LOCALHOST.octets().to_vec();
        peer.extend_from_slice(&[0, 9]);
        s.handle_datagram(t0, &announce_reply(be32(&a[12..16]), &peer));
        match s.poll_event() {
            Some(UdpEvent::Announced(r)) => assert_eq!(r.peers, vec!["[::1]:9".parse().unwrap()]),
            other => panic!("{other:?}"),
        }
        s.announce(t0, req());
        let a = s.poll_transmit().unwrap();
        s.handle_datagram(t0, &announce_reply(be32(&a[12..16]), &[1, 2, 3]));
        match s.poll_event() {
            Some(UdpEvent::Failed(e)) => {
                assert!(e.to_string().contains("not a multiple of 18"), "{e}")
            }
            other => panic!("{other:?}"),
        }
    }
}
