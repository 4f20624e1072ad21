//! Message Stream Encryption (MSE, also called PE): the obfuscated handshake libtorrent,
//! Transmission, rTorrent and aria2 speak, after which the connection runs RC4 (or plaintext)
//! in both directions. Sans-IO like the rest of the crate: [`Handshake`] is fed bytes and polled
//! for bytes, and the caller supplies the randomness ([`Secret`]) and the time limit.
//!
//! ```
//! use torrentkit_wire::mse::{Handshake, Methods, Secret};
//!
//! let info_hash = [7u8; 20];
//! let secret = |k| Secret { private_key: [k; 20], pad: vec![k; 3] };
//! let mut a = Handshake::initiator(info_hash, Methods::RC4, b"hello".to_vec(), secret(1));
//! let mut b = Handshake::responder(vec![info_hash], Methods::RC4, Methods::RC4, secret(2));
//! while !(a.is_done() && b.is_done()) {
//!     if let Some(bytes) = a.poll_transmit() { b.handle_bytes(&bytes)?; }
//!     if let Some(bytes) = b.poll_transmit() { a.handle_bytes(&bytes)?; }
//! }
//! let (a, b) = (a.finish().unwrap(), b.finish().unwrap());
//! assert_eq!(b.payload, b"hello"); // the initiator's IA
//! let (mut sa, mut sb) = (a.streams.unwrap(), b.streams.unwrap());
//! let mut block = *b"a block";
//! sb.send.apply(&mut block);
//! sa.recv.apply(&mut block);
//! assert_eq!(&block, b"a block");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
mod handshake;
mod keys;

pub use error::MseError;
pub use handshake::{Established, Handshake, Secret, Streams, MAX_PAD};
pub use keys::{
    public_key, req1, req2, req2_xor_req3, req3, shared_secret, Cipher, KEY_LEN, RC4_DISCARD,
};

/// A set of `crypto_provide` / `crypto_select` bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Methods(pub u32);

impl Methods {
    /// Bit 0x01: the connection goes on in plaintext after the handshake.
    pub const PLAINTEXT: Methods = Methods(0x01);
    /// Bit 0x02: the connection goes on in RC4.
    pub const RC4: Methods = Methods(0x02);
    /// Both.
    pub const BOTH: Methods = Methods(0x03);
}
