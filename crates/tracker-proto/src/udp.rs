//! The UDP tracker protocol's packets (BEP 15): [`UdpRequest`] and [`UdpResponse`], each with a
//! parser and a writer, so the same codec serves clients, trackers, tests and load generators;
//! and the conversions between [`UdpAnnounce`] and [`AnnounceRequest`].

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use torrentkit_metainfo::InfoHash;
use torrentkit_wire::PeerId;

use crate::compact::{V4_LEN, V6_LEN};
use crate::{AnnounceRequest, Event, RequestError, ScrapeStats};

/// The magic constant of a connect request.
pub const PROTOCOL_ID: u64 = 0x0417_2710_1980;

const CONNECT: u32 = 0;
const ANNOUNCE: u32 = 1;
const SCRAPE: u32 = 2;
const ERROR: u32 = 3;

/// The length of an announce request without BEP 41 options.
pub const ANNOUNCE_LEN: usize = 98;

/// A request from a client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UdpRequest<'a> {
    /// Asks for a connection id.
    Connect {
        /// Echoed in the reply.
        transaction_id: u32,
    },
    /// An announce.
    Announce(UdpAnnounce),
    /// A scrape of up to about 74 torrents.
    Scrape {
        /// From a connect reply.
        connection_id: u64,
        /// Echoed in the reply.
        transaction_id: u32,
        /// The info-hashes, 20 bytes each, one after the other.
        info_hashes: &'a [u8],
    },
}

/// The fields of a UDP announce request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UdpAnnounce {
    /// From a connect reply.
    pub connection_id: u64,
    /// Echoed in the reply.
    pub transaction_id: u32,
    /// The swarm.
    pub info_hash: InfoHash,
    /// The client's id.
    pub peer_id: PeerId,
    /// Bytes downloaded.
    pub downloaded: u64,
    /// Bytes left.
    pub left: u64,
    /// Bytes uploaded.
    pub uploaded: u64,
    /// 0 none, 1 completed, 2 started, 3 stopped.
    pub event: u32,
    /// The address the client claims (0 for "the packet's source").
    pub ip: u32,
    /// The client's key.
    pub key: u32,
    /// Peers wanted; -1 for the default.
    pub num_want: i32,
    /// The client's peer port.
    pub port: u16,
}

/// A reply from the tracker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UdpResponse<'a> {
    /// The connection id to use in the next requests.
    Connect {
        /// From the request.
        transaction_id: u32,
        /// The id.
        connection_id: u64,
    },
    /// Announce counts and peers.
    Announce {
        /// From the request.
        transaction_id: u32,
        /// Seconds until the next announce.
        interval: u32,
        /// Leechers in the swarm.
        leechers: u32,
        /// Seeders in the swarm.
        seeders: u32,
        /// Compact peers: 6 bytes each over IPv4, 18 over IPv6.
        peers: &'a [u8],
    },
    /// Per info-hash: seeders, completed, leechers (three big-endian u32s each).
    Scrape {
        /// From the request.
        transaction_id: u32,
        /// The entries, 12 bytes each.
        entries: &'a [u8],
    },
    /// A failure with a message.
    Error {
        /// From the request.
        transaction_id: u32,
        /// What went wrong.
        message: &'a [u8],
    },
}

/// Why a packet cannot be parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PacketError {
    /// Fewer bytes than the action needs.
    TooShort {
        /// What the packet seemed to be.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The length needed.
        need: usize,
    },
    /// A connect request without the protocol's magic constant.
    BadProtocolId(u64),
    /// An action number this protocol does not have.
    UnknownAction(u32),
    /// A scrape whose info-hash bytes are not a multiple of 20 long, or empty.
    BadScrapeLength(usize),
    /// A scrape reply whose entries do not match the info-hashes asked about.
    ScrapeCount {
        /// The bytes of statistics.
        len: usize,
        /// How many info-hashes were asked about.
        hashes: usize,
    },
    /// A reply with peers or entries not a multiple of their size.
    BadEntryLength {
        /// The length of the peers or entries.
        len: usize,
        /// The size of one (6 or 18 for peers, 12 for scrape entries).
        size: usize,
    },
}

impl fmt::Display for PacketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PacketError::TooShort { what, len, need } => {
                write!(f, "{what} packet too short ({len} bytes, need {need})")
            }
            PacketError::BadProtocolId(id) => write!(f, "bad protocol id {id:#x} in connect"),
            PacketError::UnknownAction(a) => write!(f, "unknown action {a}"),
            PacketError::BadScrapeLength(n) => {
                write!(
                    f,
                    "bad scrape length: {n} info-hash bytes, not a positive multiple of 20"
                )
            }
            PacketError::ScrapeCount { len, hashes } => write!(
                f,
                "UDP scrape reply has {len} bytes of statistics for {hashes} info-hashes (expected {})",
                hashes * 12
            ),
            PacketError::BadEntryLength { len, size } => {
                write!(f, "bad entry length {len} in reply (not a multiple of {size})")
            }
        }
    }
}

impl std::error::Error for PacketError {}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_be_bytes(x)
}

fn array20(b: &[u8], at: usize) -> [u8; 20] {
    let mut x = [0u8; 20];
    x.copy_from_slice(&b[at..at + 20]);
    x
}

fn need(what: &'static str, b: &[u8], need: usize) -> Result<(), PacketError> {
    if b.len() < need {
        return Err(PacketError::TooShort {
            what,
            len: b.len(),
            need,
        });
    }
    Ok(())
}

/// The transaction id of a request too malformed to parse otherwise, so that an error reply can
/// still be matched by the client.
pub fn transaction_id_of(packet: &[u8]) -> Option<u32> {
    (packet.len() >= 16).then(|| u32_at(packet, 12))
}

/// The action and transaction id of a reply (its first 8 bytes), so a client can drop replies to
/// other transactions before parsing them.
pub fn reply_header(packet: &[u8]) -> Option<(u32, u32)> {
    (packet.len() >= 8).then(|| (u32_at(packet, 0), u32_at(packet, 4)))
}

/// The action numbers of BEP 15, as [`reply_header`] returns them.
pub mod action {
    /// Connect.
    pub const CONNECT: u32 = super::CONNECT;
    /// Announce.
    pub const ANNOUNCE: u32 = super::ANNOUNCE;
    /// Scrape.
    pub const SCRAPE: u32 = super::SCRAPE;
    /// Error.
    pub const ERROR: u32 = super::ERROR;
}

/// Appends one scrape entry (seeders, completed, leechers) to a reply's `entries`; `completed`
/// saturates at the 32 bits the packet has.
pub fn push_scrape_entry(entries: &mut Vec<u8>, stats: &ScrapeStats) {
    entries.extend_from_slice(&stats.seeders.to_be_bytes());
    entries.extend_from_slice(
        &u32::try_from(stats.completed)
            .unwrap_or(u32::MAX)
            .to_be_bytes(),
    );
    entries.extend_from_slice(&stats.leechers.to_be_bytes());
}

/// Reads a scrape reply's `entries` for the `hashes` asked about, in order; the counts must match.
pub fn read_scrape_entries(
    entries: &[u8],
    hashes: &[InfoHash],
) -> Result<Vec<ScrapeStats>, PacketError> {
    if entries.len() != hashes.len() * 12 {
        return Err(PacketError::ScrapeCount {
            len: entries.len(),
            hashes: hashes.len(),
        });
    }
    Ok(hashes
        .iter()
        .zip(entries.chunks_exact(12))
        .map(|(h, c)| ScrapeStats {
            info_hash: *h,
            seeders: u32_at(c, 0),
            completed: u64::from(u32_at(c, 4)),
            leechers: u32_at(c, 8),
        })
        .collect())
}

impl UdpAnnounce {
    /// The announce packet for `req` (see [`AnnounceRequest`] for how `left: None`,
    /// `key: None`, `numwant` and a non-IPv4 `ip` are sent).
    pub fn from_request(req: &AnnounceRequest, connection_id: u64, transaction_id: u32) -> Self {
        UdpAnnounce {
            connection_id,
            transaction_id,
            info_hash: req.info_hash,
            peer_id: req.peer_id,
            downloaded: req.downloaded,
            left: req.left.unwrap_or(u64::MAX),
            uploaded: req.uploaded,
            event: req.event.as_udp(),
            ip: match req.ip {
                Some(IpAddr::V4(v4)) => u32::from(v4),
                _ => 0,
            },
            key: req.key.unwrap_or(0),
            num_want: req
                .numwant
                .map_or(-1, |n| i32::try_from(n).unwrap_or(i32::MAX)),
            port: req.port,
        }
    }

    /// The request a tracker reads from this packet, sent from an IPv4 client when
    /// `from_ipv4` (the `ip` field means something only then). Refuses event numbers above 3 and
    /// port 0, as an HTTP announce is refused.
    pub fn to_request(&self, from_ipv4: bool) -> Result<AnnounceRequest, RequestError> {
        let event = Event::from_udp(self.event).ok_or(RequestError::BadUdpEvent(self.event))?;
        if self.port == 0 {
            return Err(RequestError::PortZero);
        }
        Ok(AnnounceRequest {
            info_hash: self.info_hash,
            peer_id: self.peer_id,
            port: self.port,
            uploaded: self.uploaded,
            downloaded: self.downloaded,
            left: Some(self.left),
            event,
            numwant: u32::try_from(self.num_want).ok(),
            compact: true,
            no_peer_id: true,
            key: Some(self.key),
            ip: (self.ip != 0 && from_ipv4).then(|| IpAddr::V4(Ipv4Addr::from(self.ip))),
            tracker_id: None,
            supportcrypto: false,
            requirecrypto: false,
        })
    }
}

impl<'a> UdpRequest<'a> {
    /// Parses a request. Bytes after an announce (BEP 41 options) are ignored.
    pub fn parse(b: &'a [u8]) -> Result<UdpRequest<'a>, PacketError> {
        need("request", b, 16)?;
        let connection_id = u64_at(b, 0);
        let transaction_id = u32_at(b, 12);
        match u32_at(b, 8) {
            CONNECT => {
                if connection_id != PROTOCOL_ID {
                    return Err(PacketError::BadProtocolId(connection_id));
                }
                Ok(UdpRequest::Connect { transaction_id })
            }
            ANNOUNCE => {
                need("announce", b, ANNOUNCE_LEN)?;
                Ok(UdpRequest::Announce(UdpAnnounce {
                    connection_id,
                    transaction_id,
                    info_hash: InfoHash(array20(b, 16)),
                    peer_id: PeerId(array20(b, 36)),
                    downloaded: u64_at(b, 56),
                    left: u64_at(b, 64),
                    uploaded: u64_at(b, 72),
                    event: u32_at(b, 80),
                    ip: u32_at(b, 84),
                    key: u32_at(b, 88),
                    num_want: u32_at(b, 92) as i32,
                    port: u16::from_be_bytes([b[96], b[97]]),
                }))
            }
            SCRAPE => {
                let hashes = &b[16..];
                if hashes.is_empty() || hashes.len() % 20 != 0 {
                    return Err(PacketError::BadScrapeLength(hashes.len()));
                }
                Ok(UdpRequest::Scrape {
                    connection_id,
                    transaction_id,
                    info_hashes: hashes,
                })
            }
            other => Err(PacketError::UnknownAction(other)),
        }
    }

    /// Appends the request's bytes to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        match self {
            UdpRequest::Connect { transaction_id } => {
                out.extend_from_slice(&PROTOCOL_ID.to_be_bytes());
                out.extend_from_slice(&CONNECT.to_be_bytes());
                out.extend_from_slice(&transaction_id.to_be_bytes());
            }
            UdpRequest::Announce(a) => {
                out.extend_from_slice(&a.connection_id.to_be_bytes());
                out.extend_from_slice(&ANNOUNCE.to_be_bytes());
                out.extend_from_slice(&a.transaction_id.to_be_bytes());
                out.extend_from_slice(&a.info_hash.0);
                out.extend_from_slice(&a.peer_id.0);
                out.extend_from_slice(&a.downloaded.to_be_bytes());
                out.extend_from_slice(&a.left.to_be_bytes());
                out.extend_from_slice(&a.uploaded.to_be_bytes());
                out.extend_from_slice(&a.event.to_be_bytes());
                out.extend_from_slice(&a.ip.to_be_bytes());
                out.extend_from_slice(&a.key.to_be_bytes());
                out.extend_from_slice(&a.num_want.to_be_bytes());
                out.extend_from_slice(&a.port.to_be_bytes());
            }
            UdpRequest::Scrape {
                connection_id,
                transaction_id,
                info_hashes,
            } => {
                out.extend_from_slice(&connection_id.to_be_bytes());
                out.extend_from_slice(&SCRAPE.to_be_bytes());
                out.extend_from_slice(&transaction_id.to_be_bytes());
                out.extend_from_slice(info_hashes);
            }
        }
    }
}

impl<'a> UdpResponse<'a> {
    /// Parses a reply. `ipv6` says which peer size an announce reply carries (18 bytes over IPv6,
    /// 6 over IPv4), as BEP 15 ties it to the address family of the packet.
    pub fn parse(b: &'a [u8], ipv6: bool) -> Result<UdpResponse<'a>, PacketError> {
        need("reply", b, 8)?;
        let transaction_id = u32_at(b, 4);
        match u32_at(b, 0) {
            CONNECT => {
                need("connect reply", b, 16)?;
                Ok(UdpResponse::Connect {
                    transaction_id,
                    connection_id: u64_at(b, 8),
                })
            }
            ANNOUNCE => {
                need("announce reply", b, 20)?;
                let peers = &b[20..];
                let size = if ipv6 { V6_LEN } else { V4_LEN };
                if peers.len() % size != 0 {
                    return Err(PacketError::BadEntryLength {
                        len: peers.len(),
                        size,
                    });
                }
                Ok(UdpResponse::Announce {
                    transaction_id,
                    interval: u32_at(b, 8),
                    leechers: u32_at(b, 12),
                    seeders: u32_at(b, 16),
                    peers,
                })
            }
            SCRAPE => {
                let entries = &b[8..];
                if entries.len() % 12 != 0 {
                    return Err(PacketError::BadEntryLength {
                        len: entries.len(),
                        size: 12,
                    });
                }
                Ok(UdpResponse::Scrape {
                    transaction_id,
                    entries,
                })
            }
            ERROR => Ok(UdpResponse::Error {
                transaction_id,
                message: &b[8..],
            }),
            other => Err(PacketError::UnknownAction(other)),
        }
    }

    /// Appends the reply's bytes to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        match self {
            UdpResponse::Connect {
                transaction_id,
                connection_id,
            } => {
                out.extend_from_slice(&CONNECT.to_be_bytes());
                out.extend_from_slice(&transaction_id.to_be_bytes());
                out.extend_from_slice(&connection_id.to_be_bytes());
            }
            UdpResponse::Announce {
                transaction_id,
                interval,
                leechers,
                seeders,
                peers,
            } => {
                out.extend_from_slice(&ANNOUNCE.to_be_bytes());
                out.extend_from_slice(&transaction_id.to_be_bytes());
                out.extend_from_slice(&interval.to_be_bytes());
                out.extend_from_slice(&leechers.to_be_bytes());
                out.extend_from_slice(&seeders.to_be_bytes());
                out.extend_from_slice(peers);
            }
            UdpResponse::Scrape {
                transaction_id,
                entries,
            } => {
                out.extend_from_slice(&SCRAPE.to_be_bytes());
                out.extend_from_slice(&transaction_id.to_be_bytes());
                out.extend_from_slice(entries);
            }
            UdpResponse::Error {
                transaction_id,
                message,
            } => {
                out.extend_from_slice(&ERROR.to_be_bytes());
                out.extend_from_slice(&transaction_id.to_be_bytes());
                out.extend_from_slice(message);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn announce() -> impl Strategy<Value = UdpAnnounce> {
        (
            any::<(u64, u32, [u8; 20], [u8; 20], u64, u64, u64)>(),
            any::<(u32, u32, u32, i32, u16)>(),
        )
            .prop_map(|((c, t, h, p, d, l, u), (e, ip, k, n, port))| UdpAnnounce {
                connection_id: c,
                transaction_id: t,
                info_hash: InfoHash(h),
                peer_id: PeerId(p),
                downloaded: d,
                left: l,
                uploaded: u,
                event: e,
                ip,
                key: k,
                num_want: n,
                port,
            })
    }

    proptest! {
        #[test]
        fn announce_round_trips(a in announce(), options in proptest::collection::vec(any::<u8>(), 0..8)) {
            let mut buf = Vec::new();
            UdpRequest::Announce(a.clone()).write(&mut buf);
            prop_assert_eq!(buf.len(), ANNOUNCE_LEN);
            buf.extend_from_slice(&options); // BEP 41 options are ignored
            prop_assert_eq!(UdpRequest::parse(&buf), Ok(UdpRequest::Announce(a)));
        }

        #[test]
        fn connect_and_scrape_round_trip(t in any::<u32>(), c in any::<u64>(), n in 1usize..80) {
            let hashes: Vec<u8> = (0..n * 20).map(|i| i as u8).collect();
            for req in [
                UdpRequest::Connect { transaction_id: t },
                UdpRequest::Scrape { connection_id: c, transaction_id: t, info_hashes: &hashes },
            ] {
                let mut buf = Vec::new();
                req.write(&mut buf);
                prop_assert_eq!(UdpRequest::parse(&buf), Ok(req));
            }
        }

        #[test]
        fn responses_round_trip(t in any::<u32>(), x in any::<(u32, u32, u32, u64)>(),
                                peers in 0usize..60, ipv6 in any::<bool>(),
                                msg in proptest::collection::vec(any::<u8>(), 0..100)) {
            let size = if ipv6 { 18 } else { 6 };
            let peer_bytes: Vec<u8> = (0..peers * size).map(|i| (i * 7) as u8).collect();
            let entries: Vec<u8> = (0..peers * 12).map(|i| i as u8).collect();
            for resp in [
                UdpResponse::Connect { transaction_id: t, connection_id: x.3 },
                UdpResponse::Announce { transaction_id: t, interval: x.0, leechers: x.1, seeders: x.2, peers: &peer_bytes },
                UdpResponse::Scrape { transaction_id: t, entries: &entries },
                UdpResponse::Error { transaction_id: t, message: &msg },
            ] {
                let mut buf = Vec::new();
                resp.write(&mut buf);
                prop_assert_eq!(UdpResponse::parse(&buf, ipv6), Ok(resp));
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = UdpRequest::parse(&bytes);
            let _ = UdpResponse::parse(&bytes, false);
            let _ = UdpResponse::parse(&bytes, true);
        }
    }

    proptest! {
        #[test]
        fn requests_convert_to_packets_and_back(req in crate::announce::tests::request(), c in any::<u64>(), t in any::<u32>()) {
            let packet = UdpAnnounce::from_request(&req, c, t);
            let mut buf = Vec::new();
            UdpRequest::Announce(packet.clone()).write(&mut buf);
            let Ok(UdpRequest::Announce(parsed)) = UdpRequest::parse(&buf) else {
                return Err(TestCaseError::fail("not an announce"));
            };
            prop_assert_eq!(&parsed, &packet);
            let back = parsed.to_request(true).unwrap();
            // What UDP carries comes back as it was; what it cannot carry is settled as documented.
            let v4 = match req.ip { Some(IpAddr::V4(v4)) if !v4.is_unspecified() => Some(IpAddr::V4(v4)), _ => None };
            let want = AnnounceRequest {
                left: Some(req.left.unwrap_or(u64::MAX)),
                event: if req.event == Event::Paused { Event::None } else { req.event },
                numwant: req.numwant.map(|n| n.min(i32::MAX as u32)),
                compact: true,
                no_peer_id: true,
                key: Some(req.key.unwrap_or(0)),
                ip: v4,
                tracker_id: None,
                ..req
            };
            prop_assert_eq!(back, want);
        }
    }

    #[test]
    fn scrape_entries_round_trip_and_must_match_the_hashes() {
        let stats = [
            ScrapeStats {
                info_hash: InfoHash([7; 20]),
                seeders: 1,
                completed: 2,
                leechers: 3,
            },
            ScrapeStats {
                info_hash: InfoHash([8; 20]),
                seeders: 4,
                completed: 1 << 40,
                leechers: 6,
            },
        ];
        let mut entries = Vec::new();
        for s in &stats {
            push_scrape_entry(&mut entries, s);
        }
        let hashes = [InfoHash([7; 20]), InfoHash([8; 20])];
        let back = read_scrape_entries(&entries, &hashes).unwrap();
        assert_eq!(back[0], stats[0]);
        assert_eq!(back[1].completed, u64::from(u32::MAX), "saturated");
        assert_eq!(
            read_scrape_entries(&entries, &hashes[..1])
                .unwrap_err()
                .to_string(),
            "UDP scrape reply has 24 bytes of statistics for 1 info-hashes (expected 12)"
        );
    }

    #[test]
    fn udp_announces_are_checked_like_http_ones() {
        let mut a = UdpAnnounce::from_request(
            &AnnounceRequest::new(InfoHash([1; 20]), PeerId([2; 20]), 0, 5),
            1,
            2,
        );
        assert_eq!(a.to_request(true).unwrap_err().to_string(), "bad port `0`");
        a.port = 1;
        a.event = 4;
        assert_eq!(
            a.to_request(true).unwrap_err().to_string(),
            "bad event 4 (expected 0 to 3)"
        );
        a.event = 0;
        a.ip = u32::from(Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(
            a.to_request(false).unwrap().ip,
            None,
            "ignored for IPv6 clients"
        );
    }

    #[test]
    fn malformed_packets_are_named() {
        assert_eq!(
            UdpRequest::parse(&[0; 10]).unwrap_err().to_string(),
            "request packet too short (10 bytes, need 16)"
        );
        let mut connect = Vec::new();
        UdpRequest::Connect { transaction_id: 5 }.write(&mut connect);
        connect[0] = 9;
        assert!(matches!(
            UdpRequest::parse(&connect),
            Err(PacketError::BadProtocolId(_))
        ));
        let mut short = vec![0u8; 50];
        short[11] = 1;
        assert_eq!(
            UdpRequest::parse(&short).unwrap_err().to_string(),
            "announce packet too short (50 bytes, need 98)"
        );
        let mut scrape = vec![0u8; 16 + 21];
        scrape[11] = 2;
        assert_eq!(
            UdpRequest::parse(&scrape),
            Err(PacketError::BadScrapeLength(21))
        );
        let mut unknown = vec![0u8; 16];
        unknown[11] = 9;
        assert_eq!(
            UdpRequest::parse(&unknown),
            Err(PacketError::UnknownAction(9))
        );
        assert_eq!(transaction_id_of(&unknown), Some(0));
        let mut peers = vec![0u8; 20 + 7];
        peers[3] = 1;
        assert_eq!(
            UdpResponse::parse(&peers, false).unwrap_err().to_string(),
            "bad entry length 7 in reply (not a multiple of 6)"
        );
        assert_eq!(reply_header(&peers), Some((1, 0)));
        assert_eq!(reply_header(&peers[..7]), None);
    }
}
