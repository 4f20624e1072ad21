//! The 68-byte handshake that opens every peer connection, and its reserved (extension) bits.

use std::fmt;

use crate::error::{Error, Result};
use crate::peer_id::PeerId;
use crate::status::Status;

/// The protocol string every handshake starts with, after its length byte (19).
pub const PROTOCOL: &[u8; 19] = b"BitTorrent protocol";

/// The length of a handshake in bytes: 1 + 19 + 8 + 20 + 20.
pub const HANDSHAKE_LEN: usize = 68;

/// The eight reserved bytes of the handshake, where peers announce the extensions they support.
///
/// Bits are named as the BEPs number them: `reserved[5] & 0x10` is the extension protocol
/// (BEP 10), `reserved[7] & 0x04` the fast extension (BEP 6), `reserved[7] & 0x01` DHT (BEP 5).
/// Unknown bits are kept as received.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Reserved(pub [u8; 8]);

impl Reserved {
    /// No extension bits set.
    pub const NONE: Reserved = Reserved([0; 8]);

    /// The bits torrentkit sets: extension protocol and fast extension.
    pub fn torrentkit() -> Self {
        Reserved::NONE.with_extension_protocol(true).with_fast(true)
    }

    fn bit(&self, byte: usize, mask: u8) -> bool {
        self.0[byte] & mask != 0
    }

    fn with_bit(mut self, byte: usize, mask: u8, on: bool) -> Self {
        if on {
            self.0[byte] |= mask;
        } else {
            self.0[byte] &= !mask;
        }
        self
    }

    /// The extension protocol, BEP 10 (`reserved[5] & 0x10`).
    pub fn extension_protocol(&self) -> bool {
        self.bit(5, 0x10)
    }

    /// The fast extension, BEP 6 (`reserved[7] & 0x04`).
    pub fn fast(&self) -> bool {
        self.bit(7, 0x04)
    }

    /// DHT, BEP 5 (`reserved[7] & 0x01`): the peer accepts `port` messages.
    pub fn dht(&self) -> bool {
        self.bit(7, 0x01)
    }

    /// Upgrade to BitTorrent v2, BEP 52 (`reserved[7] & 0x10`).
    pub fn v2_upgrade(&self) -> bool {
        self.bit(7, 0x10)
    }

    /// With the extension-protocol bit set or cleared.
    pub fn with_extension_protocol(self, on: bool) -> Self {
        self.with_bit(5, 0x10, on)
    }

    /// With the fast-extension bit set or cleared.
    pub fn with_fast(self, on: bool) -> Self {
        self.with_bit(7, 0x04, on)
    }

    /// With the DHT bit set or cleared.
    pub fn with_dht(self, on: bool) -> Self {
        self.with_bit(7, 0x01, on)
    }

    /// With the v2-upgrade bit set or cleared.
    pub fn with_v2_upgrade(self, on: bool) -> Self {
        self.with_bit(7, 0x10, on)
    }
}

impl fmt::Debug for Reserved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Reserved(")?;
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}

/// The handshake: `<19>BitTorrent protocol<reserved:8><info_hash:20><peer_id:20>`.
///
/// ```
/// use torrentkit_wire::{Handshake, PeerId, Reserved, Status};
/// let ours = Handshake::new([0xaa; 20], PeerId::generate([7; 12]));
/// let bytes = ours.to_bytes();
/// let Status::Complete { value, consumed } = Handshake::decode(&bytes)? else { unreachable!() };
/// assert_eq!((value, consumed), (ours, 68));
/// assert!(value.reserved.extension_protocol() && value.reserved.fast());
/// // A short buffer says how much more it needs.
/// assert_eq!(Handshake::decode(&bytes[..60])?, Status::Incomplete { needed: 8 });
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Handshake {
    /// The extensions the sender supports.
    pub reserved: Reserved,
    /// The v1 info-hash of the torrent (or the truncated v2 one).
    pub info_hash: [u8; 20],
    /// The sender's peer id.
    pub peer_id: PeerId,
}

impl Handshake {
    /// A handshake with torrentkit's reserved bits ([`Reserved::torrentkit`]).
    pub fn new(info_hash: [u8; 20], peer_id: PeerId) -> Self {
        Self {
            reserved: Reserved::torrentkit(),
            info_hash,
            peer_id,
        }
    }

    /// Decodes a handshake from the start of `input`, checking the protocol string as soon as
    /// its bytes arrive (so a non-BitTorrent peer is rejected without waiting for 68 bytes).
    pub fn decode(input: &[u8]) -> Result<Status<Handshake>> {
        check_protocol(input)?;
        let Some(bytes) = input.get(..HANDSHAKE_LEN) else {
            return Ok(Status::Incomplete {
                needed: HANDSHAKE_LEN - input.len(),
            });
        };
        let mut reserved = [0; 8];
        reserved.copy_from_slice(&bytes[20..28]);
        let mut info_hash = [0; 20];
        info_hash.copy_from_slice(&bytes[28..48]);
        let mut peer_id = [0; 20];
        peer_id.copy_from_slice(&bytes[48..68]);
        Ok(Status::Complete {
            value: Handshake {
                reserved: Reserved(reserved),
                info_hash,
                peer_id: PeerId(peer_id),
            },
            consumed: HANDSHAKE_LEN,
        })
    }

    /// Reads the reserved bytes and info-hash once the first 48 bytes are in, before the peer
    /// id: a listener serving several torrents needs the info-hash to pick one before it answers.
    pub fn decode_head(input: &[u8]) -> Result<Status<(Reserved, [u8; 20])>> {
        check_protocol(input)?;
        let Some(bytes) = input.get(..48) else {
            return Ok(Status::Incomplete {
                needed: 48 - input.len(),
            });
        };
        let mut reserved = [0; 8];
        reserved.copy_from_slice(&bytes[20..28]);
        let mut info_hash = [0; 20];
        info_hash.copy_from_slice(&bytes[28..48]);
        Ok(Status::Complete {
            value: (Reserved(reserved), info_hash),
            consumed: 48,
        })
    }

    /// The 68 bytes of this handshake.
    pub fn to_bytes(&self) -> [u8; HANDSHAKE_LEN] {
        let mut out = [0; HANDSHAKE_LEN];
        out[0] = 19;
        out[1..20].copy_from_slice(PROTOCOL);
        out[20..28].copy_from_slice(&self.reserved.0);
        out[28..48].copy_from_slice(&self.info_hash);
        out[48..68].copy_from_slice(&self.peer_id.0);
        out
    }

    /// Appends the 68 bytes of this handshake to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_bytes());
    }
}

/// Fails as soon as the bytes present contradict `\x13BitTorrent protocol`.
fn check_protocol(input: &[u8]) -> Result<()> {
    let Some(&pstrlen) = input.first() else {
        return Ok(());
    };
    let pstr = &input[1..input.len().min(20)];
    if pstrlen != 19 || !PROTOCOL.starts_with(pstr) {
        let shown = input[1..input.len().min(1 + usize::from(pstrlen).min(19))].to_vec();
        return Err(Error::WrongProtocol {
            pstrlen,
            pstr: shown,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_bits_sit_where_the_beps_put_them() {
        let r = Reserved::NONE.with_extension_protocol(true);
        assert_eq!(r.0, [0, 0, 0, 0, 0, 0x10, 0, 0]);
        let r = Reserved::NONE
            .with_fast(true)
            .with_dht(true)
            .with_v2_upgrade(true);
        assert_eq!(r.0, [0, 0, 0, 0, 0, 0, 0, 0x15]);
        assert!(r.fast() && r.dht() && r.v2_upgrade() && !r.extension_protocol());
        assert_eq!(r.with_fast(false).0[7], 0x11);
    }

    #[test]
    fn wrong_protocol_is_rejected_from_the_first_bytes() {
        let err = Handshake::decode(b"\x13BitTorrent pro\xff").unwrap_err();
        assert_eq!(
            err,
            Error::WrongProtocol {
                pstrlen: 19,
                pstr: b"BitTorrent pro\xff".to_vec()
            }
        );
        let err = Handshake::decode(b"GET / HTTP/1.1\r\n").unwrap_err();
        assert!(err.to_string().contains("length byte 71"), "{err}");
        assert_eq!(
            Handshake::decode(b"\x13BitTor").unwrap(),
            Status::Incomplete { needed: 61 }
        );
        assert_eq!(
            Handshake::decode(b"").unwrap(),
            Status::Incomplete { needed: 68 }
        );
    }

    #[test]
    fn head_gives_the_info_hash_before_the_peer_id() {
        let h = Handshake::new([3; 20], PeerId([9; 20]));
        let bytes = h.to_bytes();
        assert_eq!(
            Handshake::decode_head(&bytes[..47]).unwrap(),
            Status::Incomplete { needed: 1 }
        );
        let (value, consumed) = Handshake::decode_head(&bytes[..48])
            .unwrap()
            .complete()
            .unwrap();
        assert_eq!((value, consumed), ((h.reserved, [3; 20]), 48));
    }
}
