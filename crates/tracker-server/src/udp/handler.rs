//! Answering one UDP tracker packet: [`Tracker::handle_udp`], plain code with the time passed in.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use torrentkit_tracker_proto::{
    push_scrape_entry, transaction_id_of, AnnounceRequest, InfoHash, ScrapeStats, UdpRequest,
    UdpResponse,
};

use crate::stats::Counters;
use crate::swarm::{PeerList, SwarmStats};
use crate::tracker::{canonical, Tracker};

fn error(out: &mut Vec<u8>, transaction_id: u32, message: &str) {
    UdpResponse::Error {
        transaction_id,
        message: message.as_bytes(),
    }
    .write(out);
}

/// What a UDP packet needs after parsing and checking its connection id: nothing more (its reply
/// is written), or the store.
pub(crate) enum UdpStep {
    /// The reply is in `out`; send it when `true`.
    Done(bool),
    /// An announce to record (already converted to a request).
    Announce {
        transaction_id: u32,
        request: AnnounceRequest,
    },
    /// A scrape of these torrents (not allowed ones report zeros: `allowed` is false for them).
    Scrape {
        transaction_id: u32,
        hashes: Vec<(InfoHash, bool)>,
    },
}

impl Tracker {
    /// Answers one UDP packet from `from`, writing the reply into `out` (which is cleared first).
    /// Returns `false` when nothing should be sent: packets too short to carry a transaction id
    /// are dropped silently, so that forged sources get no traffic. In-memory store only;
    /// [`Tracker::handle_udp_shared`] serves either.
    pub fn handle_udp(
        &self,
        packet: &[u8],
        from: SocketAddr,
        now: Instant,
        out: &mut Vec<u8>,
    ) -> bool {
        let secs = u64::from(self.inner.store.secs(now));
        self.handle_udp_at(packet, from, now, secs, out)
    }

    /// [`Tracker::handle_udp`] with the connection ids' clock given: `id_secs` is in seconds on
    /// any clock every tracker sharing the ids agrees on (Unix time, with a shared secret).
    pub(crate) fn handle_udp_at(
        &self,
        packet: &[u8],
        from: SocketAddr,
        now: Instant,
        id_secs: u64,
        out: &mut Vec<u8>,
    ) -> bool {
        let ip = canonical(from.ip());
        match self.udp_step(packet, ip, id_secs, out) {
            UdpStep::Done(send) => send,
            UdpStep::Announce {
                transaction_id,
                request,
            } => {
                PEERS.with(|peers| {
                    let mut peers = peers.borrow_mut();
                    peers.clear();
                    let stats = self
                        .announce(&request, ip, now, false, &mut peers)
                        .map_err(|e| e.to_string());
                    self.write_udp_announce(transaction_id, ip, stats, &peers, out);
                });
                true
            }
            UdpStep::Scrape {
                transaction_id,
                hashes,
            } => {
                let stats: Vec<SwarmStats> = hashes
                    .iter()
                    .map(|(h, allowed)| {
                        if *allowed {
                            self.inner.store.scrape(h)
                        } else {
                            SwarmStats::default()
                        }
                    })
                    .collect();
                write_udp_scrape(transaction_id, &hashes, &stats, out);
                true
            }
        }
    }

    /// Parses a packet and checks its connection id, answering what needs no store (connects,
    /// errors) into `out`.
    pub(crate) fn udp_step(
        &self,
        packet: &[u8],
        ip: IpAddr,
        id_secs: u64,
        out: &mut Vec<u8>,
    ) -> UdpStep {
        out.clear();
        let counters = &self.inner.counters;
        let request = match UdpRequest::parse(packet) {
            Ok(r) => r,
            Err(e) => {
                Counters::bump(&counters.udp_failures);
                let Some(tid) = transaction_id_of(packet) else {
                    return UdpStep::Done(false);
                };
                error(out, tid, &e.to_string());
                return UdpStep::Done(true);
            }
        };
        match request {
            UdpRequest::Connect { transaction_id } => {
                Counters::bump(&counters.udp_connects);
                UdpResponse::Connect {
                    transaction_id,
                    connection_id: self.inner.ids.issue(ip, id_secs),
                }
                .write(out);
                UdpStep::Done(true)
            }
            UdpRequest::Announce(a) => {
                Counters::bump(&counters.udp_announces);
                if !self.inner.ids.check(a.connection_id, ip, id_secs) {
                    Counters::bump(&counters.udp_failures);
                    error(out, a.transaction_id, "bad or expired connection id");
                    return UdpStep::Done(true);
                }
                match a.to_request(ip.is_ipv4()) {
                    Ok(request) => UdpStep::Announce {
                        transaction_id: a.transaction_id,
                        request,
                    },
                    Err(e) => {
                        Counters::bump(&counters.udp_failures);
                        error(out, a.transaction_id, &e.to_string());
                        UdpStep::Done(true)
                    }
                }
            }
            UdpRequest::Scrape {
                connection_id,
                transaction_id,
                info_hashes,
            } => {
                Counters::bump(&counters.udp_scrapes);
                if !self.inner.ids.check(connection_id, ip, id_secs) {
                    Counters::bump(&counters.udp_failures);
                    error(out, transaction_id, "bad or expired connection id");
                    return UdpStep::Done(true);
                }
                let max = self.inner.config.max_scrape_hashes;
                let count = info_hashes.len() / 20;
                if count > max {
                    Counters::bump(&counters.udp_failures);
                    error(
                        out,
                        transaction_id,
                        &format!("too many info_hash values ({count}, limit {max})"),
                    );
                    return UdpStep::Done(true);
                }
                let hashes = info_hashes
                    .chunks_exact(20)
                    .map(|chunk| {
                        let mut h = [0u8; 20];
                        h.copy_from_slice(chunk);
                        let info_hash = InfoHash(h);
                        (info_hash, self.is_allowed(&info_hash))
                    })
                    .collect();
                UdpStep::Scrape {
                    transaction_id,
                    hashes,
                }
            }
        }
    }

    /// Writes the reply to a UDP announce: its peers, or the error (counted) when it failed.
    pub(crate) fn write_udp_announce(
        &self,
        transaction_id: u32,
        ip: IpAddr,
        stats: Result<SwarmStats, String>,
        peers: &PeerList,
        out: &mut Vec<u8>,
    ) {
        out.clear();
        match stats {
            Ok(stats) => UdpResponse::Announce {
                transaction_id,
                interval: u32::try_from(self.inner.config.interval.as_secs()).unwrap_or(u32::MAX),
                leechers: stats.leechers,
                seeders: stats.seeders,
                peers: if ip.is_ipv4() { &peers.v4 } else { &peers.v6 },
            }
            .write(out),
            Err(message) => {
                Counters::bump(&self.inner.counters.udp_failures);
                error(out, transaction_id, &message);
            }
        }
    }
}

/// Writes a UDP scrape reply: the counts of each torrent, in the order asked.
pub(crate) fn write_udp_scrape(
    transaction_id: u32,
    hashes: &[(InfoHash, bool)],
    stats: &[SwarmStats],
    out: &mut Vec<u8>,
) {
    let mut entries = Vec::with_capacity(hashes.len() * 12);
    for ((info_hash, _), s) in hashes.iter().zip(stats) {
        push_scrape_entry(
            &mut entries,
            &ScrapeStats {
                info_hash: *info_hash,
                seeders: s.seeders,
                completed: s.completed,
                leechers: s.leechers,
            },
        );
    }
    out.clear();
    UdpResponse::Scrape {
        transaction_id,
        entries: &entries,
    }
    .write(out);
}

thread_local! {
    /// One peer list per thread, reused by every announce to avoid allocating.
    static PEERS: std::cell::RefCell<PeerList> = std::cell::RefCell::new(PeerList::default());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use torrentkit_tracker_proto::{PeerId, UdpAnnounce};

    fn connect(t: &Tracker, from: SocketAddr, now: Instant) -> u64 {
        let mut req = Vec::new();
        UdpRequest::Connect { transaction_id: 42 }.write(&mut req);
        let mut out = Vec::new();
        assert!(t.handle_udp(&req, from, now, &mut out));
        match UdpResponse::parse(&out, false).unwrap() {
            UdpResponse::Connect {
                transaction_id: 42,
                connection_id,
            } => connection_id,
            other => panic!("unexpected {other:?}"),
        }
    }

    fn announce(conn: u64, peer: u8, left: u64, port: u16) -> Vec<u8> {
        let mut b = Vec::new();
        UdpRequest::Announce(UdpAnnounce {
            connection_id: conn,
            transaction_id: 7,
            info_hash: InfoHash([1; 20]),
            peer_id: PeerId([peer; 20]),
            downloaded: 0,
            left,
            uploaded: 0,
            event: 2,
            ip: 0,
            key: 1,
            num_want: -1,
            port,
        })
        .write(&mut b);
        b
    }

    #[test]
    fn connect_announce_scrape_and_errors() {
        let now = Instant::now();
        let t = Tracker::new(Config::default(), now);
        let a: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let conn = connect(&t, a, now);
        let mut out = Vec::new();
        t.handle_udp(&announce(conn, 1, 0, 6881), a, now, &mut out);
        t.handle_udp(&announce(conn, 2, 10, 6882), a, now, &mut out);
        match UdpResponse::parse(&out, false).unwrap() {
            UdpResponse::Announce {
                transaction_id,
                interval,
                leechers,
                seeders,
                peers,
            } => {
                assert_eq!(
                    (transaction_id, interval, leechers, seeders),
                    (7, 1800, 1, 1)
                );
                assert_eq!(peers, &[127, 0, 0, 1, 0x1a, 0xe1]);
            }
            other => panic!("unexpected {other:?}"),
        }
        // A connection id from another address is refused.
        let b: SocketAddr = "127.0.0.2:5000".parse().unwrap();
        t.handle_udp(&announce(conn, 3, 10, 1), b, now, &mut out);
        assert_eq!(
            UdpResponse::parse(&out, false).unwrap(),
            UdpResponse::Error {
                transaction_id: 7,
                message: b"bad or expired connection id"
            }
        );
        t.handle_udp(&announce(conn, 3, 10, 0), a, now, &mut out);
        assert_eq!(
            UdpResponse::parse(&out, false).unwrap(),
            UdpResponse::Error {
                transaction_id: 7,
                message: b"bad port `0`"
            }
        );
        let mut scrape = Vec::new();
        let hashes = [[1u8; 20], [2u8; 20]].concat();
        UdpRequest::Scrape {
            connection_id: conn,
            transaction_id: 9,
            info_hashes: &hashes,
        }
        .write(&mut scrape);
        t.handle_udp(&scrape, a, now, &mut out);
        let mut want = Vec::new();
        for n in [1u32, 0, 1, 0, 0, 0] {
            want.extend_from_slice(&n.to_be_bytes());
        }
        assert_eq!(
            UdpResponse::parse(&out, false).unwrap(),
            UdpResponse::Scrape {
                transaction_id: 9,
                entries: &want
            }
        );
        // Garbage with a transaction id gets an error; shorter garbage gets nothing.
        let mut junk = vec![0u8; 16];
        junk[11] = 5;
        junk[15] = 3;
        assert!(t.handle_udp(&junk, a, now, &mut out));
        assert_eq!(
            UdpResponse::parse(&out, false).unwrap(),
            UdpResponse::Error {
                transaction_id: 3,
                message: b"unknown action 5"
            }
        );
        assert!(!t.handle_udp(&[1, 2, 3], a, now, &mut out));
    }

    #[test]
    fn ipv6_clients_get_ipv6_peers() {
        let now = Instant::now();
        let t = Tracker::new(Config::default(), now);
        let a: SocketAddr = "[::1]:5000".parse().unwrap();
        let conn = connect(&t, a, now);
        let mut out = Vec::new();
        t.handle_udp(&announce(conn, 1, 0, 6881), a, now, &mut out);
        t.handle_udp(&announce(conn, 2, 5, 6882), a, now, &mut out);
        match UdpResponse::parse(&out, true).unwrap() {
            UdpResponse::Announce { peers, .. } => {
                assert_eq!(peers.len(), 18);
                assert_eq!(&peers[15..], &[1, 0x1a, 0xe1]);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
