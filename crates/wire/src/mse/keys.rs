//! The key agreement and key derivation of MSE: 768-bit Diffie-Hellman with the spec's prime and
//! generator 2, the `req1`/`req2`/`req3` hashes, and the two RC4 streams keyed `keyA`/`keyB`
//! with their first 1,024 bytes discarded. Pure functions, so they have known-answer tests.

use num_bigint::BigUint;
use rc4::{KeyInit, StreamCipher};
use sha1::{Digest, Sha1};

use super::MseError;

/// The length of a public key and of the shared secret: 768 bits, big-endian, zero-padded.
pub const KEY_LEN: usize = 96;

/// The spec's 768-bit prime P (the Oakley group 1 prime).
const PRIME_HEX: &[u8] = b"FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74\
020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E\
7EC6F44C42E9A63A36210000000000090563";

/// How many keystream bytes each RC4 stream throws away before its first use.
pub const RC4_DISCARD: usize = 1024;

fn prime() -> BigUint {
    BigUint::parse_bytes(PRIME_HEX, 16).expect("the spec's prime is valid hex")
}

fn to_key_bytes(n: &BigUint) -> [u8; KEY_LEN] {
    let bytes = n.to_bytes_be();
    let mut out = [0u8; KEY_LEN];
    // Every value here is reduced mod P, so it fits in 96 bytes.
    out[KEY_LEN - bytes.len()..].copy_from_slice(&bytes);
    out
}

/// Our public key `Y = 2^X mod P` for the private key `X` (big-endian bytes, at least 160 bits
/// of it random).
pub fn public_key(private_key: &[u8]) -> [u8; KEY_LEN] {
    let x = BigUint::from_bytes_be(private_key);
    to_key_bytes(&BigUint::from(2u8).modpow(&x, &prime()))
}

/// The shared secret `S = Y^X mod P` from the peer's public key `Y` and our private key `X`.
/// A public key of 0, 1, P - 1 or more than P would make `S` guessable: it is refused.
pub fn shared_secret(
    private_key: &[u8],
    their_public: &[u8; KEY_LEN],
) -> Result<[u8; KEY_LEN], MseError> {
    let p = prime();
    let y = BigUint::from_bytes_be(their_public);
    if y <= BigUint::from(1u8) || y >= &p - 1u8 {
        return Err(MseError::BadPublicKey);
    }
    let x = BigUint::from_bytes_be(private_key);
    Ok(to_key_bytes(&y.modpow(&x, &p)))
}

fn hash(parts: &[&[u8]]) -> [u8; 20] {
    let mut h = Sha1::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// `HASH('req1', S)`: what the responder searches for to find the end of the initiator's padding.
pub fn req1(secret: &[u8; KEY_LEN]) -> [u8; 20] {
    hash(&[b"req1", secret])
}

/// `HASH('req2', SKEY)`: the obfuscated info-hash, before it is mixed with `req3`.
pub fn req2(skey: &[u8; 20]) -> [u8; 20] {
    hash(&[b"req2", skey])
}

/// `HASH('req3', S)`.
pub fn req3(secret: &[u8; KEY_LEN]) -> [u8; 20] {
    hash(&[b"req3", secret])
}

/// `HASH('req2', SKEY) xor HASH('req3', S)`: the torrent, as the initiator names it.
pub fn req2_xor_req3(skey: &[u8; 20], secret: &[u8; KEY_LEN]) -> [u8; 20] {
    xor20(&req2(skey), &req3(secret))
}

pub(super) fn xor20(a: &[u8; 20], b: &[u8; 20]) -> [u8; 20] {
    std::array::from_fn(|i| a[i] ^ b[i])
}

/// One direction's RC4 stream: what the initiator sends is keyed `keyA`, what the responder
/// sends `keyB`. Encrypting and decrypting are the same operation, done in place.
pub struct Cipher(rc4::Rc4);

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cipher(rc4)")
    }
}

impl Cipher {
    /// The stream keyed `HASH(label, S, SKEY)` (`label` is `b"keyA"` or `b"keyB"`), with its
    /// first 1,024 bytes already discarded.
    pub fn new(label: &[u8; 4], secret: &[u8; KEY_LEN], skey: &[u8; 20]) -> Self {
        let key = hash(&[label, secret, skey]);
        let mut rc4 = rc4::Rc4::new_from_slice(&key).expect("a 20-byte key is within RC4's range");
        let mut discard = [0u8; RC4_DISCARD];
        rc4.apply_keystream(&mut discard);
        Cipher(rc4)
    }

    /// Encrypts (or decrypts) `buf` in place, advancing the stream by its length.
    pub fn apply(&mut self, buf: &mut [u8]) {
        self.0.apply_keystream(buf);
    }
}
