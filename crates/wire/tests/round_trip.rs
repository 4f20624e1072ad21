//! Property tests: every message and extension payload survives encode then decode, from any
//! split of the stream into reads.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};

use proptest::collection::{btree_map, vec};
use proptest::option;
use proptest::prelude::*;
use torrentkit_wire::{
    decode_message, Bitfield, BlockRequest, ExtendedHandshake, ExtendedMessage, ExtensionIds,
    Handshake, Limits, Message, Messages, MetadataMessage, PeerId, PexFlags, PexMessage, Reserved,
    Status, METADATA_PIECE_LEN,
};

/// An owned description of a message, from which a borrowed `Message` is built.
#[derive(Debug, Clone)]
enum Spec {
    Fixed(u8),
    Have(u32),
    Bitfield(Vec<u8>),
    Request(u8, BlockRequest),
    Piece(u32, u32, Vec<u8>),
    Port(u16),
    Fast(u8, u32),
    Extended(u8, Vec<u8>),
    Unknown(u8, Vec<u8>),
}

impl Spec {
    fn message(&self) -> Message<'_> {
        match self {
            Spec::Fixed(0) => Message::KeepAlive,
            Spec::Fixed(1) => Message::Choke,
            Spec::Fixed(2) => Message::Unchoke,
            Spec::Fixed(3) => Message::Interested,
            Spec::Fixed(4) => Message::NotInterested,
            Spec::Fixed(5) => Message::HaveAll,
            Spec::Fixed(_) => Message::HaveNone,
            Spec::Have(piece) => Message::Have { piece: *piece },
            Spec::Bitfield(bits) => Message::Bitfield(bits),
            Spec::Request(0, r) => Message::Request(*r),
            Spec::Request(1, r) => Message::Cancel(*r),
            Spec::Request(_, r) => Message::RejectRequest(*r),
            Spec::Piece(index, begin, block) => Message::Piece {
                index: *index,
                begin: *begin,
                block,
            },
            Spec::Port(port) => Message::Port(*port),
            Spec::Fast(0, piece) => Message::SuggestPiece { piece: *piece },
            Spec::Fast(_, piece) => Message::AllowedFast { piece: *piece },
            Spec::Extended(id, payload) => Message::Extended { id: *id, payload },
            Spec::Unknown(id, payload) => Message::Unknown { id: *id, payload },
        }
    }
}

fn block_request() -> impl Strategy<Value = BlockRequest> {
    (any::<u32>(), any::<u32>(), any::<u32>()).prop_map(|(index, begin, length)| BlockRequest {
        index,
        begin,
        length,
    })
}

fn spec() -> impl Strategy<Value = Spec> {
    prop_oneof![
        (0u8..7).prop_map(Spec::Fixed),
        any::<u32>().prop_map(Spec::Have),
        vec(any::<u8>(), 0..64).prop_map(Spec::Bitfield),
        (0u8..3, block_request()).prop_map(|(k, r)| Spec::Request(k, r)),
        (any::<u32>(), any::<u32>(), vec(any::<u8>(), 0..300))
            .prop_map(|(i, b, block)| Spec::Piece(i, b, block)),
        any::<u16>().prop_map(Spec::Port),
        (0u8..2, any::<u32>()).prop_map(|(k, p)| Spec::Fast(k, p)),
        (any::<u8>(), vec(any::<u8>(), 0..64)).prop_map(|(id, p)| Spec::Extended(id, p)),
        // Ids no BEP here assigns: 10-12 and 21 upwards, except 20 (extended).
        (prop_oneof![10u8..13, 21u8..=255], vec(any::<u8>(), 0..64))
            .prop_map(|(id, p)| Spec::Unknown(id, p)),
    ]
}

fn extended_handshake() -> impl Strategy<Value = (Vec<(Vec<u8>, u8)>, ExtendedHandshake<'static>)> {
    (
        btree_map(vec(any::<u8>(), 0..12), any::<u8>(), 0..5),
        option::of(vec(any::<u8>(), 0..20)),
        option::of(any::<u16>()),
        option::of(any::<u32>()),
        option::of(prop_oneof![
            any::<[u8; 4]>().prop_map(std::net::IpAddr::from),
            any::<[u8; 16]>().prop_map(std::net::IpAddr::from),
        ]),
        option::of(any::<[u8; 4]>().prop_map(Ipv4Addr::from)),
        option::of(any::<[u8; 16]>().prop_map(Ipv6Addr::from)),
        option::of(0..=i64::MAX as u64),
    )
        .prop_map(|(m, v, p, reqq, yourip, ipv4, ipv6, size)| {
            // Keys and `v` are leaked so the handshake can borrow them for 'static: a test-only
            // convenience that keeps the strategy simple.
            let client = v.map(|v| &*Vec::leak(v));
            let extensions = m
                .iter()
                .map(|(k, id)| (&*Vec::leak(k.clone()), *id))
                .collect();
            let h = ExtendedHandshake {
                extensions,
                client,
                listen_port: p,
                request_queue: reqq,
                your_ip: yourip,
                ipv4,
                ipv6,
                metadata_size: size,
            };
            (m.into_iter().collect(), h)
        })
}

fn pex() -> impl Strategy<Value = PexMessage> {
    let v4 =
        (any::<[u8; 4]>(), any::<u16>()).prop_map(|(ip, port)| SocketAddrV4::new(ip.into(), port));
    let v6 = (any::<[u8; 16]>(), any::<u16>())
        .prop_map(|(ip, port)| SocketAddrV6::new(ip.into(), port, 0, 0));
    (
        vec((v4.clone(), any::<u8>().prop_map(PexFlags)), 0..8),
        vec((v6.clone(), any::<u8>().prop_map(PexFlags)), 0..8),
        vec(v4, 0..8),
        vec(v6, 0..8),
    )
        .prop_map(|(added, added6, dropped, dropped6)| PexMessage {
            added,
            added6,
            dropped,
            dropped6,
        })
}

fn metadata() -> impl Strategy<Value = (u32, u64, Vec<u8>, u8)> {
    // (piece, total_size, data for Data, kind)
    (0u32..64, 1u64..(64 * METADATA_PIECE_LEN as u64), 0u8..3).prop_flat_map(
        |(piece, total, kind)| {
            let pieces = total.div_ceil(METADATA_PIECE_LEN as u64) as u32;
            let piece = piece % pieces;
            let start = u64::from(piece) * METADATA_PIECE_LEN as u64;
            let len = (total - start).min(METADATA_PIECE_LEN as u64) as usize;
            (Just(piece), Just(total), vec(any::<u8>(), len), Just(kind))
        },
    )
}

proptest! {
    #[test]
    fn every_message_round_trips_through_any_split(specs in vec(spec(), 1..20), cut_seed in any::<usize>()) {
        let mut stream = Vec::new();
        for s in &specs {
            s.message().encode(&mut stream).unwrap();
        }
        // Writing into a slice gives the same bytes.
        let mut slice = vec![0u8; stream.len()];
        let mut at = 0;
        for s in &specs {
            at += s.message().encode_to_slice(&mut slice[at..]).unwrap();
        }
        prop_assert_eq!(&slice, &stream);
        let limits = Limits::default();
        // The whole stream decodes to exactly the messages, consuming every byte.
        let mut messages = Messages::new(&stream, limits);
        let decoded: Vec<Message<'_>> = messages.by_ref().collect::<Result<_, _>>().unwrap();
        let expected: Vec<Message<'_>> = specs.iter().map(Spec::message).collect();
        prop_assert_eq!(decoded, expected.clone());
        prop_assert_eq!(messages.consumed(), stream.len());
        prop_assert_eq!(messages.needed(), Some(4));

        // Cut anywhere: the prefix yields whole messages, then Incomplete by exactly the bytes
        // that complete the next one.
        let cut = cut_seed % (stream.len() + 1);
        let mut pos = 0;
        let mut got = 0;
        loop {
            match decode_message(&stream[pos..cut], &limits).unwrap() {
                Status::Complete { value, consumed } => {
                    prop_assert_eq!(value, expected[got]);
                    got += 1;
                    pos += consumed;
                }
                Status::Incomplete { needed } => {
                    prop_assert!(needed > 0);
                    let next_len = if cut - pos < 4 { 4 } else { expected[got].encoded_len() };
                    prop_assert_eq!(needed, next_len - (cut - pos));
                    break;
                }
            }
        }
    }

    #[test]
    fn handshakes_round_trip(reserved in any::<[u8; 8]>(), info_hash in any::<[u8; 20]>(), id in any::<[u8; 20]>()) {
        let h = Handshake { reserved: Reserved(reserved), info_hash, peer_id: PeerId(id) };
        let bytes = h.to_bytes();
        prop_assert_eq!(Handshake::decode(&bytes).unwrap(), Status::Complete { value: h, consumed: 68 });
        for cut in [0, 1, 20, 47, 48, 67] {
            prop_assert_eq!(Handshake::decode(&bytes[..cut]).unwrap(), Status::Incomplete { needed: 68 - cut });
        }
    }

    #[test]
    fn extended_handshakes_round_trip((_, h) in extended_handshake()) {
        let payload = h.to_payload();
        let back = ExtendedHandshake::decode(&payload).unwrap();
        prop_assert_eq!(&back, &h);
        // Through a whole wire message too.
        let mut wire = Vec::new();
        prop_assert!(ExtendedMessage::Handshake(h.clone()).encode(&ExtensionIds::NONE, &mut wire).unwrap());
        let Status::Complete { value: Message::Extended { id: 0, payload }, consumed } =
            decode_message(&wire, &Limits::default()).unwrap() else { panic!("not an extended message") };
        prop_assert_eq!(consumed, wire.len());
        prop_assert_eq!(ExtendedMessage::decode(0, payload, &ExtensionIds::default()).unwrap(), ExtendedMessage::Handshake(h));
    }

    #[test]
    fn pex_round_trips(p in pex()) {
        prop_assert_eq!(PexMessage::decode(&p.to_payload()).unwrap(), p);
    }

    #[test]
    fn metadata_round_trips((piece, total_size, data, kind) in metadata()) {
        let m = match kind {
            0 => MetadataMessage::Request { piece },
            1 => MetadataMessage::Data { piece, total_size, data: &data },
            _ => MetadataMessage::Reject { piece },
        };
        let payload = m.to_payload();
        prop_assert_eq!(MetadataMessage::decode(&payload).unwrap(), m);
        let ids = ExtensionIds::default();
        let mut wire = Vec::new();
        prop_assert!(ExtendedMessage::Metadata(m).encode(&ids, &mut wire).unwrap());
        let Status::Complete { value: Message::Extended { id, payload }, .. } =
            decode_message(&wire, &Limits::default()).unwrap() else { panic!("not an extended message") };
        prop_assert_eq!(ExtendedMessage::decode(id, payload, &ids).unwrap(), ExtendedMessage::Metadata(m));
    }

    #[test]
    fn bitfields_round_trip_and_set_ops_match_a_naive_model(
        pieces in 0u32..300,
        a in vec(any::<bool>(), 300),
        b in vec(any::<bool>(), 300),
    ) {
        let n = pieces as usize;
        let mut x = Bitfield::new(pieces);
        let mut y = Bitfield::new(pieces);
        for i in 0..n {
            if a[i] { x.insert(i as u32).unwrap(); }
            if b[i] { y.insert(i as u32).unwrap(); }
        }
        prop_assert_eq!(Bitfield::from_bytes(&x.to_bytes(), pieces).unwrap(), x.clone());
        let ones = |v: &[bool]| (0..n).filter(|&i| v[i]).map(|i| i as u32).collect::<Vec<_>>();
        prop_assert_eq!(x.iter().collect::<Vec<_>>(), ones(&a));
        prop_assert_eq!(x.count() as usize, ones(&a).len());
        let wanted: Vec<u32> = (0..n).filter(|&i| b[i] && !a[i]).map(|i| i as u32).collect();
        prop_assert_eq!(x.first_wanted(&y), wanted.first().copied());
        prop_assert_eq!(x.wanted_count(&y) as usize, wanted.len());
        let mut u = x.clone();
        u.union_with(&y);
        prop_assert_eq!(u.iter().collect::<Vec<_>>(), (0..n).filter(|&i| a[i] || b[i]).map(|i| i as u32).collect::<Vec<_>>());
        let mut d = x.clone();
        d.difference_with(&y);
        prop_assert_eq!(d.iter().collect::<Vec<_>>(), (0..n).filter(|&i| a[i] && !b[i]).map(|i| i as u32).collect::<Vec<_>>());
        let mut i2 = x.clone();
        i2.intersect_with(&y);
        prop_assert_eq!(i2.iter().collect::<Vec<_>>(), (0..n).filter(|&i| a[i] && b[i]).map(|i| i as u32).collect::<Vec<_>>());
    }
}
