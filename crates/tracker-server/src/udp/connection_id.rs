//! UDP connection ids (BEP 15) as keyed hashes of the client's IP and a time window, so the tracker
//! keeps no per-connection state and ids cannot be forged or reused from another address.

use std::hash::{BuildHasher, Hasher};
use std::net::IpAddr;

use siphasher::sip::SipHasher24;

/// Length of one time window in seconds.
const WINDOW: u64 = 60;
/// How many windows an id stays valid: the window it was issued in and the two before, so an id
/// lives between 2 and 3 minutes (BEP 15 asks for at least the client's 1-minute reuse, and clients
/// such as libtorrent reuse ids for up to 2 minutes).
const WINDOWS: u64 = 3;

/// Issues and checks connection ids under a secret key.
#[derive(Clone)]
pub struct ConnectionIds {
    key: [u8; 16],
}

impl std::fmt::Debug for ConnectionIds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConnectionIds { .. }")
    }
}

impl ConnectionIds {
    /// Ids under a fixed key (for tests and for several processes sharing ids).
    pub fn with_key(key: [u8; 16]) -> Self {
        ConnectionIds { key }
    }

    /// Ids under a key derived from a shared secret: every tracker given the same secret issues
    /// and accepts the same ids (trackers sharing one Redis).
    pub fn from_secret(secret: &str) -> Self {
        let mut key = [0u8; 16];
        // Two keyed hashes of the secret under fixed, distinct keys: deterministic across
        // processes and machines, and no shorter than the key itself.
        for (i, half) in key.chunks_exact_mut(8).enumerate() {
            let mut h =
                SipHasher24::new_with_keys(0x6274_2d75_6470_2d69, 0x6473_0000_0000_0000 + i as u64);
            h.write(secret.as_bytes());
            half.copy_from_slice(&h.finish().to_le_bytes());
        }
        ConnectionIds { key }
    }

    /// Ids under a random key, drawn from the operating system's randomness that seeds the
    /// standard library's hash maps.
    pub fn random() -> Self {
        let mut key = [0u8; 16];
        for half in key.chunks_exact_mut(8) {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(0x0074_7261_636b_6572);
            half.copy_from_slice(&h.finish().to_le_bytes());
        }
        ConnectionIds { key }
    }

    fn hash(&self, ip: IpAddr, window: u64) -> u64 {
        let mut h = SipHasher24::new_with_key(&self.key);
        match ip {
            IpAddr::V4(v4) => h.write(&v4.octets()),
            IpAddr::V6(v6) => h.write(&v6.octets()),
        }
        h.write_u64(window);
        h.finish()
    }

    /// The id for a client at `ip`, at `now_secs` on any monotonic clock in seconds.
    pub fn issue(&self, ip: IpAddr, now_secs: u64) -> u64 {
        self.hash(ip, now_secs / WINDOW)
    }

    /// Whether `id` was issued to `ip` within the id lifetime before `now_secs`.
    pub fn check(&self, id: u64, ip: IpAddr, now_secs: u64) -> bool {
        let window = now_secs / WINDOW;
        (0..WINDOWS.min(window + 1)).any(|back| self.hash(ip, window - back) == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_live_two_to_three_minutes_and_only_for_their_ip() {
        let ids = ConnectionIds::with_key([7; 16]);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let other: IpAddr = "127.0.0.2".parse().unwrap();
        let id = ids.issue(ip, 1000);
        assert!(ids.check(id, ip, 1000));
        assert!(ids.check(id, ip, 1000 + 120));
        assert!(!ids.check(id, ip, 1000 + 200));
        assert!(!ids.check(id, other, 1000));
        assert!(!ids.check(id ^ 1, ip, 1000));
        let fresh = ConnectionIds::random();
        assert!(!fresh.check(id, ip, 1000), "another key, another id");
        // A shared secret gives the same ids in every process; another secret, other ids.
        let (a, b) = (
            ConnectionIds::from_secret("s"),
            ConnectionIds::from_secret("s"),
        );
        assert!(b.check(a.issue(ip, 1000), ip, 1000));
        assert!(!ConnectionIds::from_secret("t").check(a.issue(ip, 1000), ip, 1000));
        // The first seconds of a clock have no earlier windows to look back on.
        assert!(ids.check(ids.issue(ip, 5), ip, 5));
    }
}
