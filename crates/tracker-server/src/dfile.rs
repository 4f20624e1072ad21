//! The dfile: every swarm with its peers and completed count, saved so that a restarted tracker
//! "makes everything start working again immediately". This is the format only, plain code with
//! the time passed in ([`snapshot`], [`restore`]); reading and writing the file is
//! `dfile_io.rs`'s work.
//!
//! The file is bencode:
//! `d5:savedi<unix seconds>e6:swarmsd20:<info-hash>d9:completedi<n>e5:peers<records>e...e7:versioni1ee`
//! where `peers` is one byte string of fixed-size records, each
//! `family (4 or 6) | IP (4 or 16) | port (2) | peer id (20) | flags (1: seeder, has key) | key (4) | age (4)`,
//! big-endian, with `age` the seconds since the peer's last announce when the file was saved.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Instant;

use torrentkit_bencode::Value;

use crate::store::{SavedPeer, Store};
use crate::swarm::Peer;
use torrentkit_tracker_proto::{InfoHash, PeerId};

const VERSION: i64 = 1;

/// Why a dfile's contents cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DfileError {
    /// What is wrong, and where.
    pub reason: String,
}

impl fmt::Display for DfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "corrupt dfile: {}", self.reason)
    }
}

impl std::error::Error for DfileError {}

fn bad(reason: impl Into<String>) -> DfileError {
    DfileError {
        reason: reason.into(),
    }
}

fn push_record<const N: usize>(out: &mut Vec<u8>, p: &Peer<N>, now: u32) {
    let ip_len = N - 2;
    out.push(if ip_len == 4 { 4 } else { 6 });
    out.extend_from_slice(&p.compact);
    out.extend_from_slice(&p.id.0);
    out.push(u8::from(p.seeder) | (u8::from(p.key().is_some()) << 1));
    out.extend_from_slice(&p.key().unwrap_or(0).to_be_bytes());
    out.extend_from_slice(&now.saturating_sub(p.last_seen).to_be_bytes());
}

/// Encodes every swarm of `store` as of `now`, stamped with `unix_now` (seconds since 1970).
pub fn snapshot(store: &Store, now: Instant, unix_now: u64) -> Vec<u8> {
    let clock = store.secs(now);
    let mut swarms: Vec<(InfoHash, u64, Vec<u8>)> = Vec::new();
    for i in 0..store.shard_count() {
        let shard = store.lock(i);
        for (hash, swarm) in &shard.swarms {
            let mut records = Vec::with_capacity(swarm.v4.len() * 36 + swarm.v6.len() * 48);
            for p in &swarm.v4 {
                push_record(&mut records, p, clock);
            }
            for p in &swarm.v6 {
                push_record(&mut records, p, clock);
            }
            swarms.push((*hash, swarm.completed, records));
        }
    }
    swarms.sort_unstable_by_key(|s| s.0);
    let mut out = Vec::with_capacity(64 + swarms.iter().map(|s| s.2.len() + 64).sum::<usize>());
    out.extend_from_slice(b"d5:savedi");
    out.extend_from_slice(unix_now.to_string().as_bytes());
    out.extend_from_slice(b"e6:swarmsd");
    for (hash, completed, records) in &swarms {
        out.extend_from_slice(b"20:");
        out.extend_from_slice(&hash.0);
        out.extend_from_slice(b"d9:completedi");
        out.extend_from_slice(completed.to_string().as_bytes());
        out.extend_from_slice(b"e5:peers");
        out.extend_from_slice(records.len().to_string().as_bytes());
        out.push(b':');
        out.extend_from_slice(records);
        out.push(b'e');
    }
    out.extend_from_slice(b"e7:versioni1ee");
    out
}

/// What a restore put back.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Restored {
    /// Torrents with at least one live peer.
    pub torrents: usize,
    /// Peers restored (those not expired in the meantime).
    pub peers: usize,
}

/// Puts the swarms of a dfile back into `store`. Peers whose age, plus the time since the file
/// was saved, exceeds the store's peer timeout are left out. Nothing is restored unless the whole
/// file is valid.
pub fn restore(
    store: &Store,
    bytes: &[u8],
    now: Instant,
    unix_now: u64,
) -> Result<Restored, DfileError> {
    let value = torrentkit_bencode::decode(bytes).map_err(|e| bad(e.to_string()))?;
    let top = value
        .as_dict()
        .ok_or_else(|| bad("top level is not a dictionary"))?;
    match top.get(b"version").and_then(Value::as_int) {
        Some(VERSION) => {}
        Some(v) => return Err(bad(format!("unknown version {v}"))),
        None => return Err(bad("no `version`")),
    }
    let saved = top
        .get(b"saved")
        .and_then(Value::as_int)
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(|| bad("no `saved` time"))?;
    let downtime = u32::try_from(unix_now.saturating_sub(saved)).unwrap_or(u32::MAX);
    let swarms = top
        .get(b"swarms")
        .and_then(Value::as_dict)
        .ok_or_else(|| bad("no `swarms` dictionary"))?;
    // Validate everything first, so that a bad file restores nothing.
    let mut parsed = Vec::with_capacity(swarms.len());
    for (key, swarm) in swarms.iter() {
        let hash: [u8; 20] = key
            .try_into()
            .map_err(|_| bad(format!("swarm key of {} bytes, not 20", key.len())))?;
        let hash = InfoHash(hash);
        let d = swarm
            .as_dict()
            .ok_or_else(|| bad(format!("swarm {hash} is not a dictionary")))?;
        let completed = d
            .get(b"completed")
            .and_then(Value::as_int)
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| bad(format!("swarm {hash}: bad `completed`")))?;
        let records = d
            .get(b"peers")
            .and_then(Value::as_bytes)
            .ok_or_else(|| bad(format!("swarm {hash}: no `peers`")))?;
        let peers = parse_records(records).map_err(|at| {
            bad(format!(
                "swarm {hash}: bad peer record at byte {at} of `peers`"
            ))
        })?;
        parsed.push((hash, completed, peers));
    }
    let timeout = u32::try_from(store.limits().peer_timeout.as_secs()).unwrap_or(u32::MAX);
    let mut restored = Restored::default();
    for (hash, completed, peers) in parsed {
        let mut any = false;
        for r in peers {
            let age = r.age.saturating_add(downtime);
            if age > timeout {
                continue;
            }
            store.restore(&hash, &SavedPeer { age, ..r }, now);
            restored.peers += 1;
            any = true;
        }
        if any {
            store.restore_completed(&hash, completed);
            restored.torrents += 1;
        }
    }
    Ok(restored)
}

fn parse_records(mut b: &[u8]) -> Result<Vec<SavedPeer>, usize> {
    let total = b.len();
    let mut out = Vec::new();
    while !b.is_empty() {
        let at = total - b.len();
        let ip_len = match b[0] {
            4 => 4,
            6 => 16,
            _ => return Err(at),
        };
        let len = 1 + ip_len + 2 + 20 + 1 + 4 + 4;
        if b.len() < len {
            return Err(at);
        }
        let r = &b[1..len];
        let ip = if ip_len == 4 {
            IpAddr::V4(Ipv4Addr::new(r[0], r[1], r[2], r[3]))
        } else {
            let mut o = [0u8; 16];
            o.copy_from_slice(&r[..16]);
            IpAddr::V6(Ipv6Addr::from(o))
        };
        let r = &r[ip_len..];
        let port = u16::from_be_bytes([r[0], r[1]]);
        let mut id = [0u8; 20];
        id.copy_from_slice(&r[2..22]);
        let flags = r[22];
        let key = u32::from_be_bytes([r[23], r[24], r[25], r[26]]);
        let age = u32::from_be_bytes([r[27], r[28], r[29], r[30]]);
        out.push(SavedPeer {
            addr: SocketAddr::new(ip, port),
            id: PeerId(id),
            seeder: flags & 1 != 0,
            key: (flags & 2 != 0).then_some(key),
            age,
        });
        b = &b[len..];
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Announce, StoreLimits};
    use crate::swarm::PeerList;
    use std::time::Duration;
    use torrentkit_tracker_proto::{AnnounceRequest, Event};

    fn store(now: Instant) -> Store {
        Store::new(
            StoreLimits {
                peer_timeout: Duration::from_secs(600),
                max_peers_per_torrent: 100,
                max_torrents: 100,
                shards: 8,
            },
            now,
        )
    }

    fn announce(s: &Store, hash: u8, peer: u8, addr: &str, left: u64, event: Event, now: Instant) {
        let r = AnnounceRequest {
            info_hash: InfoHash([hash; 20]),
            peer_id: PeerId([peer; 20]),
            port: 1,
            uploaded: 0,
            downloaded: 0,
            left: Some(left),
            event,
            numwant: None,
            compact: true,
            no_peer_id: false,
            key: Some(u32::from(peer)),
            ip: None,
            tracker_id: None,
            supportcrypto: false,
            requirecrypto: false,
        };
        let a = Announce {
            request: &r,
            addr: addr.parse().unwrap(),
            numwant: 50,
            both_families: true,
            with_ids: true,
        };
        s.announce(&a, now, &mut PeerList::default()).unwrap();
    }

    #[test]
    fn round_trip_keeps_peers_counts_and_ages() {
        let t0 = Instant::now();
        let a = store(t0);
        announce(&a, 1, 1, "10.0.0.1:6881", 0, Event::Completed, t0);
        announce(
            &a,
            1,
            2,
            "[2001:db8::2]:6882",
            9,
            Event::Started,
            t0 + Duration::from_secs(100),
        );
        announce(
            &a,
            2,
            3,
            "10.0.0.3:6883",
            9,
            Event::Started,
            t0 + Duration::from_secs(100),
        );
        let bytes = snapshot(&a, t0 + Duration::from_secs(200), 5_000);
        torrentkit_bencode::decode(&bytes).expect("strict, canonical bencode");

        let t1 = Instant::now();
        let b = store(t1);
        // 300 s of downtime: peer 1 (age 200 + 300) survives, all do.
        let r = restore(&b, &bytes, t1, 5_300).unwrap();
        assert_eq!(
            r,
            Restored {
                torrents: 2,
                peers: 3
            }
        );
        assert_eq!(a.totals(), b.totals());
        assert_eq!(b.scrape(&InfoHash([1; 20])).completed, 1);
        // Peer 1 was last seen 500 s ago; 101 s more and it expires (timeout 600), the others not.
        assert_eq!(b.expire(t1 + Duration::from_secs(101)), (1, 0));

        // A longer downtime drops peer 1 at once.
        let c = store(t1);
        assert_eq!(
            restore(&c, &bytes, t1, 5_450).unwrap(),
            Restored {
                torrents: 2,
                peers: 2
            }
        );
    }

    #[test]
    fn corrupt_files_restore_nothing_and_say_why() {
        let t0 = Instant::now();
        let s = store(t0);
        let cases: &[(&[u8], &str)] = &[
            (b"not bencode", "corrupt dfile: bencode:"),
            (b"d7:versioni2ee", "corrupt dfile: unknown version 2"),
            (b"d5:savedi1e6:swarmsd3:abcdee7:versioni1ee", "corrupt dfile: swarm key of 3 bytes, not 20"),
            (
                b"d5:savedi1e6:swarmsd20:aaaaaaaaaaaaaaaaaaaad9:completedi0e5:peers3:\x04\x01\x02ee7:versioni1ee",
                "bad peer record at byte 0",
            ),
        ];
        for (bytes, want) in cases {
            let err = restore(&s, bytes, t0, 1).unwrap_err().to_string();
            assert!(err.contains(want), "{err}");
        }
        assert_eq!(s.totals().torrents, 0);
    }
}
