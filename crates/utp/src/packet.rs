//! The uTP packet format of BEP 29: the 20-byte header, the extension chain and the
//! selective-ack bitmask; a borrowing decoder and an encoder into a caller's buffer.

use std::fmt;

use crate::error::Error;
use crate::seq::Seq;

/// Length of the fixed header every uTP packet starts with.
pub const HEADER_LEN: usize = 20;
/// The only protocol version (BEP 29's `ver` field).
pub const VERSION: u8 = 1;
/// The longest selective-ack bitmask this crate sends, in bytes: 1,024 packets past the ack,
/// more than any window it keeps in flight. Received masks may be any length from 1 to 255
/// bytes (the length byte bounds them): libtorrent sends `(span + 7) / 8` bytes, not the
/// multiple of four BEP 29 asks for, and bits past what we have in flight are ignored.
pub const MAX_SACK_LEN: usize = 128;
/// The most extensions one packet may carry before it is refused (each one costs two bytes at
/// least, so a datagram could otherwise chain thousands).
pub const MAX_EXTENSIONS: usize = 8;

/// Extension id of the selective ack.
const EXT_SACK: u8 = 1;
/// Extension id of torrentkit's "largest datagram I receive" (two bytes, big-endian), sent in
/// SYN and SYN-answering STATE packets. BEP 29 has receivers skip extensions they do not know
/// (libtorrent's are 1 to 3), so other implementations ignore it and keep their packet size.
const EXT_MAX_PACKET: u8 = 0x74;

/// The packet types of BEP 29.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketType {
    /// `ST_DATA` (0): a payload, with a sequence number.
    Data,
    /// `ST_FIN` (1): the sender's last sequence number; it sends no more data.
    Fin,
    /// `ST_STATE` (2): an acknowledgement, no payload, no sequence number of its own.
    State,
    /// `ST_RESET` (3): the connection is terminated abruptly.
    Reset,
    /// `ST_SYN` (4): opens a connection.
    Syn,
}

impl PacketType {
    fn from_nibble(n: u8) -> Option<PacketType> {
        Some(match n {
            0 => PacketType::Data,
            1 => PacketType::Fin,
            2 => PacketType::State,
            3 => PacketType::Reset,
            4 => PacketType::Syn,
            _ => return None,
        })
    }

    fn nibble(self) -> u8 {
        match self {
            PacketType::Data => 0,
            PacketType::Fin => 1,
            PacketType::State => 2,
            PacketType::Reset => 3,
            PacketType::Syn => 4,
        }
    }
}

/// The fixed header of a uTP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The packet type.
    pub packet_type: PacketType,
    /// The connection id the packet is addressed to (the receiver's `recv_id`; a SYN carries
    /// the initiator's).
    pub connection_id: u16,
    /// The sender's clock when it sent the packet, in microseconds (wrapping).
    pub timestamp_us: u32,
    /// The sender's clock minus the timestamp of the last packet it received, in
    /// microseconds: the one-way delay sample LEDBAT works from.
    pub timestamp_diff_us: u32,
    /// The sender's receive window: bytes it will still accept.
    pub wnd_size: u32,
    /// The sender's sequence number (for DATA, FIN and SYN, that of this packet; for STATE,
    /// that of the next packet it will send).
    pub seq_nr: Seq,
    /// The last sequence number the sender received in order.
    pub ack_nr: Seq,
}

/// A decoded packet; the selective ack and the payload borrow from the datagram.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a> {
    /// The fixed header.
    pub header: Header,
    /// The selective-ack bitmask, when the packet carries one: bit `i` (least significant bit
    /// of each byte first) says packet `ack_nr + 2 + i` was received.
    pub sack: Option<&'a [u8]>,
    /// The largest datagram the sender receives, when it says (torrentkit's extension).
    pub max_packet: Option<u16>,
    /// The payload: everything after the header and extensions.
    pub payload: &'a [u8],
}

impl fmt::Debug for Packet<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Packet")
            .field("header", &self.header)
            .field("sack", &self.sack)
            .field("max_packet", &self.max_packet)
            .field("payload_len", &self.payload.len())
            .finish()
    }
}

impl<'a> Packet<'a> {
    /// Decodes one datagram. Every length is checked against the datagram before it is used;
    /// nothing is allocated.
    pub fn decode(bytes: &'a [u8]) -> Result<Packet<'a>, Error> {
        if bytes.len() < HEADER_LEN {
            return Err(Error::ShortHeader {
                length: bytes.len(),
            });
        }
        let version = bytes[0] & 0x0f;
        if version != VERSION {
            return Err(Error::UnknownVersion { version });
        }
        let packet_type = PacketType::from_nibble(bytes[0] >> 4).ok_or(Error::UnknownType {
            packet_type: bytes[0] >> 4,
        })?;
        let u16_at = |i: usize| u16::from_be_bytes([bytes[i], bytes[i + 1]]);
        let u32_at =
            |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        let header = Header {
            packet_type,
            connection_id: u16_at(2),
            timestamp_us: u32_at(4),
            timestamp_diff_us: u32_at(8),
            wnd_size: u32_at(12),
            seq_nr: Seq(u16_at(16)),
            ack_nr: Seq(u16_at(18)),
        };
        let mut next = bytes[1];
        let mut at = HEADER_LEN;
        let mut sack = None;
        let mut max_packet = None;
        let mut count = 0;
        while next != 0 {
            count += 1;
            if count > MAX_EXTENSIONS {
                return Err(Error::TooManyExtensions { offset: at });
            }
            if bytes.len() < at + 2 {
                return Err(Error::TruncatedExtension { offset: at });
            }
            let (kind, len) = (next, bytes[at + 1] as usize);
            next = bytes[at];
            let start = at + 2;
            if bytes.len() < start + len {
                return Err(Error::TruncatedExtension { offset: at });
            }
            if kind == EXT_SACK {
                if len == 0 {
                    return Err(Error::BadSackLength { length: len });
                }
                sack = Some(&bytes[start..start + len]);
            } else if kind == EXT_MAX_PACKET && len == 2 {
                max_packet = Some(u16::from_be_bytes([bytes[start], bytes[start + 1]]));
            }
            // Other extensions (libtorrent's "extension bits", 2) are skipped, as BEP 29 asks.
            at = start + len;
        }
        if packet_type == PacketType::State && at != bytes.len() {
            return Err(Error::PayloadNotAllowed {
                packet_type: "state",
                length: bytes.len() - at,
            });
        }
        Ok(Packet {
            header,
            sack,
            max_packet,
            payload: &bytes[at..],
        })
    }

    /// The encoded length of a packet with these parts.
    pub fn encoded_len(sack: Option<&[u8]>, max_packet: Option<u16>, payload_len: usize) -> usize {
        HEADER_LEN + sack.map_or(0, |s| 2 + s.len()) + max_packet.map_or(0, |_| 4) + payload_len
    }

    /// Writes the header and extensions of a packet into `out[..]`, returning where the
    /// payload starts. `out` must hold at least [`Packet::encoded_len`]`(sack, max_packet, 0)`
    /// bytes; the sack must be a multiple of four bytes long, at most [`MAX_SACK_LEN`].
    pub fn write_header(
        header: &Header,
        sack: Option<&[u8]>,
        max_packet: Option<u16>,
        out: &mut [u8],
    ) -> usize {
        out[0] = (header.packet_type.nibble() << 4) | VERSION;
        out[1] = match (sack, max_packet) {
            (Some(_), _) => EXT_SACK,
            (None, Some(_)) => EXT_MAX_PACKET,
            (None, None) => 0,
        };
        out[2..4].copy_from_slice(&header.connection_id.to_be_bytes());
        out[4..8].copy_from_slice(&header.timestamp_us.to_be_bytes());
        out[8..12].copy_from_slice(&header.timestamp_diff_us.to_be_bytes());
        out[12..16].copy_from_slice(&header.wnd_size.to_be_bytes());
        out[16..18].copy_from_slice(&header.seq_nr.0.to_be_bytes());
        out[18..20].copy_from_slice(&header.ack_nr.0.to_be_bytes());
        let mut at = HEADER_LEN;
        if let Some(mask) = sack {
            debug_assert!(mask.len() % 4 == 0 && mask.len() <= MAX_SACK_LEN);
            out[at] = if max_packet.is_some() {
                EXT_MAX_PACKET
            } else {
                0
            };
            out[at + 1] = mask.len() as u8;
            out[at + 2..at + 2 + mask.len()].copy_from_slice(mask);
            at += 2 + mask.len();
        }
        if let Some(size) = max_packet {
            out[at] = 0;
            out[at + 1] = 2;
            out[at + 2..at + 4].copy_from_slice(&size.to_be_bytes());
            at += 4;
        }
        at
    }

    /// Appends the encoded packet to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.resize(
            start + Packet::encoded_len(self.sack, self.max_packet, 0),
            0,
        );
        Packet::write_header(&self.header, self.sack, self.max_packet, &mut out[start..]);
        out.extend_from_slice(self.payload);
    }
}

/// Whether the selective-ack bitmask says packet `ack_nr + 2 + i` arrived.
pub(crate) fn sack_bit(mask: &[u8], i: usize) -> bool {
    mask.get(i / 8).is_some_and(|b| b & (1 << (i % 8)) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn header(packet_type: PacketType) -> Header {
        Header {
            packet_type,
            connection_id: 0x1234,
            timestamp_us: 0xdead_beef,
            timestamp_diff_us: 7,
            wnd_size: 1 << 20,
            seq_nr: Seq(65535),
            ack_nr: Seq(3),
        }
    }

    #[test]
    fn syn_matches_the_bep29_layout() {
        let mut out = Vec::new();
        Packet {
            header: header(PacketType::Syn),
            sack: None,
            max_packet: None,
            payload: &[],
        }
        .encode(&mut out);
        assert_eq!(
            out,
            [
                0x41, 0, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 7, 0, 0x10, 0, 0, 0xff, 0xff,
                0, 3
            ]
        );
    }

    #[test]
    fn malformed_datagrams_are_refused_with_what_is_wrong() {
        assert_eq!(
            Packet::decode(&[0x21; 19]),
            Err(Error::ShortHeader { length: 19 })
        );
        let mut ok = Vec::new();
        Packet {
            header: header(PacketType::Data),
            sack: None,
            max_packet: None,
            payload: b"x",
        }
        .encode(&mut ok);
        let mut v2 = ok.clone();
        v2[0] = 0x02;
        assert_eq!(
            Packet::decode(&v2),
            Err(Error::UnknownVersion { version: 2 })
        );
        let mut t5 = ok.clone();
        t5[0] = 0x51;
        assert_eq!(
            Packet::decode(&t5),
            Err(Error::UnknownType { packet_type: 5 })
        );
        let mut trunc = ok[..20].to_vec();
        trunc[1] = 1;
        trunc.extend_from_slice(&[0, 8, 0xff]);
        assert_eq!(
            Packet::decode(&trunc),
            Err(Error::TruncatedExtension { offset: 20 })
        );
        // libtorrent sends masks of (span + 7) / 8 bytes: 3 bytes, or 132, are taken as sent.
        let mut odd = ok[..20].to_vec();
        odd[1] = 1;
        odd.extend_from_slice(&[0, 3, 1, 2, 3]);
        assert_eq!(Packet::decode(&odd).unwrap().sack, Some(&[1u8, 2, 3][..]));
        let mut long = ok[..20].to_vec();
        long[1] = 1;
        long.extend_from_slice(&[0, 132]);
        long.extend_from_slice(&[0xff; 132]);
        assert_eq!(
            Packet::decode(&long).unwrap().sack.map(<[u8]>::len),
            Some(132)
        );
        let mut empty = ok[..20].to_vec();
        empty[1] = 1;
        empty.extend_from_slice(&[0, 0]);
        assert_eq!(
            Packet::decode(&empty),
            Err(Error::BadSackLength { length: 0 })
        );
        let mut chain = ok[..20].to_vec();
        chain[1] = 2;
        for _ in 0..9 {
            chain.extend_from_slice(&[2, 0]);
        }
        assert!(matches!(
            Packet::decode(&chain),
            Err(Error::TooManyExtensions { .. })
        ));
        let mut state = Vec::new();
        Packet {
            header: header(PacketType::State),
            sack: None,
            max_packet: None,
            payload: b"zz",
        }
        .encode(&mut state);
        assert!(matches!(
            Packet::decode(&state),
            Err(Error::PayloadNotAllowed { length: 2, .. })
        ));
    }

    #[test]
    fn unknown_extensions_are_skipped() {
        let mut bytes = Vec::new();
        Packet {
            header: header(PacketType::Data),
            sack: None,
            max_packet: None,
            payload: &[],
        }
        .encode(&mut bytes);
        bytes[1] = 2; // libtorrent's extension bits
        bytes.extend_from_slice(&[1, 8, 0, 0, 0, 0, 0, 0, 0, 0]);
        bytes.extend_from_slice(&[0, 4, 0b101, 0, 0, 0]);
        bytes.extend_from_slice(b"data");
        let p = Packet::decode(&bytes).unwrap();
        assert_eq!(p.sack, Some(&[0b101u8, 0, 0, 0][..]));
        assert_eq!(p.payload, b"data");
        assert!(sack_bit(p.sack.unwrap(), 0) && !sack_bit(p.sack.unwrap(), 1));
        assert!(sack_bit(p.sack.unwrap(), 2) && !sack_bit(p.sack.unwrap(), 40));
    }

    proptest! {
        #[test]
        fn round_trip(t in 0u8..5, id: u16, ts: u32, diff: u32, wnd: u32, seq: u16, ack: u16,
                      sack in proptest::option::of(proptest::collection::vec(any::<u8>(), 1..=32usize)),
                      max_packet: Option<u16>,
                      payload in proptest::collection::vec(any::<u8>(), 0..64)) {
            let packet_type = PacketType::from_nibble(t).unwrap();
            let payload = if packet_type == PacketType::State { Vec::new() } else { payload };
            let sack = sack.map(|mut s| { s.resize(s.len().div_ceil(4) * 4, 0); s });
            let p = Packet {
                header: Header { packet_type, connection_id: id, timestamp_us: ts,
                    timestamp_diff_us: diff, wnd_size: wnd, seq_nr: Seq(seq), ack_nr: Seq(ack) },
                sack: sack.as_deref(),
                max_packet,
                payload: &payload,
            };
            let mut out = Vec::new();
            p.encode(&mut out);
            prop_assert_eq!(out.len(), Packet::encoded_len(p.sack, p.max_packet, payload.len()));
            prop_assert_eq!(Packet::decode(&out).unwrap(), p);
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            if let Ok(p) = Packet::decode(&bytes) {
                prop_assert!(p.payload.len() + HEADER_LEN <= bytes.len());
            }
        }
    }
}
