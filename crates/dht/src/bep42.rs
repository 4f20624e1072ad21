//! BEP 42: node ids tied to the node's external IP address, so that an attacker cannot pick
//! ids next to a target at will.

use std::net::IpAddr;

use crate::id::NodeId;

const V4_MASK: [u8; 4] = [0x03, 0x0f, 0x3f, 0xff];
const V6_MASK: [u8; 8] = [0x01, 0x03, 0x07, 0x0f, 0x1f, 0x3f, 0x7f, 0xff];

/// The 32-bit CRC32-C of the masked address with the three bits of `r`, whose top 21 bits a
/// conforming id starts with.
fn id_crc(ip: IpAddr, r: u8) -> u32 {
    let r = r & 0x07;
    match ip {
        IpAddr::V4(ip) => {
            let mut bytes = ip.octets();
            for (b, m) in bytes.iter_mut().zip(V4_MASK) {
                *b &= m;
            }
            bytes[0] |= r << 5;
            crc32c::crc32c(&bytes)
        }
        IpAddr::V6(ip) => {
            let mut bytes: [u8; 8] = ip.octets()[..8].try_into().expect("16 bytes hold 8");
            for (b, m) in bytes.iter_mut().zip(V6_MASK) {
                *b &= m;
            }
            bytes[0] |= r << 5;
            crc32c::crc32c(&bytes)
        }
    }
}

/// A node id that conforms to BEP 42 for `ip`: its first 21 bits come from the CRC32-C of the
/// masked address, its last byte is `r`, and the other bits are taken from `random`.
pub fn id_for_ip(ip: IpAddr, r: u8, random: &NodeId) -> NodeId {
    let crc = id_crc(ip, r);
    let mut id = random.0;
    id[0] = (crc >> 24) as u8;
    id[1] = (crc >> 16) as u8;
    id[2] = ((crc >> 8) as u8 & 0xf8) | (random.0[2] & 0x07);
    id[19] = r;
    NodeId(id)
}

/// True when `id` conforms to BEP 42 for `ip`, or when `ip` is exempt ([`is_exempt`]).
pub fn id_matches_ip(id: &NodeId, ip: IpAddr) -> bool {
    if is_exempt(ip) {
        return true;
    }
    let crc = id_crc(ip, id.0[19]);
    id.0[0] == (crc >> 24) as u8
        && id.0[1] == (crc >> 16) as u8
        && (id.0[2] & 0xf8) == ((crc >> 8) as u8 & 0xf8)
}

/// Addresses the BEP 42 rule does not apply to, as in libtorrent: loopback, private (RFC 1918,
/// IPv6 unique-local), link-local and unspecified addresses. Nodes there cannot know a public
/// address to derive their id from.
pub fn is_exempt(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => {
            ip.is_loopback() || ip.is_private() || ip.is_link_local() || ip.is_unspecified()
        }
        IpAddr::V6(ip) => {
            let first = ip.segments()[0];
            ip.is_loopback()
                || ip.is_unspecified()
                || (first & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (first & 0xffc0) == 0xfe80 // link local fe80::/10
                || ip.to_ipv4_mapped().is_some_and(|v4| is_exempt(IpAddr::V4(v4)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> NodeId {
        let mut id = [0; 20];
        for (i, byte) in id.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
        }
        NodeId(id)
    }

    /// The table of BEP 42 ("IP / rand / Node ID").
    const VECTORS: [(&str, u8, &str); 5] = [
        (
            "124.31.75.21",
            1,
            "5fbfbff10c5d6a4ec8a88e4c6ab4c28b95eee401",
        ),
        (
            "21.75.31.124",
            86,
            "5a3ce9c14e7a08645677bbd1cfe7d8f956d53256",
        ),
        (
            "65.23.51.170",
            22,
            "a5d43220bc8f112a3d426c84764f8c2a1150e616",
        ),
        (
            "84.124.73.14",
            65,
            "1b0321dd1bb1fe518101ceef99462b947a01ff41",
        ),
        (
            "43.213.53.83",
            90,
            "e56f6cbf5b7c4be0237986d5243b87aa6d51305a",
        ),
    ];

    #[test]
    fn bep42_vectors_conform_and_are_reproduced() {
        for (ip, r, id) in VECTORS {
            let (ip, id): (IpAddr, _) = (ip.parse().unwrap(), hex(id));
            assert!(id_matches_ip(&id, ip), "{ip}");
            // Generating from the vector's own random bits gives the vector back.
            assert_eq!(id_for_ip(ip, r, &id), id, "{ip}");
        }
    }

    #[test]
    fn a_random_id_does_not_conform_but_a_generated_one_does() {
        let ip: IpAddr = "124.31.75.21".parse().unwrap();
        let random = hex("00000000000000000000000000000000000000ff");
        assert!(!id_matches_ip(&random, ip));
        let other: IpAddr = "21.75.31.124".parse().unwrap();
        assert!(!id_matches_ip(&hex(VECTORS[0].2), other));
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert!(id_matches_ip(&id_for_ip(v6, 7, &random), v6));
        assert!(!id_matches_ip(&random, v6));
    }

    #[test]
    fn local_addresses_are_exempt() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.1.1",
            "172.16.0.9",
            "169.254.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(is_exempt(ip), "{ip}");
            assert!(id_matches_ip(&NodeId([0; 20]), ip), "{ip}");
        }
        assert!(!is_exempt("8.8.8.8".parse().unwrap()));
    }
}
