//! Tokens for `announce_peer`: a keyed hash of the querier's IP under a secret that rotates,
//! so no state is kept per querier.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use siphasher::sip::SipHasher24;
use std::hash::Hasher;

/// How often the secret changes. The previous secret is still accepted, so a token is valid for
/// at least this long and at most twice this long: BEP 5's "up to ten minutes old".
pub const SECRET_ROTATION: Duration = Duration::from_secs(5 * 60);

/// The length of the tokens handed out.
pub const TOKEN_LEN: usize = 8;

/// The current and previous secrets, and when the current one expires.
#[derive(Debug, Clone)]
pub(crate) struct Tokens {
    current: [u8; 16],
    previous: [u8; 16],
    rotate_at: Instant,
}

impl Tokens {
    pub(crate) fn new(rng: &mut fastrand::Rng, now: Instant) -> Self {
        let mut current = [0; 16];
        let mut previous = [0; 16];
        rng.fill(&mut current);
        rng.fill(&mut previous);
        Tokens {
            current,
            previous,
            rotate_at: now + SECRET_ROTATION,
        }
    }

    /// When [`Tokens::handle_timeout`] next needs to run.
    pub(crate) fn next_rotation(&self) -> Instant {
        self.rotate_at
    }

    /// Rotates the secret if its time has come (several times after a long pause, so that a
    /// token from long ago never verifies).
    pub(crate) fn handle_timeout(&mut self, rng: &mut fastrand::Rng, now: Instant) {
        if now >= self.rotate_at + SECRET_ROTATION {
            // Two rotations or more are due: both secrets are new.
            rng.fill(&mut self.previous);
            rng.fill(&mut self.current);
            self.rotate_at = now + SECRET_ROTATION;
        } else if now >= self.rotate_at {
            self.previous = self.current;
            rng.fill(&mut self.current);
            self.rotate_at += SECRET_ROTATION;
        }
    }

    /// The token to give `ip` now.
    pub(crate) fn issue(&self, ip: IpAddr) -> [u8; TOKEN_LEN] {
        token(&self.current, ip)
    }

    /// True when `token` was issued to `ip` under the current or previous secret.
    pub(crate) fn verify(&self, ip: IpAddr, token: &[u8]) -> bool {
        token == self::token(&self.current, ip) || token == self::token(&self.previous, ip)
    }
}

fn token(secret: &[u8; 16], ip: IpAddr) -> [u8; TOKEN_LEN] {
    let mut hasher = SipHasher24::new_with_key(secret);
    match ip {
        IpAddr::V4(ip) => hasher.write(&ip.octets()),
        IpAddr::V6(ip) => hasher.write(&ip.octets()),
    }
    hasher.finish().to_be_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_valid_for_five_to_ten_minutes_then_refused() {
        let mut rng = fastrand::Rng::with_seed(1);
        let start = Instant::now();
        let mut tokens = Tokens::new(&mut rng, start);
        let ip: IpAddr = "203.0.113.7".parse().unwrap();
        let other: IpAddr = "203.0.113.8".parse().unwrap();
        let token = tokens.issue(ip);
        assert!(tokens.verify(ip, &token));
        assert!(
            !tokens.verify(other, &token),
            "a token is bound to the address"
        );
        assert!(!tokens.verify(ip, &token[..4]));
        tokens.handle_timeout(&mut rng, start + Duration::from_secs(9 * 60 + 59));
        assert!(
            tokens.verify(ip, &token),
            "one rotation later it still verifies"
        );
        assert_ne!(tokens.issue(ip), token, "but new tokens differ");
        tokens.handle_timeout(&mut rng, start + Duration::from_secs(10 * 60));
        assert!(
            !tokens.verify(ip, &token),
            "two rotations later it is refused"
        );
    }

    #[test]
    fn a_long_pause_rotates_both_secrets() {
        let mut rng = fastrand::Rng::with_seed(2);
        let start = Instant::now();
        let mut tokens = Tokens::new(&mut rng, start);
        let ip: IpAddr = "::1".parse().unwrap();
        let token = tokens.issue(ip);
        tokens.handle_timeout(&mut rng, start + Duration::from_secs(3600));
        assert!(!tokens.verify(ip, &token));
        assert!(tokens.next_rotation() > start + Duration::from_secs(3600));
    }
}
