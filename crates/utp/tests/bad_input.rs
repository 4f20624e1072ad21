//! Hostile and malformed input: every kind is dropped and counted, nothing panics, and what
//! a remote host can make an endpoint hold stays bounded.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use torrentkit_utp::{Config, ConnectionHandle, Endpoint, Event, Header, Packet, PacketType, Seq};

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 1], port))
}

/// A connected pair: `a` dialled `b`; returns the handles and the ids `a`'s packets carry.
fn pair(now: Instant) -> (Endpoint, Endpoint, ConnectionHandle, ConnectionHandle) {
    let mut a = Endpoint::new(Config::default(), now);
    let mut b = Endpoint::new(
        Config {
            seed: 9,
            ..Config::default()
        },
        now,
    );
    let ha = a.connect(addr(2), now).unwrap();
    let mut buf = Vec::new();
    for _ in 0..4 {
        buf.clear();
        while let Some(t) = a.poll_transmit(now, &mut buf) {
            b.handle_datagram(addr(1), &buf[buf.len() - t.len..], now);
        }
        buf.clear();
        while let Some(t) = b.poll_transmit(now, &mut buf) {
            a.handle_datagram(addr(2), &buf[buf.len() - t.len..], now);
        }
    }
    let hb = std::iter::from_fn(|| b.poll_event())
        .find_map(|e| {
            if let Event::Incoming(h) = e {
                Some(h)
            } else {
                None
            }
        })
        .unwrap();
    assert!(std::iter::from_fn(|| a.poll_event()).any(|e| e == Event::Connected(ha)));
    (a, b, ha, hb)
}

fn state(connection_id: u16, seq: u16, ack: u16) -> Vec<u8> {
    let mut out = Vec::new();
    Packet {
        header: Header {
            packet_type: PacketType::State,
            connection_id,
            timestamp_us: 1,
            timestamp_diff_us: 1,
            wnd_size: 1 << 20,
            seq_nr: Seq(seq),
            ack_nr: Seq(ack),
        },
        sack: None,
        max_packet: None,
        payload: &[],
    }
    .encode(&mut out);
    out
}

/// Captures the next datagram `from` sends.
fn next_datagram(e: &mut Endpoint, now: Instant) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    e.poll_transmit(now, &mut buf).map(|_| buf)
}

#[test]
fn malformed_datagrams_are_counted_and_dropped() {
    let now = Instant::now();
    let mut e = Endpoint::new(Config::default(), now);
    let bad: [&[u8]; 5] = [
        &[],
        &[0x41; 10], // short header
        &[0x42; 20], // version 2
        &[0x91; 20], // type 9
        &[
            0x01, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 200,
        ], // truncated sack
    ];
    for b in bad {
        e.handle_datagram(addr(1), b, now);
    }
    let s = e.stats();
    assert_eq!(s.malformed, 5);
    assert_eq!(s.connections, 0);
    assert!(
        e.poll_transmit(now, &mut Vec::new()).is_none(),
        "nothing answers garbage"
    );
}

#[test]
fn acks_for_unsent_data_are_dropped_and_the_connection_goes_on() {
    let now = Instant::now();
    let (mut a, mut b, ha, hb) = pair(now);
    // A STATE from "b" acknowledging 1,000 packets a never sent.
    let probe = next_datagram(&mut b, now);
    assert!(probe.is_none());
    a.write(ha, b"ping").unwrap();
    let data = next_datagram(&mut a, now).unwrap();
    let p = Packet::decode(&data).unwrap();
    // a's packets carry b's receive id; b's carry a's: one less.
    let forged = state(
        p.header.connection_id.wrapping_sub(1),
        0,
        p.header.seq_nr.plus(1000).0,
    );
    a.handle_datagram(addr(2), &forged, now);
    assert_eq!(a.stats().acks_for_unsent, 1);
    b.handle_datagram(addr(1), &data, now);
    let mut got = [0u8; 8];
    assert_eq!(b.read(hb, &mut got).unwrap(), Some(4));
    assert_eq!(&got[..4], b"ping");
    assert_eq!(
        a.close_reason(ha).unwrap(),
        None,
        "the forged ack did not break it"
    );
}

#[test]
fn a_syn_flood_is_bounded_by_the_half_open_limit_and_expires() {
    let now = Instant::now();
    let config = Config {
        max_half_open: 16,
        ..Config::default()
    };
    let mut e = Endpoint::new(config, now);
    let mut syn = state(0, 0, 0);
    syn[0] = 0x41;
    for port in 0..1000u16 {
        syn[2..4].copy_from_slice(&port.to_be_bytes());
        e.handle_datagram(addr(10_000 + port), &syn, now);
    }
    let s = e.stats();
    assert_eq!((s.connections, s.half_open, s.syn_dropped), (16, 16, 984));
    // The answers go out once each; the half-open ones expire after ten silent seconds.
    let mut answers = 0;
    let mut buf = Vec::new();
    while e.poll_transmit(now, &mut buf).is_some() {
        answers += 1;
    }
    assert_eq!(answers, 16);
    let later = now + Duration::from_secs(11);
    assert!(e.poll_timeout().unwrap() <= later);
    e.handle_timeout(later);
    while e.poll_transmit(later, &mut buf).is_some() {}
    let s = e.stats();
    assert_eq!((s.connections, s.half_open), (0, 0), "{s:?}");
}

#[test]
fn packets_for_unknown_connections_get_a_bounded_number_of_resets() {
    let now = Instant::now();
    let mut e = Endpoint::new(
        Config {
            max_pending_resets: 8,
            ..Config::default()
        },
        now,
    );
    for i in 0..100u16 {
        e.handle_datagram(addr(1), &state(i, 0, 0), now);
    }
    let mut resets = 0;
    let mut buf = Vec::new();
    while let Some(t) = e.poll_transmit(now, &mut buf) {
        let p = Packet::decode(&buf[buf.len() - t.len..]).unwrap();
        assert_eq!(p.header.packet_type, PacketType::Reset);
        resets += 1;
    }
    let s = e.stats();
    assert_eq!(
        (resets, s.unknown_connection, s.resets_dropped),
        (8, 100, 92)
    );
}

#[test]
fn a_selective_ack_of_any_length_is_taken_and_bits_past_the_window_ignored() {
    let now = Instant::now();
    let (mut a, mut b, ha, _) = pair(now);
    a.write(ha, &[7; 5000]).unwrap();
    let first = next_datagram(&mut a, now).unwrap();
    let id = Packet::decode(&first)
        .unwrap()
        .header
        .connection_id
        .wrapping_sub(1);
    let seq = Packet::decode(&first).unwrap().header.seq_nr;
    // 128 bytes of ones: bits for 1,024 packets, nearly all never sent.
    let mut sack = state(id, 0, seq.minus(1).0);
    sack[1] = 1;
    sack.extend_from_slice(&[0, 128]);
    sack.extend_from_slice(&[0xff; 128]);
    a.handle_datagram(addr(2), &sack, now);
    assert_eq!(a.stats().malformed, 0);
    // 132 bytes, not a multiple of four past BEP 29's: taken too, the bits past the window
    // ignored; an empty mask is refused.
    let mut long = sack[..20].to_vec();
    long.extend_from_slice(&[0, 132]);
    long.extend_from_slice(&[0xff; 132]);
    a.handle_datagram(addr(2), &long, now);
    assert_eq!(a.stats().malformed, 0);
    let mut empty = sack[..20].to_vec();
    empty.extend_from_slice(&[0, 0]);
    a.handle_datagram(addr(2), &empty, now);
    assert_eq!(a.stats().malformed, 1);
    // The stream still gets through.
    b.handle_datagram(addr(1), &first, now);
    assert_eq!(a.close_reason(ha).unwrap(), None);
}

/// libtorrent sends `(span + 7) / 8` bytes of selective ack, not BEP 29's multiple of four:
/// a one-byte mask is read, and the hole it shows is retransmitted at once (before this was
/// taken, every ack libtorrent sent after a loss was dropped and its downloads stalled).
#[test]
fn a_one_byte_selective_ack_as_libtorrent_sends_it_is_read() {
    let now = Instant::now();
    let (mut a, _b, ha, _) = pair(now);
    a.write(ha, &[7; 20_000]).unwrap();
    let mut sent: Vec<Vec<u8>> = std::iter::from_fn(|| next_datagram(&mut a, now)).collect();
    let id = Packet::decode(&sent[0])
        .unwrap()
        .header
        .connection_id
        .wrapping_sub(1);
    // Acknowledge the first window whole: slow start opens a wider one.
    let last = Packet::decode(sent.last().unwrap()).unwrap().header.seq_nr;
    a.handle_datagram(addr(2), &state(id, 0, last.0), now);
    sent = std::iter::from_fn(|| next_datagram(&mut a, now)).collect();
    assert!(
        sent.len() >= 4,
        "{} packets in the second window",
        sent.len()
    );
    let first = Packet::decode(&sent[0]).unwrap().header;
    // Nothing acked cumulatively; packets first+1 ..= first+3 received (bits 0..3 of ack+2).
    let mut ack = state(id, 0, first.seq_nr.minus(1).0);
    ack[1] = 1;
    ack.extend_from_slice(&[0, 1, 0b0000_0111]);
    a.handle_datagram(addr(2), &ack, now);
    assert_eq!(a.stats().malformed, 0);
    let again = next_datagram(&mut a, now).expect("the hole is sent again at once");
    let again = Packet::decode(&again).unwrap().header;
    assert_eq!(
        (again.packet_type, again.seq_nr),
        (PacketType::Data, first.seq_nr)
    );
    assert_eq!(a.stats().retransmits, 1);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]
    #[test]
    fn random_datagrams_never_panic_an_endpoint_with_live_connections(
        datagrams in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 1..40),
        steer in any::<bool>(),
    ) {
        let now = Instant::now();
        let (mut a, _b, ha, _) = pair(now);
        a.write(ha, &[1; 3000]).unwrap();
        let mut t = now;
        for mut d in datagrams {
            if steer && d.len() >= 20 {
                // Make many of them look like packets of the live connection.
                d[0] = (d[0] % 5) << 4 | 1;
                d[1] %= 3;
            }
            t += Duration::from_millis(3);
            a.handle_datagram(addr(2), &d, t);
            a.handle_timeout(t);
            let mut buf = Vec::new();
            while a.poll_transmit(t, &mut buf).is_some() {}
            while a.poll_event().is_some() {}
        }
        // Forged SYNs may open half-open connections, within the limits.
        let s = a.stats();
        prop_assert!(s.connections <= 1 + a.config().max_half_open && s.half_open <= a.config().max_half_open);
    }
}
