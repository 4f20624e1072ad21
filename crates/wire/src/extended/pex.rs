//! ut_pex (BEP 11): peers gossip the addresses of peers they connected to or dropped.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};

use torrentkit_bencode::{decode_with, encode_to, DecodeOptions, Dict, Value};

use super::fields::{bencode_error, Fields};
use crate::error::Result;

const MESSAGE: &str = "ut_pex";

/// The per-peer flags of `added.f` / `added6.f` (BEP 11).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct PexFlags(pub u8);

impl PexFlags {
    /// 0x01: the peer prefers encrypted connections.
    pub const PREFERS_ENCRYPTION: u8 = 0x01;
    /// 0x02: the peer is a seed (or upload-only).
    pub const SEED: u8 = 0x02;
    /// 0x04: the peer supports uTP.
    pub const UTP: u8 = 0x04;
    /// 0x08: the peer supports the holepunch extension (BEP 55).
    pub const HOLEPUNCH: u8 = 0x08;
    /// 0x10: the sender reached the peer by an outgoing connection, so it is connectable.
    pub const REACHABLE: u8 = 0x10;

    /// True if all bits of `flag` (one of the constants) are set.
    pub fn has(self, flag: u8) -> bool {
        self.0 & flag == flag
    }
}

/// A ut_pex message: peers added and dropped since the previous one (BEP 11).
///
/// ```
/// use std::net::{Ipv4Addr, SocketAddrV4};
/// use torrentkit_wire::{PexFlags, PexMessage};
/// let mut pex = PexMessage::default();
/// pex.added.push((SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 6881), PexFlags(PexFlags::SEED)));
/// let payload = pex.to_payload();
/// assert_eq!(PexMessage::decode(&payload)?, pex);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PexMessage {
    /// `added` with `added.f`: IPv4 peers and their flags.
    pub added: Vec<(SocketAddrV4, PexFlags)>,
    /// `added6` with `added6.f`: IPv6 peers and their flags.
    pub added6: Vec<(SocketAddrV6, PexFlags)>,
    /// `dropped`: IPv4 peers no longer connected.
    pub dropped: Vec<SocketAddrV4>,
    /// `dropped6`: IPv6 peers no longer connected.
    pub dropped6: Vec<SocketAddrV6>,
}

impl PexMessage {
    /// Decodes a ut_pex payload (after the extension id byte).
    ///
    /// Compact lists must be whole 6-byte (IPv4) or 18-byte (IPv6) entries; a flags string, when
    /// present, must have one byte per added peer (when absent, flags are 0).
    pub fn decode(payload: &[u8]) -> Result<Self> {
        let value =
            decode_with(payload, &DecodeOptions::lenient()).map_err(bencode_error(MESSAGE))?;
        let f = Fields::of(MESSAGE, &value)?;
        let added = compact(&f, "added", 6)?;
        let added6 = compact(&f, "added6", 18)?;
        let added_f = flags(&f, "added.f", added.len())?;
        let added6_f = flags(&f, "added6.f", added6.len())?;
        Ok(Self {
            added: added.iter().map(|e| v4(e)).zip(added_f).collect(),
            added6: added6.iter().map(|e| v6(e)).zip(added6_f).collect(),
            dropped: compact(&f, "dropped", 6)?.iter().map(|e| v4(e)).collect(),
            dropped6: compact(&f, "dropped6", 18)?.iter().map(|e| v6(e)).collect(),
        })
    }

    /// True if the message lists no peer at all.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.added6.is_empty()
            && self.dropped.is_empty()
            && self.dropped6.is_empty()
    }

    /// Appends the bencoded dictionary to `out`. All six keys are written, empty or not, as
    /// libtorrent does.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let added: Vec<u8> = self.added.iter().flat_map(|(a, _)| v4_bytes(a)).collect();
        let added_f: Vec<u8> = self.added.iter().map(|(_, f)| f.0).collect();
        let added6: Vec<u8> = self.added6.iter().flat_map(|(a, _)| v6_bytes(a)).collect();
        let added6_f: Vec<u8> = self.added6.iter().map(|(_, f)| f.0).collect();
        let dropped: Vec<u8> = self.dropped.iter().flat_map(v4_bytes).collect();
        let dropped6: Vec<u8> = self.dropped6.iter().flat_map(v6_bytes).collect();
        let dict: Dict<'_> = [
            (&b"added"[..], &added),
            (b"added.f", &added_f),
            (b"added6", &added6),
            (b"added6.f", &added6_f),
            (b"dropped", &dropped),
            (b"dropped6", &dropped6),
        ]
        .into_iter()
        .map(|(k, v)| (k, Value::Bytes(v)))
        .collect();
        encode_to(&Value::Dict(dict), out);
    }

    /// The bencoded dictionary as a new vector.
    pub fn to_payload(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

/// A compact peer list split into entries of `size` bytes (empty when the key is absent).
fn compact<'a>(f: &Fields<'_, 'a>, field: &'static str, size: usize) -> Result<Vec<&'a [u8]>> {
    let bytes = f.bytes(field)?.unwrap_or_default();
    if bytes.len() % size != 0 {
        return Err(f.error(
            field,
            format!("is {} bytes, not a multiple of {size}", bytes.len()),
        ));
    }
    Ok(bytes.chunks_exact(size).collect())
}

fn flags(f: &Fields<'_, '_>, field: &'static str, peers: usize) -> Result<Vec<PexFlags>> {
    match f.bytes(field)? {
        None => Ok(vec![PexFlags(0); peers]),
        Some(b) if b.len() == peers => Ok(b.iter().map(|&x| PexFlags(x)).collect()),
        Some(b) => Err(f.error(
            field,
            format!("has {} flag bytes for {peers} peers", b.len()),
        )),
    }
}

fn v4(e: &[u8]) -> SocketAddrV4 {
    SocketAddrV4::new(
        Ipv4Addr::new(e[0], e[1], e[2], e[3]),
        u16::from_be_bytes([e[4], e[5]]),
    )
}

fn v6(e: &[u8]) -> SocketAddrV6 {
    let mut ip = [0; 16];
    ip.copy_from_slice(&e[..16]);
    SocketAddrV6::new(Ipv6Addr::from(ip), u16::from_be_bytes([e[16], e[17]]), 0, 0)
}

fn v4_bytes(a: &SocketAddrV4) -> [u8; 6] {
    let mut out = [0; 6];
    out[..4].copy_from_slice(&a.ip().octets());
    out[4..].copy_from_slice(&a.port().to_be_bytes());
    out
}

fn v6_bytes(a: &SocketAddrV6) -> [u8; 18] {
    let mut out = [0; 18];
    out[..16].copy_from_slice(&a.ip().octets());
    out[16..].copy_from_slice(&a.port().to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_entries_and_flags() {
        let payload =
            b"d5:added12:\x7f\x00\x00\x01\x1a\xe1\x0a\x00\x00\x02\x00\x507:added.f2:\x12\x00\
                        7:dropped6:\x01\x02\x03\x04\x00\x01e";
        let pex = PexMessage::decode(payload).unwrap();
        assert_eq!(
            pex.added,
            [
                (SocketAddrV4::new(Ipv4Addr::LOCALHOST, 6881), PexFlags(0x12)),
                (
                    SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 80),
                    PexFlags(0)
                ),
            ]
        );
        assert!(pex.added[0].1.has(PexFlags::SEED) && pex.added[0].1.has(PexFlags::REACHABLE));
        assert_eq!(
            pex.dropped,
            [SocketAddrV4::new(Ipv4Addr::new(1, 2, 3, 4), 1)]
        );
        assert!(pex.added6.is_empty() && pex.dropped6.is_empty());
        assert_eq!(PexMessage::decode(&pex.to_payload()).unwrap(), pex);
    }

    #[test]
    fn malformed_lists_are_named() {
        let err = PexMessage::decode(b"d5:added5:abcdee").unwrap_err();
        assert_eq!(
            err.to_string(),
            "wire: ut_pex: field `added` is 5 bytes, not a multiple of 6"
        );
        let err = PexMessage::decode(b"d5:added6:abcdef7:added.f2:xye").unwrap_err();
        assert_eq!(
            err.to_string(),
            "wire: ut_pex: field `added.f` has 2 flag bytes for 1 peers"
        );
        let err = PexMessage::decode(b"d8:dropped6i1ee").unwrap_err();
        assert!(err.to_string().contains("not a byte string"), "{err}");
    }

    #[test]
    fn missing_flags_mean_zero() {
        let pex = PexMessage::decode(b"d5:added6:abcdefe").unwrap();
        assert_eq!(pex.added[0].1, PexFlags(0));
        assert!(!PexMessage::default().to_payload().is_empty());
        assert!(PexMessage::decode(&PexMessage::default().to_payload())
            .unwrap()
            .is_empty());
    }
}
