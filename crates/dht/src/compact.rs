//! The compact formats of BEP 5 and BEP 32: peers as 6 or 18 bytes (address, port), nodes as
//! 26 or 38 bytes (id, address, port).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use crate::id::NodeId;

/// A node as the DHT passes it around: its id and its UDP address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NodeInfo {
    /// The node's id.
    pub id: NodeId,
    /// Where it listens.
    pub addr: SocketAddr,
}

/// The length of a compact IPv4 peer (`values`, BEP 5).
pub const PEER_V4_LEN: usize = 6;
/// The length of a compact IPv6 peer (`values`, BEP 32).
pub const PEER_V6_LEN: usize = 18;
/// The length of a compact IPv4 node (`nodes`, BEP 5).
pub const NODE_V4_LEN: usize = 26;
/// The length of a compact IPv6 node (`nodes6`, BEP 32).
pub const NODE_V6_LEN: usize = 38;

/// Appends the compact form of `addr`: 4 or 16 address bytes, then the port, big-endian.
pub fn put_peer(addr: &SocketAddr, out: &mut Vec<u8>) {
    match addr.ip() {
        IpAddr::V4(ip) => out.extend_from_slice(&ip.octets()),
        IpAddr::V6(ip) => out.extend_from_slice(&ip.octets()),
    }
    out.extend_from_slice(&addr.port().to_be_bytes());
}

/// The compact form of `addr` as a new vector.
pub fn peer_bytes(addr: &SocketAddr) -> Vec<u8> {
    let mut out = Vec::with_capacity(PEER_V6_LEN);
    put_peer(addr, &mut out);
    out
}

/// Reads a compact peer of 6 (IPv4) or 18 (IPv6) bytes; `None` for any other length.
pub fn parse_peer(bytes: &[u8]) -> Option<SocketAddr> {
    match bytes.len() {
        PEER_V4_LEN => {
            let ip: [u8; 4] = bytes[..4].try_into().ok()?;
            let port = u16::from_be_bytes([bytes[4], bytes[5]]);
            Some(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(ip), port)))
        }
        PEER_V6_LEN => {
            let ip: [u8; 16] = bytes[..16].try_into().ok()?;
            let port = u16::from_be_bytes([bytes[16], bytes[17]]);
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(ip),
                port,
                0,
                0,
            )))
        }
        _ => None,
    }
}

/// Appends the compact form of `node`: its id, then its compact address.
pub fn put_node(node: &NodeInfo, out: &mut Vec<u8>) {
    out.extend_from_slice(&node.id.0);
    put_peer(&node.addr, out);
}

/// Reads a `nodes` (`v6 == false`, 26-byte entries) or `nodes6` (38-byte entries) string.
/// `None` when its length is not a multiple of the entry size.
pub fn parse_nodes(bytes: &[u8], v6: bool) -> Option<Vec<NodeInfo>> {
    let len = if v6 { NODE_V6_LEN } else { NODE_V4_LEN };
    if bytes.len() % len != 0 {
        return None;
    }
    bytes
        .chunks_exact(len)
        .map(|chunk| {
            Some(NodeInfo {
                id: NodeId::from_slice(&chunk[..20])?,
                addr: parse_peer(&chunk[20..])?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn any_addr() -> impl Strategy<Value = SocketAddr> {
        prop_oneof![
            (any::<[u8; 4]>(), any::<u16>()).prop_map(|(ip, port)| SocketAddr::from((ip, port))),
            (any::<[u8; 16]>(), any::<u16>())
                .prop_map(|(ip, port)| SocketAddr::from((Ipv6Addr::from(ip), port))),
        ]
    }

    proptest! {
        #[test]
        fn peers_round_trip(addr in any_addr()) {
            prop_assert_eq!(parse_peer(&peer_bytes(&addr)), Some(addr));
        }

        #[test]
        fn nodes_round_trip(ids in proptest::collection::vec(any::<[u8; 20]>(), 0..8),
                            v6 in any::<bool>(), port in any::<u16>()) {
            let nodes: Vec<NodeInfo> = ids.iter().map(|id| NodeInfo {
                id: NodeId(*id),
                addr: if v6 {
                    SocketAddr::from((Ipv6Addr::from([id[0]; 16]), port))
                } else {
                    SocketAddr::from(([id[1]; 4], port))
                },
            }).collect();
            let mut bytes = Vec::new();
            for node in &nodes {
                put_node(node, &mut bytes);
            }
            prop_assert_eq!(parse_nodes(&bytes, v6), Some(nodes));
        }
    }

    #[test]
    fn wrong_lengths_are_refused() {
        assert_eq!(parse_peer(&[1, 2, 3, 4, 5]), None);
        assert_eq!(parse_nodes(&[0; 27], false), None);
        assert_eq!(parse_nodes(&[0; 26], true), None);
    }
}
