//! The allowed-fast set of BEP 6: which pieces a peer may request while choked.

use std::net::Ipv4Addr;

use sha1::{Digest, Sha1};

/// The canonical allowed-fast set of BEP 6 for a peer at `ip`: `k` distinct piece indices
/// derived from the peer's /24 network and the info-hash, so that a peer cannot collect more
/// allowed-fast pieces by reconnecting from a neighbouring address.
///
/// Fewer than `k` indices are returned only when the torrent has fewer than `k` pieces (then
/// every piece is in the set). BEP 6 defines the algorithm for IPv4 only; pass an IPv4-mapped
/// peer's [`Ipv6Addr::to_ipv4_mapped`](std::net::Ipv6Addr::to_ipv4_mapped) address.
///
/// ```
/// use std::net::Ipv4Addr;
/// // BEP 6's own example.
/// let set = torrentkit_wire::allowed_fast_set(Ipv4Addr::new(80, 4, 4, 200), &[0xaa; 20], 1313, 7);
/// assert_eq!(set, [1059, 431, 808, 1217, 287, 376, 1188]);
/// ```
pub fn allowed_fast_set(ip: Ipv4Addr, info_hash: &[u8; 20], pieces: u32, k: usize) -> Vec<u32> {
    let k = k.min(pieces as usize);
    let mut set = Vec::with_capacity(k);
    let masked = u32::from(ip) & 0xffff_ff00;
    let mut x = [0u8; 24];
    x[..4].copy_from_slice(&masked.to_be_bytes());
    x[4..].copy_from_slice(info_hash);
    let mut digest: [u8; 20] = Sha1::digest(x).into();
    while set.len() < k {
        for chunk in digest.chunks_exact(4) {
            if set.len() == k {
                break;
            }
            let y = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            let index = y % pieces;
            if !set.contains(&index) {
                set.push(index);
            }
        }
        digest = Sha1::digest(digest).into();
    }
    set
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bep6_vectors() {
        let ip = Ipv4Addr::new(80, 4, 4, 200);
        assert_eq!(
            allowed_fast_set(ip, &[0xaa; 20], 1313, 7),
            [1059, 431, 808, 1217, 287, 376, 1188]
        );
        assert_eq!(
            allowed_fast_set(ip, &[0xaa; 20], 1313, 9),
            [1059, 431, 808, 1217, 287, 376, 1188, 353, 508]
        );
    }

    #[test]
    fn only_the_slash_24_matters() {
        let a = allowed_fast_set(Ipv4Addr::new(80, 4, 4, 1), &[1; 20], 500, 10);
        let b = allowed_fast_set(Ipv4Addr::new(80, 4, 4, 254), &[1; 20], 500, 10);
        let c = allowed_fast_set(Ipv4Addr::new(80, 4, 5, 1), &[1; 20], 500, 10);
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn small_torrents_get_every_piece_and_no_endless_loop() {
        let mut set = allowed_fast_set(Ipv4Addr::LOCALHOST, &[2; 20], 3, 10);
        set.sort_unstable();
        assert_eq!(set, [0, 1, 2]);
        assert!(allowed_fast_set(Ipv4Addr::LOCALHOST, &[2; 20], 0, 10).is_empty());
    }
}
