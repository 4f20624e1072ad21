//! The assembler against honest peers, liars and bad sizes.

use std::time::{Duration, Instant};

use sha1::{Digest, Sha1};

use super::*;

fn info(len: usize) -> (Vec<u8>, [u8; 20]) {
    let bytes: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
    let hash: [u8; 20] = Sha1::digest(&bytes).into();
    (bytes, hash)
}

fn piece_of(bytes: &[u8], piece: u32) -> &[u8] {
    let start = piece as usize * METADATA_PIECE_LEN;
    &bytes[start..(start + METADATA_PIECE_LEN).min(bytes.len())]
}

/// Answers every request: honest peers with the real piece, `liar` with flipped bytes.
fn run(a: &mut MetadataAssembler, bytes: &[u8], liar: Option<ConnId>, now: Instant) -> u32 {
    let mut requests = 0;
    loop {
        // A round of requests, then their answers, as over a network.
        let round: Vec<(ConnId, u32)> = std::iter::from_fn(|| a.poll_request(now)).collect();
        if round.is_empty() {
            return requests;
        }
        for (id, piece) in round {
            requests += 1;
            let mut data = piece_of(bytes, piece).to_vec();
            if Some(id) == liar {
                data[0] ^= 0xff;
            }
            a.handle_data(id, piece, bytes.len() as u64, &data);
        }
        assert!(requests < 10_000, "no end to the requests");
    }
}

#[test]
fn pieces_from_several_peers_are_checked_against_the_hash() {
    let (bytes, hash) = info(100_000);
    let mut a = MetadataAssembler::new(hash, DEFAULT_MAX_METADATA_SIZE);
    let now = Instant::now();
    for i in 0..3 {
        a.handle_peer(ConnId(i), Some(bytes.len() as u64));
    }
    // The first requests spread over the peers rather than all going to one.
    let first: Vec<(ConnId, u32)> = (0..3).filter_map(|_| a.poll_request(now)).collect();
    assert_eq!(first.len(), 3);
    for (id, piece) in first {
        a.handle_data(id, piece, bytes.len() as u64, piece_of(&bytes, piece));
    }
    run(&mut a, &bytes, None, now);
    assert_eq!(a.metadata(), Some(&bytes[..]));
    assert_eq!(a.poll_drop(), None);
}

#[test]
fn a_peer_sending_wrong_bytes_is_dropped_and_its_pieces_fetched_elsewhere() {
    let (bytes, hash) = info(5 * METADATA_PIECE_LEN + 100);
    let mut a = MetadataAssembler::new(hash, DEFAULT_MAX_METADATA_SIZE);
    let now = Instant::now();
    let liar = ConnId(2);
    for i in 0..5 {
        a.handle_peer(ConnId(i), Some(bytes.len() as u64));
    }
    run(&mut a, &bytes, Some(liar), now);
    assert_eq!(a.metadata(), Some(&bytes[..]));
    let drops: Vec<_> = std::iter::from_fn(|| a.poll_drop()).collect();
    assert_eq!(drops.len(), 1, "{drops:?}");
    assert_eq!(drops[0].0, liar);
    assert!(matches!(drops[0].1, MetadataDrop::WrongPiece { .. }));
}

#[test]
fn with_two_peers_and_one_liar_the_combinations_find_the_truth() {
    let (bytes, hash) = info(3 * METADATA_PIECE_LEN);
    let mut a = MetadataAssembler::new(hash, DEFAULT_MAX_METADATA_SIZE);
    let now = Instant::now();
    a.handle_peer(ConnId(0), Some(bytes.len() as u64));
    a.handle_peer(ConnId(1), Some(bytes.len() as u64));
    run(&mut a, &bytes, Some(ConnId(1)), now);
    assert_eq!(a.metadata(), Some(&bytes[..]));
    assert_eq!(a.poll_drop().map(|d| d.0), Some(ConnId(1)));
}

#[test]
fn a_peer_lying_about_the_size_is_outvoted_and_dropped() {
    let (bytes, hash) = info(40_000);
    let mut a = MetadataAssembler::new(hash, DEFAULT_MAX_METADATA_SIZE);
    let now = Instant::now();
    // The liar speaks first.
    a.handle_peer(ConnId(9), Some(70_000));
    for i in 0..3 {
        a.handle_peer(ConnId(i), Some(bytes.len() as u64));
    }
    run(&mut a, &bytes, None, now);
    assert_eq!(a.metadata(), Some(&bytes[..]));
    assert_eq!(
        a.poll_drop(),
        Some((
            ConnId(9),
            MetadataDrop::WrongSize {
                claimed: 70_000,
                actual: 40_000
            }
        ))
    );
}

#[test]
fn sizes_of_zero_or_over_the_bound_drop_the_peer_before_anything_is_allocated() {
    let mut a = MetadataAssembler::new([0; 20], 1 << 20);
    a.handle_peer(ConnId(1), Some(0));
    a.handle_peer(ConnId(2), Some(u64::MAX));
    a.handle_peer(ConnId(3), None);
    assert_eq!(a.peer_count(), 0);
    assert_eq!(a.pieces(), (0, 0));
    let d: Vec<_> = std::iter::from_fn(|| a.poll_drop()).collect();
    assert_eq!(d.len(), 2);
    assert_eq!(
        d[1].1.to_string(),
        format!(
            "metadata_size {} is 0 or over the limit of 1048576 bytes",
            u64::MAX
        )
    );
    assert_eq!(a.poll_request(Instant::now()), None);
}

#[test]
fn unrequested_pieces_and_rejects_and_timeouts() {
    let (bytes, hash) = info(2 * METADATA_PIECE_LEN);
    let mut a = MetadataAssembler::new(hash, DEFAULT_MAX_METADATA_SIZE);
    let now = Instant::now();
    a.handle_peer(ConnId(0), Some(bytes.len() as u64));
    a.handle_peer(ConnId(1), Some(bytes.len() as u64));
    a.handle_data(ConnId(1), 0, bytes.len() as u64, piece_of(&bytes, 0));
    assert_eq!(
        a.poll_drop(),
        Some((ConnId(1), MetadataDrop::Unrequested { piece: 0 }))
    );
    let (id, piece) = a.poll_request(now).unwrap();
    assert_eq!(id, ConnId(0));
    a.handle_reject(id, piece);
    // Peer 0 asked for the other piece; the rejected one waits for another peer.
    let (id2, piece2) = a.poll_request(now).unwrap();
    assert_eq!((id2, piece2 != piece), (ConnId(0), true));
    assert_eq!(a.poll_request(now), None);
    let due = a.poll_timeout().unwrap();
    a.handle_timeout(due + Duration::from_millis(1));
    assert_eq!(a.poll_timeout(), None);
    // A newcomer gets the rejected piece.
    a.handle_peer(ConnId(5), Some(bytes.len() as u64));
    let mut got = Vec::new();
    while let Some(r) = a.poll_request(now) {
        got.push(r);
    }
    assert!(got.contains(&(ConnId(5), piece)), "{got:?}");
    a.remove_peer(ConnId(5));
    assert_eq!(a.peer_count(), 1);
}
