//! Bencoded tracker replies: announce (compact or dictionary peers), scrape and failure.
//!
//! The compact announce, the common case, is written straight into a byte buffer in canonical
//! order; the others are built as [`torrentkit_bencode::Value`]s and encoded. Tests check that the
//! fast path's bytes equal what the encoder writes.

use std::net::SocketAddr;
use std::time::Duration;

use torrentkit_bencode::{encode_to, Dict, Value};

use crate::id::InfoHash;
use crate::swarm::{PeerList, SwarmStats};

/// The intervals every announce reply carries.
#[derive(Clone, Copy, Debug)]
pub struct Intervals {
    /// `interval`.
    pub interval: Duration,
    /// `min interval`.
    pub min_interval: Duration,
}

fn push_int(out: &mut Vec<u8>, n: impl itoa::Integer) {
    out.push(b'i');
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    out.push(b'e');
}

fn push_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(itoa::Buffer::new().format(bytes.len()).as_bytes());
    out.push(b':');
    out.extend_from_slice(bytes);
}

/// Writes a compact announce reply: `complete`, `downloaded`, `incomplete`, `interval`,
/// `min interval`, `peers` (BEP 23) and, when there are IPv6 peers, `peers6` (BEP 7).
pub fn write_compact(out: &mut Vec<u8>, stats: &SwarmStats, iv: &Intervals, peers: &PeerList) {
    out.reserve(110 + peers.v4.len() + peers.v6.len());
    out.extend_from_slice(b"d8:complete");
    push_int(out, stats.seeders);
    out.extend_from_slice(b"10:downloaded");
    push_int(out, stats.completed);
    out.extend_from_slice(b"10:incomplete");
    push_int(out, stats.leechers);
    out.extend_from_slice(b"8:interval");
    push_int(out, iv.interval.as_secs());
    out.extend_from_slice(b"12:min interval");
    push_int(out, iv.min_interval.as_secs());
    out.extend_from_slice(b"5:peers");
    push_bytes(out, &peers.v4);
    if !peers.v6.is_empty() {
        out.extend_from_slice(b"6:peers6");
        push_bytes(out, &peers.v6);
    }
    out.push(b'e');
}

/// Writes an announce reply whose `peers` is a list of dictionaries (`ip`, `port` and, unless
/// `no_peer_id`, `peer id`), IPv4 and IPv6 peers alike, as the original protocol has it.
pub fn write_dictionary(
    out: &mut Vec<u8>,
    stats: &SwarmStats,
    iv: &Intervals,
    peers: &PeerList,
    no_peer_id: bool,
) {
    let addrs: Vec<(SocketAddr, String)> = peers.addrs().map(|a| (a, a.ip().to_string())).collect();
    let ids = peers.ids4.iter().chain(&peers.ids6);
    let mut list = Vec::with_capacity(addrs.len());
    for ((addr, ip), id) in addrs.iter().zip(ids) {
        let mut d = Dict::new();
        d.insert(b"ip", Value::Bytes(ip.as_bytes()));
        d.insert(b"port", Value::Int(i64::from(addr.port())));
        if !no_peer_id {
            d.insert(b"peer id", Value::Bytes(&id.0));
        }
        list.push(Value::Dict(d));
    }
    let mut d = counts(stats);
    d.insert(b"interval", Value::Int(secs(iv.interval)));
    d.insert(b"min interval", Value::Int(secs(iv.min_interval)));
    d.insert(b"peers", Value::List(list));
    encode_to(&Value::Dict(d), out);
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

fn counts(stats: &SwarmStats) -> Dict<'static> {
    let mut d = Dict::new();
    d.insert(b"complete", Value::Int(i64::from(stats.seeders)));
    d.insert(
        b"downloaded",
        Value::Int(i64::try_from(stats.completed).unwrap_or(i64::MAX)),
    );
    d.insert(b"incomplete", Value::Int(i64::from(stats.leechers)));
    d
}

/// Writes a scrape reply (BEP 48): `files`, a dictionary from info-hash to its counts.
pub fn write_scrape(out: &mut Vec<u8>, files: &[(InfoHash, SwarmStats)]) {
    let mut inner = Dict::new();
    for (hash, stats) in files {
        inner.insert(&hash.0, Value::Dict(counts(stats)));
    }
    let mut d = Dict::new();
    d.insert(b"files", Value::Dict(inner));
    encode_to(&Value::Dict(d), out);
}

/// Writes a failure reply: `failure reason` with the message.
pub fn write_failure(out: &mut Vec<u8>, reason: &str) {
    let mut d = Dict::new();
    d.insert(b"failure reason", Value::Bytes(reason.as_bytes()));
    encode_to(&Value::Dict(d), out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::PeerId;

    fn iv() -> Intervals {
        Intervals {
            interval: Duration::from_secs(1800),
            min_interval: Duration::from_secs(900),
        }
    }

    #[test]
    fn compact_fast_path_equals_the_encoder() {
        let stats = SwarmStats {
            seeders: 3,
            leechers: 12,
            completed: 7,
        };
        for v6 in [false, true] {
            let peers = PeerList {
                v4: vec![127, 0, 0, 1, 0x1a, 0xe1, 10, 0, 0, 2, 0, 80],
                v6: if v6 { vec![0xfe; 18] } else { vec![] },
                ..PeerList::default()
            };
            let mut fast = Vec::new();
            write_compact(&mut fast, &stats, &iv(), &peers);
            let mut d = counts(&stats);
            d.insert(b"interval", Value::Int(1800));
            d.insert(b"min interval", Value::Int(900));
            d.insert(b"peers", Value::Bytes(&peers.v4));
            if v6 {
                d.insert(b"peers6", Value::Bytes(&peers.v6));
            }
            assert_eq!(fast, torrentkit_bencode::encode(&Value::Dict(d)));
            // And it is strict, canonical bencode.
            torrentkit_bencode::decode(&fast).unwrap();
        }
    }

    #[test]
    fn dictionary_peers_carry_ip_port_and_id() {
        let peers = PeerList {
            v4: vec![10, 0, 0, 2, 0, 80],
            v6: [[0u8; 15].as_slice(), &[1, 0x1a, 0xe1]].concat(),
            ids4: vec![PeerId([b'a'; 20])],
            ids6: vec![PeerId([b'b'; 20])],
        };
        let mut out = Vec::new();
        write_dictionary(&mut out, &SwarmStats::default(), &iv(), &peers, false);
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(
            text.contains("d2:ip8:10.0.0.27:peer id20:aaaaaaaaaaaaaaaaaaaa4:porti80ee"),
            "{text}"
        );
        assert!(
            text.contains("d2:ip3:::17:peer id20:bbbbbbbbbbbbbbbbbbbb4:porti6881ee"),
            "{text}"
        );
        out.clear();
        write_dictionary(&mut out, &SwarmStats::default(), &iv(), &peers, true);
        assert!(!String::from_utf8(out).unwrap().contains("peer id"));
    }

    #[test]
    fn failure_and_scrape_shapes() {
        let mut out = Vec::new();
        write_failure(&mut out, "missing port");
        assert_eq!(out, b"d14:failure reason12:missing porte");
        out.clear();
        write_scrape(
            &mut out,
            &[(
                InfoHash([b'x'; 20]),
                SwarmStats {
                    seeders: 1,
                    leechers: 2,
                    completed: 3,
                },
            )],
        );
        assert_eq!(
            out,
            b"d5:filesd20:xxxxxxxxxxxxxxxxxxxxd8:completei1e10:downloadedi3e10:incompletei2eeee"
        );
    }
}
