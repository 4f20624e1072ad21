//! The connection's tests: handshakes, splits of the input, protocol errors, a whole download,
//! the request queue depth, timeouts and snubbing, choking, cancels and keep-alives.

use std::time::{Duration, Instant};

use bytes::Bytes;
use torrentkit_wire::{Error as WireError, Handshake, Limits, Message, PeerId};

use super::pair::Pair;
use super::*;
use crate::storage::BLOCK_SIZE;
use crate::{ConnId, Picker, PickerConfig, Received};

const HASH: [u8; 20] = [9; 20];

fn cfg(id: u8, pieces: u32) -> ConnectionConfig {
    ConnectionConfig::new(HASH, [id; 20], pieces)
}

#[test]
fn handshake_and_extension_handshake() {
    let mut b = cfg(2, 8);
    b.max_peer_requests = 77;
    b.listen_port = Some(6881);
    let p = Pair::new(cfg(1, 8), b);
    assert!(p.a.is_connected() && p.b.is_connected());
    assert!(
        matches!(&p.ev_a[0], ConnEvent::Connected { peer_id, fast: true, extensions: true } if peer_id.0 == [2; 20])
    );
    match &p.ev_a[1] {
        ConnEvent::ExtensionHandshake {
            client,
            reqq,
            listen_port,
        } => {
            assert!(client.as_deref().unwrap().starts_with("torrentkit "));
            assert_eq!((*reqq, *listen_port), (Some(77), Some(6881)));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(p.a.peer_reqq, 77, "a honours b's reqq");
}

/// Regression guard for the zero-copy input path: however a stream is cut into reads, the
/// events are the same.
#[test]
fn any_split_of_the_input_gives_the_same_events() {
    let mut stream = Vec::new();
    Handshake::new(HASH, PeerId([2; 20])).encode(&mut stream);
    Message::Bitfield(&[0b1010_0000])
        .encode(&mut stream)
        .unwrap();
    for i in 0..20u32 {
        Message::Have { piece: i % 8 }.encode(&mut stream).unwrap();
        Message::Piece {
            index: i % 8,
            begin: i * 16,
            block: &vec![i as u8; 100 + i as usize * 7],
        }
        .encode(&mut stream)
        .unwrap();
        Message::KeepAlive.encode(&mut stream).unwrap();
    }
    let events = |cuts: &[usize]| {
        let now = Instant::now();
        let mut c = Connection::new(cfg(1, 8), now);
        let mut at = 0;
        for &cut in cuts.iter().chain([stream.len()].iter()) {
            c.handle_bytes(now, Bytes::copy_from_slice(&stream[at..cut.max(at)]));
            at = cut.max(at);
        }
        std::iter::from_fn(|| c.poll_event()).collect::<Vec<_>>()
    };
    let whole = events(&[]);
    assert_eq!(
        whole.len(),
        1 + 1 + 40,
        "connected, bitfield, 20 haves and 20 blocks"
    );
    let mut rng = crate::Rng::new(11);
    for _ in 0..200 {
        let mut cuts: Vec<usize> = (0..rng.index(30))
            .map(|_| rng.index(stream.len()))
            .collect();
        cuts.sort_unstable();
        assert_eq!(events(&cuts), whole, "cuts {cuts:?}");
    }
    let every_byte: Vec<usize> = (1..stream.len()).collect();
    assert_eq!(events(&every_byte), whole);
}

#[test]
fn wrong_info_hash_and_self_connections_are_dropped() {
    let mut other = cfg(2, 8);
    other.info_hash = [1; 20];
    let p = Pair::new(cfg(1, 8), other);
    assert!(!p.a.is_open() && !p.b.is_open());
    assert_eq!(
        p.ev_a.last(),
        Some(&ConnEvent::Closed(CloseReason::InfoHashMismatch))
    );
    let p = Pair::new(cfg(1, 8), cfg(1, 8));
    assert_eq!(
        p.ev_a.last(),
        Some(&ConnEvent::Closed(CloseReason::SelfConnection))
    );
}

#[test]
fn garbage_and_bad_indices_close_with_the_reason() {
    let now = Instant::now();
    let mut c = Connection::new(cfg(1, 8), now);
    c.handle_bytes(
        now,
        Bytes::from_static(
            b"GET / HTTP/1.1\r\n\r\n................................................................",
        ),
    );
    match c.poll_event() {
        Some(ConnEvent::Closed(reason @ CloseReason::Wire(WireError::WrongProtocol { .. }))) => {
            let m = reason.to_string();
            assert!(m.contains("wire"), "{m}");
        }
        other => panic!("{other:?}"),
    }
    let mut p = Pair::new(cfg(1, 8), cfg(2, 8));
    p.b.send_have(p.now, 8);
    p.drive();
    let have_past_the_end = CloseReason::Violation(ProtocolViolation::PieceOutOfRange {
        message: "have",
        piece: 8,
        pieces: 8,
    });
    assert_eq!(
        p.ev_a.last(),
        Some(&ConnEvent::Closed(have_past_the_end.clone()))
    );
    assert_eq!(
        have_past_the_end.to_string(),
        "protocol error: have for piece 8 of 8"
    );
    let mut p = Pair::new(cfg(1, 8), cfg(2, 8));
    p.b.push(p.now, &Message::Bitfield(&[0xff, 0xff]));
    p.drive();
    assert!(
        matches!(p.ev_a.last(), Some(ConnEvent::Closed(reason @ CloseReason::Wire(WireError::BitfieldLength { .. }))) if reason.to_string().contains("bitfield")),
        "{:?}",
        p.ev_a.last()
    );
}

/// A whole download over one connection: bitfield, interest, unchoke, pipelined requests
/// served from the seed's data, every piece verified by content.
#[test]
fn leecher_downloads_everything_from_a_seed() {
    let piece_len = 4 * BLOCK_SIZE;
    let total = u64::from(piece_len) * 6 - 1000;
    let pieces = 6;
    let data: Vec<u8> = (0..total).map(|i| (i * 7 % 251) as u8).collect();
    let mut p = Pair::new(cfg(1, pieces), cfg(2, pieces));
    p.b.send_bitfield(p.now, &Bitfield::full(pieces));
    p.drive();
    let mut picker = Picker::with_sizes(total, piece_len, PickerConfig::default(), 3);
    let seed = ConnId(2);
    picker.add_peer(seed);
    let mut got = vec![0u8; total as usize];
    let mut max_in_flight = 0;
    for _round in 0..1000 {
        for e in std::mem::take(&mut p.ev_a) {
            match e {
                ConnEvent::HaveAll => picker.peer_have_all(seed),
                ConnEvent::Bitfield(b) => {
                    picker.peer_bitfield(seed, &b);
                }
                ConnEvent::Block {
                    piece,
                    offset,
                    data,
                    requested,
                } => {
                    assert!(requested);
                    if let Received::New { piece_complete, .. } =
                        picker.block_received(seed, piece, offset, data.len() as u32)
                    {
                        let at =
                            (u64::from(piece) * u64::from(piece_len) + u64::from(offset)) as usize;
                        got[at..at + data.len()].copy_from_slice(&data);
                        if piece_complete {
                            picker.piece_verified(piece);
                        }
                    }
                }
                _ => {}
            }
        }
        let interested = picker.is_interesting(seed);
        p.a.set_interested(p.now, interested);
        for e in std::mem::take(&mut p.ev_b) {
            match e {
                ConnEvent::PeerInterested(true) => p.b.set_choking(p.now, false),
                ConnEvent::ReadBlock(r) => {
                    let at =
                        (u64::from(r.piece) * u64::from(piece_len) + u64::from(r.offset)) as usize;
                    assert!(p.b.send_block(p.now, r, &data[at..at + r.len as usize]));
                }
                _ => {}
            }
        }
        let slots = p.a.request_slots();
        let reqs = picker.pick(seed, slots);
        p.a.send_requests(p.now, &reqs);
        max_in_flight = max_in_flight.max(p.a.in_flight().len());
        p.now += Duration::from_millis(100);
        p.a.handle_timeout(p.now);
        p.b.handle_timeout(p.now);
        p.drive();
        if picker.is_complete() {
            break;
        }
    }
    assert!(picker.is_complete());
    assert_eq!(got, data);
    assert!(
        max_in_flight > 4,
        "pipelined: {max_in_flight} in flight at most"
    );
    assert_eq!(p.b.transferred().1, total);
    assert_eq!(p.a.transferred().0, total);
}

#[test]
fn queue_depth_follows_the_rate_and_honours_reqq() {
    let mut b = cfg(2, 1000);
    b.max_peer_requests = 40;
    let mut p = Pair::new(cfg(1, 1000), b);
    let c = &mut p.a;
    assert_eq!(c.queue_depth(), 4, "min queue before anything arrives");
    // Slow start: every block adds one.
    let now = p.now;
    let block = vec![0u8; BLOCK_SIZE as usize];
    for i in 0..10 {
        let mut msg = Vec::new();
        Message::Piece {
            index: i,
            begin: 0,
            block: &block,
        }
        .encode(&mut msg)
        .unwrap();
        c.handle_bytes(now, msg.into());
    }
    assert_eq!(c.queue_depth(), 14);
    // 100 blocks in the next second: ~1.6 MB/s, 3 s worth is ~300 blocks, capped at reqq 40.
    for i in 0..100 {
        let mut msg = Vec::new();
        Message::Piece {
            index: i,
            begin: 0,
            block: &block,
        }
        .encode(&mut msg)
        .unwrap();
        c.handle_bytes(now + Duration::from_millis(10 * i as u64), msg.into());
    }
    c.handle_timeout(now + Duration::from_secs(1));
    assert!(c.download_rate() > 1_500_000, "{}", c.download_rate());
    assert_eq!(c.queue_depth(), 40, "capped by the peer's reqq");
    // A slow peer: 10 KB/s gives the minimum.
    let mut slow = Connection::new(cfg(1, 1000), now);
    slow.peer_reqq = 250;
    slow.state = State::Open;
    slow.handle_bytes(
        now,
        Bytes::from({
            let mut msg = Vec::new();
            Message::Piece {
                index: 0,
                begin: 0,
                block: &[0u8; 10_000],
            }
            .encode(&mut msg)
            .unwrap();
            msg
        }),
    );
    slow.handle_timeout(now + Duration::from_secs(1));
    assert_eq!(slow.queue_depth(), 4);
}

#[test]
fn unanswered_requests_time_out_and_the_peer_is_snubbed() {
    let mut p = Pair::new(cfg(1, 8), cfg(2, 8));
    p.b.send_bitfield(p.now, &Bitfield::full(8));
    p.drive();
    p.a.set_interested(p.now, true);
    p.b.set_choking(p.now, false);
    p.drive();
    let reqs: Vec<BlockRequest> = (0..4)
        .map(|i| BlockRequest {
            piece: i,
            offset: 0,
            len: BLOCK_SIZE,
        })
        .collect();
    assert_eq!(p.a.request_slots(), 4);
    p.a.send_requests(p.now, &reqs);
    p.drive();
    assert_eq!(
        p.ev_b
            .iter()
            .filter(|e| matches!(e, ConnEvent::ReadBlock(_)))
            .count(),
        4
    );
    p.ev_a.clear();
    // b never answers.
    p.advance(Duration::from_secs(29));
    assert!(!p.a.is_snubbed());
    assert_eq!(p.a.poll_timeout(), Some(p.now + Duration::from_secs(1)));
    p.advance(Duration::from_secs(1));
    assert!(p.a.is_snubbed());
    assert_eq!(
        p.ev_a,
        vec![ConnEvent::Snubbed, ConnEvent::Released(reqs.clone())]
    );
    assert!(p.a.in_flight().is_empty());
    assert_eq!(
        p.a.request_slots(),
        1,
        "one request at a time while snubbed"
    );
    // The cancels reached b (fast extension: b answers each with a reject, ignored by a).
    assert!(p.b.peer_requests.is_empty());
    // A block ends the snub.
    p.a.send_requests(p.now, &reqs[..1]);
    p.drive();
    assert!(p.b.send_block(p.now, reqs[0], &[1u8; BLOCK_SIZE as usize]));
    p.drive();
    assert!(!p.a.is_snubbed());
}

#[test]
fn choke_releases_requests_without_fast_and_rejects_with_it() {
    for fast in [false, true] {
        let mut a = cfg(1, 8);
        a.reserved = a.reserved.with_fast(fast);
        let mut p = Pair::new(a, cfg(2, 8));
        assert_eq!(p.a.fast(), fast);
        p.a.set_interested(p.now, true);
        p.b.set_choking(p.now, false);
        p.drive();
        let reqs: Vec<BlockRequest> = (0..2)
            .map(|i| BlockRequest {
                piece: i,
                offset: 0,
                len: BLOCK_SIZE,
            })
            .collect();
        p.a.send_requests(p.now, &reqs);
        p.drive();
        p.ev_a.clear();
        p.b.set_choking(p.now, true);
        p.drive();
        if fast {
            assert_eq!(
                p.ev_a,
                vec![
                    ConnEvent::Choked,
                    ConnEvent::Rejected(reqs[0]),
                    ConnEvent::Rejected(reqs[1])
                ]
            );
        } else {
            assert_eq!(
                p.ev_a,
                vec![ConnEvent::Released(reqs.clone()), ConnEvent::Choked]
            );
        }
        assert!(p.a.in_flight().is_empty());
        assert_eq!(p.a.request_slots(), 0, "choked");
        // A request while choked is rejected (fast) or ignored.
        p.ev_b.clear();
        p.a.send_requests(p.now, &reqs[..1]);
        p.drive();
        assert!(p.ev_b.is_empty(), "{:?}", p.ev_b);
        assert_eq!(p.a.in_flight().len(), usize::from(!fast));
    }
}

#[test]
fn cancelled_requests_are_not_served() {
    let mut p = Pair::new(cfg(1, 8), cfg(2, 8));
    p.a.set_interested(p.now, true);
    p.b.set_choking(p.now, false);
    p.drive();
    let r = BlockRequest {
        piece: 3,
        offset: 0,
        len: 100,
    };
    p.a.send_requests(p.now, &[r]);
    p.drive();
    p.a.cancel(p.now, r);
    p.drive();
    assert!(
        !p.b.send_block(p.now, r, &[0; 100]),
        "cancelled before it was read"
    );
    assert!(p.ev_a.contains(&ConnEvent::Rejected(r)) || p.a.in_flight().is_empty());
}

#[test]
fn keepalives_and_idle_timeout() {
    let mut p = Pair::new(cfg(1, 8), cfg(2, 8));
    let before = p.bytes_ab;
    p.advance(Duration::from_secs(89));
    assert_eq!(p.bytes_ab, before);
    p.advance(Duration::from_secs(1));
    assert_eq!(p.bytes_ab, before + 4, "a keep-alive is 4 zero bytes");
    assert!(
        p.a.is_open() && p.b.is_open(),
        "keep-alives keep both ends open"
    );
    // Ten minutes of silence, with timers serviced every 10 s as a driver would.
    for _ in 0..60 {
        p.advance(Duration::from_secs(10));
    }
    assert!(p.a.is_open() && p.b.is_open());
    assert_eq!(p.bytes_ab, before + 4 * 7, "one keep-alive per 90 s");
    // A peer that falls silent is dropped after 180 s.
    let now = Instant::now();
    let mut lone = Connection::new(cfg(1, 8), now);
    lone.state = State::Open;
    lone.handle_timeout(now + Duration::from_secs(179));
    assert!(lone.is_open());
    lone.handle_timeout(now + Duration::from_secs(180));
    assert_eq!(
        lone.poll_event(),
        Some(ConnEvent::Closed(CloseReason::Timeout(
            "the peer sent nothing"
        )))
    );
    let mut shy = Connection::new(cfg(1, 8), now);
    assert_eq!(shy.poll_timeout(), Some(now + Duration::from_secs(20)));
    shy.handle_timeout(now + Duration::from_secs(20));
    assert_eq!(
        shy.poll_event(),
        Some(ConnEvent::Closed(CloseReason::Timeout("no handshake")))
    );
}

#[test]
fn a_request_of_no_bytes_or_past_the_block_limit_closes_with_its_length() {
    for length in [0, Limits::default().max_block_len + 1] {
        let mut p = Pair::new(cfg(1, 8), cfg(2, 8));
        p.b.set_choking(p.now, false);
        p.a.push(
            p.now,
            &Message::Request(torrentkit_wire::BlockRequest {
                index: 0,
                begin: 0,
                length,
            }),
        );
        p.drive();
        let reason = CloseReason::Violation(ProtocolViolation::RequestLength { length });
        assert_eq!(p.ev_b.last(), Some(&ConnEvent::Closed(reason.clone())));
        assert_eq!(
            reason.to_string(),
            format!("protocol error: request of {length} bytes")
        );
    }
}

/// Guards the zero-copy block path: a block that arrives whole in one read is handed on as a
/// slice of that read's buffer, not a copy; one cut across reads is assembled once and is
/// still exact.
#[test]
fn a_block_is_a_slice_of_the_buffer_it_arrived_in() {
    let now = Instant::now();
    let mut stream = Vec::new();
    Handshake::new(HASH, PeerId([2; 20])).encode(&mut stream);
    let block: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
    for index in 0..2 {
        Message::Piece {
            index,
            begin: 0,
            block: &block,
        }
        .encode(&mut stream)
        .unwrap();
    }
    let cut = stream.len() - 300; // inside the second block
    let input = Bytes::from(stream);
    let mut c = Connection::new(cfg(1, 8), now);
    c.handle_bytes(now, input.slice(..cut));
    c.handle_bytes(now, input.slice(cut..));
    let blocks: Vec<Bytes> = std::iter::from_fn(|| c.poll_event())
        .filter_map(|e| match e {
            ConnEvent::Block { data, .. } => Some(data),
            _ => None,
        })
        .collect();
    assert_eq!(blocks.len(), 2);
    assert!(blocks.iter().all(|b| b[..] == block[..]));
    let range = input.as_ptr_range();
    assert!(
        range.contains(&blocks[0].as_ptr()),
        "the whole block shares the read buffer"
    );
    assert!(
        !range.contains(&blocks[1].as_ptr()),
        "the cut block was assembled in the connection's own buffer"
    );
}

#[test]
fn hash_messages_travel_both_ways_and_a_bad_count_closes() {
    use torrentkit_wire::HashRequest;
    let mut a = cfg(1, 8);
    a.reserved = a.reserved.with_v2_upgrade(true);
    let mut p = Pair::new(a, cfg(2, 8));
    assert!(p.b.peer_v2() && !p.a.peer_v2());
    let r = HashRequest {
        pieces_root: [7; 32],
        base_layer: 0,
        index: 4,
        length: 4,
        proof_layers: 2,
    };
    p.ev_a.clear();
    p.ev_b.clear();
    p.a.send_hash_request(p.now, r);
    p.drive();
    assert_eq!(p.ev_b, vec![ConnEvent::HashRequest(r)]);
    // Four base hashes and the one uncle proof_layers 2 implies.
    let hashes: Vec<[u8; 32]> = (0..5u8).map(|i| [i; 32]).collect();
    p.b.send_hashes(p.now, r, hashes.clone());
    p.b.send_hash_reject(p.now, r);
    p.drive();
    assert_eq!(
        p.ev_a,
        vec![
            ConnEvent::Hashes {
                request: r,
                hashes: hashes.clone()
            },
            ConnEvent::HashRejected(r)
        ]
    );
    // A reply with a hash too many is malformed: the connection closes.
    p.b.send_hashes(p.now, r, [hashes.clone(), vec![[9; 32]]].concat());
    p.drive();
    assert!(!p.a.is_open());
}
