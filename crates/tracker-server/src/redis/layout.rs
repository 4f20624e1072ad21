//! The Redis key layout and the peer record, plain code: what the scripts read and write, and
//! how a reply's records become a [`PeerList`]. Every key of one swarm carries the hash tag
//! `{<info-hash hex>}`, so that a swarm lives in one Redis Cluster slot and its script may touch
//! all of its keys; the index of swarms is the only key outside a swarm.

use std::net::SocketAddr;

use torrentkit_tracker_proto::compact::Compact;
use torrentkit_tracker_proto::InfoHash;

use crate::swarm::PeerList;
use torrentkit_tracker_proto::PeerId;

/// The index of swarms: a sorted set from info-hash (hex) to its last announce (Unix seconds).
pub(crate) const INDEX: &str = "tk:swarms";

/// The four keys of one swarm, in the order the scripts take them: seeders, leechers, peers,
/// completed.
pub(crate) fn swarm_keys(hash: &InfoHash) -> [String; 4] {
    let hex = hash.to_hex();
    ["s", "l", "p", "d"].map(|k| format!("tk:{{{hex}}}:{k}"))
}

/// Record flag: the peer announced a `key`.
const HAS_KEY: u8 = 1;

/// A stored peer: one flags byte, the announce key (4 bytes, big-endian, zero without one), then
/// the compact address (6 bytes for IPv4, 18 for IPv6, as BEP 23 and BEP 7 send it).
pub(crate) fn record(addr: SocketAddr, key: Option<u32>) -> Vec<u8> {
    let mut r = Vec::with_capacity(23);
    r.push(if key.is_some() { HAS_KEY } else { 0 });
    r.extend_from_slice(&key.unwrap_or(0).to_be_bytes());
    match Compact::of(addr) {
        Compact::V4(c) => r.extend_from_slice(&c),
        Compact::V6(c) => r.extend_from_slice(&c),
    }
    r
}

/// Adds one peer of a script's reply to `out`: a sorted-set member, the peer id (20 bytes) then
/// its compact address; by family (only the requester's family unless `both_families`), with its
/// id when `with_ids`. Returns `false` for a member that is not one of ours (wrong length), which
/// is skipped.
pub(crate) fn push_peer(
    out: &mut PeerList,
    member: &[u8],
    v6_requester: bool,
    both_families: bool,
    with_ids: bool,
) -> bool {
    let Some((id, addr)) = member.split_first_chunk::<20>() else {
        return false;
    };
    let (list, ids, v6) = match addr.len() {
        6 => (&mut out.v4, &mut out.ids4, false),
        18 => (&mut out.v6, &mut out.ids6, true),
        _ => return false,
    };
    if v6 != v6_requester && !both_families {
        return true;
    }
    list.extend_from_slice(addr);
    if with_ids {
        ids.push(PeerId(*id));
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_share_one_hash_tag_per_swarm() {
        let keys = swarm_keys(&InfoHash([0xab; 20]));
        let tag = format!("{{{}}}", "ab".repeat(20));
        for k in &keys {
            assert!(k.contains(&tag), "{k}");
            // Redis Cluster hashes only what is between the first `{` and the next `}`.
            assert_eq!(k.matches('{').count(), 1);
        }
        assert_eq!(keys[0], format!("tk:{tag}:s"));
    }

    #[test]
    fn records_carry_key_and_address_and_come_back_as_peers() {
        let r4 = record("10.0.0.1:6881".parse().unwrap(), Some(7));
        assert_eq!(r4, [1, 0, 0, 0, 7, 10, 0, 0, 1, 0x1a, 0xe1]);
        let r6 = record("[2001:db8::1]:80".parse().unwrap(), None);
        assert_eq!((r6.len(), r6[0]), (23, 0));
        let member = |id: u8, rec: &[u8]| [&[id; 20][..], &rec[5..]].concat();
        let mut out = PeerList::default();
        assert!(push_peer(&mut out, &member(1, &r4), false, true, true));
        assert!(push_peer(&mut out, &member(2, &r6), false, false, true));
        assert!(!push_peer(&mut out, &[3; 27], false, true, true));
        assert!(!push_peer(&mut out, &[3; 19], false, true, true));
        assert_eq!(out.v4, [10, 0, 0, 1, 0x1a, 0xe1]);
        assert!(
            out.v6.is_empty(),
            "UDP replies carry the requester's family only"
        );
        assert_eq!(out.ids4, [PeerId([1; 20])]);
        push_peer(&mut out, &member(2, &r6), false, true, false);
        assert_eq!(out.v6.len(), 18);
    }
}
