//! Compact peers: 6 bytes per IPv4 peer (BEP 23), 18 per IPv6 peer (BEP 7), address then port,
//! big-endian. Trackers store and send them as is; clients read them back.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The size of one compact IPv4 peer.
pub const V4_LEN: usize = 6;
/// The size of one compact IPv6 peer.
pub const V6_LEN: usize = 18;

/// The compact form of one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compact {
    /// An IPv4 peer (also an IPv4-mapped IPv6 address, which is an IPv4 peer on the wire).
    V4([u8; V4_LEN]),
    /// An IPv6 peer.
    V6([u8; V6_LEN]),
}

impl Compact {
    /// The compact form of `addr`; an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is written as
    /// the IPv4 peer it is, so that IPv4 clients can reach it.
    pub fn of(addr: SocketAddr) -> Compact {
        let port = addr.port().to_be_bytes();
        match addr.ip() {
            IpAddr::V4(ip) => {
                let o = ip.octets();
                Compact::V4([o[0], o[1], o[2], o[3], port[0], port[1]])
            }
            IpAddr::V6(ip) => {
                if let Some(v4) = ip.to_ipv4_mapped() {
                    return Compact::of(SocketAddr::new(IpAddr::V4(v4), addr.port()));
                }
                let mut c = [0u8; V6_LEN];
                c[..16].copy_from_slice(&ip.octets());
                c[16..].copy_from_slice(&port);
                Compact::V6(c)
            }
        }
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Compact::V4(b) => b,
            Compact::V6(b) => b,
        }
    }
}

/// A run of compact peers whose length is not a multiple of the peer size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompactError {
    /// Where the run was (`peers`, `peers6`, or a UDP reply).
    pub field: &'static str,
    /// Its length.
    pub len: usize,
    /// The size of one peer (6 or 18).
    pub size: usize,
}

impl fmt::Display for CompactError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "compact `{}` of {} bytes is not a multiple of {}",
            self.field, self.len, self.size
        )
    }
}

impl std::error::Error for CompactError {}

fn v4_at(c: &[u8]) -> SocketAddr {
    SocketAddr::new(
        Ipv4Addr::new(c[0], c[1], c[2], c[3]).into(),
        u16::from_be_bytes([c[4], c[5]]),
    )
}

fn v6_at(c: &[u8]) -> SocketAddr {
    let mut ip = [0u8; 16];
    ip.copy_from_slice(&c[..16]);
    SocketAddr::new(
        Ipv6Addr::from(ip).into(),
        u16::from_be_bytes([c[16], c[17]]),
    )
}

/// The IPv4 peers of `bytes`, 6 bytes each (a trailing partial peer is skipped; use
/// [`decode_v4`] to refuse it).
pub fn iter_v4(bytes: &[u8]) -> impl Iterator<Item = SocketAddr> + '_ {
    bytes.chunks_exact(V4_LEN).map(v4_at)
}

/// The IPv6 peers of `bytes`, 18 bytes each (a trailing partial peer is skipped).
pub fn iter_v6(bytes: &[u8]) -> impl Iterator<Item = SocketAddr> + '_ {
    bytes.chunks_exact(V6_LEN).map(v6_at)
}

/// Reads 6-byte IPv4 peers; `field` names the run in the error.
pub fn decode_v4(bytes: &[u8], field: &'static str) -> Result<Vec<SocketAddr>, CompactError> {
    check(bytes, field, V4_LEN)?;
    Ok(iter_v4(bytes).collect())
}

/// Reads 18-byte IPv6 peers; `field` names the run in the error.
pub fn decode_v6(bytes: &[u8], field: &'static str) -> Result<Vec<SocketAddr>, CompactError> {
    check(bytes, field, V6_LEN)?;
    Ok(iter_v6(bytes).collect())
}

fn check(bytes: &[u8], field: &'static str, size: usize) -> Result<(), CompactError> {
    if bytes.len() % size != 0 {
        return Err(CompactError {
            field,
            len: bytes.len(),
            size,
        });
    }
    Ok(())
}

/// Appends the compact forms of `peers`: IPv4 ones to `v4`, IPv6 ones to `v6`.
pub fn encode(peers: &[SocketAddr], v4: &mut Vec<u8>, v6: &mut Vec<u8>) {
    for &p in peers {
        match Compact::of(p) {
            Compact::V4(b) => v4.extend_from_slice(&b),
            Compact::V6(b) => v6.extend_from_slice(&b),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_bytes_and_mapped_addresses() {
        let a: SocketAddr = "10.0.0.1:6881".parse().unwrap();
        assert_eq!(Compact::of(a), Compact::V4([10, 0, 0, 1, 0x1a, 0xe1]));
        let mapped: SocketAddr = "[::ffff:10.0.0.1]:6881".parse().unwrap();
        assert_eq!(Compact::of(mapped), Compact::of(a));
        let v6: SocketAddr = "[::1]:80".parse().unwrap();
        assert_eq!(Compact::of(v6).as_bytes().len(), 18);
        assert_eq!(
            decode_v4(&[1, 2, 3], "peers").unwrap_err().to_string(),
            "compact `peers` of 3 bytes is not a multiple of 6"
        );
        assert_eq!(
            decode_v6(&[0; 19], "peers6").unwrap_err().to_string(),
            "compact `peers6` of 19 bytes is not a multiple of 18"
        );
    }

    /// Any IPv4 or IPv6 peer address (not IPv4-mapped, which is written as the IPv4 peer).
    pub(crate) fn addr() -> impl Strategy<Value = SocketAddr> {
        prop_oneof![
            any::<([u8; 4], u16)>().prop_map(|(ip, port)| SocketAddr::from((ip, port))),
            any::<([u8; 16], u16)>()
                .prop_filter("not IPv4-mapped", |(ip, _)| Ipv6Addr::from(*ip)
                    .to_ipv4_mapped()
                    .is_none())
                .prop_map(|(ip, port)| SocketAddr::from((Ipv6Addr::from(ip), port))),
        ]
    }

    proptest! {
        #[test]
        fn peers_round_trip(peers in proptest::collection::vec(addr(), 0..40)) {
            let (mut v4, mut v6) = (Vec::new(), Vec::new());
            encode(&peers, &mut v4, &mut v6);
            let mut back = decode_v4(&v4, "peers").unwrap();
            back.extend(decode_v6(&v6, "peers6").unwrap());
            let mut want: Vec<SocketAddr> = peers.iter().copied().filter(SocketAddr::is_ipv4).collect();
            want.extend(peers.iter().copied().filter(SocketAddr::is_ipv6));
            prop_assert_eq!(back, want);
        }
    }
}
