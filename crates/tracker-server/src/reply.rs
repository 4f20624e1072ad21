//! Bencoded tracker replies from the store's types: announce (compact or dictionary peers),
//! scrape and failure. The encoding itself is torrentkit-tracker-proto's; this maps
//! [`SwarmStats`] and [`PeerList`] onto it. The compact announce, the common case, is written
//! straight into the caller's buffer without allocating.

use std::time::Duration;

use torrentkit_tracker_proto::{AnnounceCounts, DictionaryPeer, InfoHash, ScrapeStats};

pub use torrentkit_tracker_proto::write_failure;

use crate::swarm::{PeerList, SwarmStats};

/// The intervals every announce reply carries.
#[derive(Clone, Copy, Debug)]
pub struct Intervals {
    /// `interval`.
    pub interval: Duration,
    /// `min interval`.
    pub min_interval: Duration,
}

fn counts(stats: &SwarmStats, iv: &Intervals) -> AnnounceCounts {
    AnnounceCounts {
        seeders: stats.seeders,
        leechers: stats.leechers,
        completed: stats.completed,
        interval: iv.interval,
        min_interval: iv.min_interval,
    }
}

/// Writes a compact announce reply: `complete`, `downloaded`, `incomplete`, `interval`,
/// `min interval`, `peers` (BEP 23) and, when there are IPv6 peers, `peers6` (BEP 7).
pub fn write_compact(out: &mut Vec<u8>, stats: &SwarmStats, iv: &Intervals, peers: &PeerList) {
    torrentkit_tracker_proto::write_compact_announce(out, &counts(stats, iv), &peers.v4, &peers.v6);
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
    let ids = peers.ids4.iter().chain(&peers.ids6);
    let list: Vec<DictionaryPeer> = peers
        .addrs()
        .zip(ids)
        .map(|(addr, id)| DictionaryPeer {
            addr,
            peer_id: (!no_peer_id).then_some(*id),
        })
        .collect();
    torrentkit_tracker_proto::write_dictionary_announce(out, &counts(stats, iv), &list);
}

/// Writes a scrape reply (BEP 48): `files`, a dictionary from info-hash to its counts.
pub fn write_scrape(out: &mut Vec<u8>, files: &[(InfoHash, SwarmStats)]) {
    let files: Vec<ScrapeStats> = files
        .iter()
        .map(|(info_hash, s)| ScrapeStats {
            info_hash: *info_hash,
            seeders: s.seeders,
            completed: s.completed,
            leechers: s.leechers,
        })
        .collect();
    torrentkit_tracker_proto::write_scrape_reply(out, &files);
}

#[cfg(test)]
mod tests {
    use super::*;
    use torrentkit_tracker_proto::PeerId;

    fn iv() -> Intervals {
        Intervals {
            interval: Duration::from_secs(1800),
            min_interval: Duration::from_secs(900),
        }
    }

    #[test]
    fn compact_reply_carries_the_store_counts() {
        let stats = SwarmStats {
            seeders: 3,
            leechers: 12,
            completed: 7,
        };
        let peers = PeerList {
            v4: vec![127, 0, 0, 1, 0x1a, 0xe1],
            v6: vec![0xfe; 18],
            ..PeerList::default()
        };
        let mut out = Vec::new();
        write_compact(&mut out, &stats, &iv(), &peers);
        let mut want = b"d8:completei3e10:downloadedi7e10:incompletei12e8:intervali1800e12:min intervali900e5:peers6:".to_vec();
        want.extend_from_slice(&peers.v4);
        want.extend_from_slice(b"6:peers618:");
        want.extend_from_slice(&peers.v6);
        want.push(b'e');
        assert_eq!(out, want);
    }

    #[test]
    fn dictionary_peers_pair_addresses_with_ids_unless_told_not_to() {
        let peers = PeerList {
            v4: vec![10, 0, 0, 2, 0, 80],
            v6: [[0u8; 15].as_slice(), &[1, 0x1a, 0xe1]].concat(),
            ids4: vec![PeerId([b'a'; 20])],
            ids6: vec![PeerId([b'b'; 20])],
        };
        let counts = counts(&SwarmStats::default(), &iv());
        for no_peer_id in [false, true] {
            let mut out = Vec::new();
            write_dictionary(&mut out, &SwarmStats::default(), &iv(), &peers, no_peer_id);
            let list = [
                DictionaryPeer {
                    addr: "10.0.0.2:80".parse().unwrap(),
                    peer_id: (!no_peer_id).then_some(PeerId([b'a'; 20])),
                },
                DictionaryPeer {
                    addr: "[::1]:6881".parse().unwrap(),
                    peer_id: (!no_peer_id).then_some(PeerId([b'b'; 20])),
                },
            ];
            let mut want = Vec::new();
            torrentkit_tracker_proto::write_dictionary_announce(&mut want, &counts, &list);
            assert_eq!(out, want, "no_peer_id {no_peer_id}");
        }
    }

    #[test]
    fn scrape_carries_each_torrents_counts() {
        let stats = SwarmStats {
            seeders: 1,
            leechers: 2,
            completed: 3,
        };
        let mut out = Vec::new();
        write_scrape(&mut out, &[(InfoHash([b'x'; 20]), stats)]);
        let mut want = Vec::new();
        torrentkit_tracker_proto::write_scrape_reply(
            &mut want,
            &[ScrapeStats {
                info_hash: InfoHash([b'x'; 20]),
                seeders: 1,
                completed: 3,
                leechers: 2,
            }],
        );
        assert_eq!(out, want);
    }
}
