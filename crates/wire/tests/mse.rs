//! MSE: known-answer vectors from an independent Python implementation
//! (`test_data/mse/make_vectors.py`), a handshake between our two roles split at every byte
//! boundary, and the bad inputs that must end a handshake.

use std::collections::HashMap;

use torrentkit_wire::mse::{
    public_key, req1, req2_xor_req3, shared_secret, Cipher, Established, Handshake, Methods,
    MseError, Secret, MAX_PAD,
};
use torrentkit_wire::{Handshake as BtHandshake, PeerId, Status};

fn vectors() -> HashMap<String, Vec<u8>> {
    let text = include_str!("../test_data/mse/vectors.txt");
    text.lines()
        .map(|l| {
            let (name, hex) = l.split_once(' ').expect("`name hex` lines");
            let bytes = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
                .collect();
            (name.to_string(), bytes)
        })
        .collect()
}

fn arr<const N: usize>(v: &[u8]) -> [u8; N] {
    v.try_into().expect("vector length")
}

#[test]
fn key_derivation_matches_the_independent_implementation() {
    let v = vectors();
    assert_eq!(public_key(&v["xa"]).to_vec(), v["ya"]);
    assert_eq!(public_key(&v["xb"]).to_vec(), v["yb"]);
    let s = shared_secret(&v["xa"], &arr(&v["yb"])).unwrap();
    assert_eq!(s.to_vec(), v["s"]);
    assert_eq!(shared_secret(&v["xb"], &arr(&v["ya"])).unwrap(), s);
    let skey = arr(&v["skey"]);
    assert_eq!(req1(&s).to_vec(), v["req1"]);
    assert_eq!(req2_xor_req3(&skey, &s).to_vec(), v["req2_xor_req3"]);
    // The keystream after the 1,024 discarded bytes.
    for (label, name) in [(b"keyA", "keystream_a"), (b"keyB", "keystream_b")] {
        let mut ks = [0u8; 16];
        Cipher::new(label, &s, &skey).apply(&mut ks);
        assert_eq!(ks.to_vec(), v[name], "{name}");
    }
}

#[test]
fn both_roles_produce_the_independent_transcript() {
    let v = vectors();
    let skey = arr(&v["skey"]);
    let mut a = Handshake::initiator(
        skey,
        Methods::RC4,
        v["ia"].clone(),
        Secret {
            private_key: arr(&v["xa"]),
            pad: v["pad_a"].clone(),
        },
    );
    let mut b = Handshake::responder(
        vec![[9; 20], skey],
        Methods::BOTH,
        Methods::RC4,
        Secret {
            private_key: arr(&v["xb"]),
            pad: v["pad_b"].clone(),
        },
    );
    assert_eq!(a.poll_transmit().unwrap(), v["step1"]);
    assert_eq!(b.poll_transmit(), None, "the responder waits for Ya");
    b.handle_bytes(&v["step1"]).unwrap();
    assert_eq!(b.poll_transmit().unwrap(), v["step2"]);
    a.handle_bytes(&v["step2"]).unwrap();
    assert_eq!(a.poll_transmit().unwrap(), v["step3"]);
    b.handle_bytes(&v["step3"]).unwrap();
    assert!(b.is_done());
    let step4 = b.poll_transmit().unwrap();
    let mut b = b.finish().unwrap();
    assert_eq!(b.payload, v["ia"]);
    assert_eq!(b.info_hash, skey);
    let mut tail = v["payload_b"].clone();
    b.streams.as_mut().unwrap().send.apply(&mut tail);
    assert_eq!([step4, tail].concat(), v["step4"]);
    a.handle_bytes(&v["step4"]).unwrap();
    let mut a = a.finish().unwrap();
    assert_eq!(a.method, Methods::RC4);
    assert_eq!(a.payload, v["payload_b"]);
    let mut five = v["payload_a"].clone();
    a.streams.as_mut().unwrap().send.apply(&mut five);
    assert_eq!(five, v["step5"]);
}

/// Runs a handshake where every message is delivered split at `cut` (or byte by byte when
/// `cut` is 0); returns both outcomes.
fn run_split(
    cut: usize,
    provide: Methods,
    allowed: Methods,
    prefer: Methods,
) -> (Established, Established) {
    let info_hash = [0x5a; 20];
    let bt = BtHandshake::new(info_hash, PeerId(*b"-TK0010-abcdefghijkl"));
    let mut a = Handshake::initiator(
        info_hash,
        provide,
        bt.to_bytes().to_vec(),
        Secret {
            private_key: [0x11; 20],
            pad: vec![0x33; 200],
        },
    );
    let mut b = Handshake::responder(
        vec![[1; 20], info_hash, [2; 20]],
        allowed,
        prefer,
        Secret {
            private_key: [0x22; 20],
            pad: vec![0x44; 511],
        },
    );
    let deliver = |to: &mut Handshake, bytes: &[u8]| {
        if cut == 0 {
            for byte in bytes {
                to.handle_bytes(&[*byte]).unwrap();
            }
        } else {
            let (x, y) = bytes.split_at(cut.min(bytes.len()));
            to.handle_bytes(x).unwrap();
            to.handle_bytes(y).unwrap();
        }
    };
    for _ in 0..10 {
        if let Some(bytes) = a.poll_transmit() {
            deliver(&mut b, &bytes);
        }
        if let Some(bytes) = b.poll_transmit() {
            deliver(&mut a, &bytes);
        }
    }
    assert!(a.is_done() && b.is_done(), "cut {cut}");
    let (a, b) = (a.finish().unwrap(), b.finish().unwrap());
    let Status::Complete { value, .. } = BtHandshake::decode(&b.payload).unwrap() else {
        panic!("the IA is a whole BitTorrent handshake (cut {cut})");
    };
    assert_eq!(value.info_hash, info_hash);
    (a, b)
}

#[test]
fn a_handshake_split_at_every_byte_boundary_settles_the_same() {
    // The longest message is step 3: 40 + 16 + the 68-byte IA; step 2 is 96 + 511.
    for cut in 0..=(96 + MAX_PAD) {
        let (mut a, mut b) = run_split(cut, Methods::BOTH, Methods::BOTH, Methods::RC4);
        assert_eq!((a.method, b.method), (Methods::RC4, Methods::RC4));
        assert!(a.payload.is_empty());
        let (sa, sb) = (a.streams.as_mut().unwrap(), b.streams.as_mut().unwrap());
        let mut msg = *b"\0\0\0\x01\x02 interested";
        sa.send.apply(&mut msg);
        sb.recv.apply(&mut msg);
        assert_eq!(&msg, b"\0\0\0\x01\x02 interested", "cut {cut}");
        sb.send.apply(&mut msg);
        sa.recv.apply(&mut msg);
        assert_eq!(&msg, b"\0\0\0\x01\x02 interested", "cut {cut}");
    }
}

#[test]
fn plaintext_is_chosen_when_preferred_or_the_only_common_method() {
    let (a, b) = run_split(7, Methods::BOTH, Methods::BOTH, Methods::PLAINTEXT);
    assert_eq!(
        (a.method, b.method),
        (Methods::PLAINTEXT, Methods::PLAINTEXT)
    );
    assert!(a.streams.is_none() && b.streams.is_none());
    let (a, _) = run_split(7, Methods::PLAINTEXT, Methods::BOTH, Methods::RC4);
    assert_eq!(a.method, Methods::PLAINTEXT);
}

fn responder() -> Handshake {
    Handshake::responder(
        vec![[3; 20]],
        Methods::RC4,
        Methods::RC4,
        Secret {
            private_key: [0x22; 20],
            pad: Vec::new(),
        },
    )
}

fn initiator(info_hash: [u8; 20], provide: Methods) -> Handshake {
    Handshake::initiator(
        info_hash,
        provide,
        Vec::new(),
        Secret {
            private_key: [0x11; 20],
            pad: Vec::new(),
        },
    )
}

#[test]
fn garbage_fails_within_the_sync_window() {
    let mut b = responder();
    // A valid-looking key (2) and then bytes that never hold req1: the error comes at 628.
    let mut garbage = vec![0u8; 95];
    garbage.push(2);
    b.handle_bytes(&garbage).unwrap();
    b.handle_bytes(&[0x77; 531]).unwrap();
    assert_eq!(
        b.handle_bytes(&[0x77]),
        Err(MseError::NoSync {
            marker: "req1",
            searched: 628
        })
    );
    assert!(b.finish().is_none());

    let mut a = initiator([3; 20], Methods::RC4);
    let mut yb = vec![0u8; 95];
    yb.push(5);
    a.handle_bytes(&yb).unwrap();
    let e = a.handle_bytes(&[0x77; 600]).unwrap_err();
    assert_eq!(
        e,
        MseError::NoSync {
            marker: "vc",
            searched: 616
        }
    );
    assert_eq!(e.to_string(), "mse: no vc within the first 616 bytes");
}

#[test]
fn degenerate_public_keys_are_refused() {
    let mut b = responder();
    assert_eq!(b.handle_bytes(&[0u8; 96]), Err(MseError::BadPublicKey));
    let mut b = responder();
    assert_eq!(b.handle_bytes(&[0xff; 96]), Err(MseError::BadPublicKey));
}

/// Runs `a` against `b` until one fails; returns which error.
fn clash(mut a: Handshake, mut b: Handshake) -> MseError {
    for _ in 0..10 {
        if let Some(bytes) = a.poll_transmit() {
            if let Err(e) = b.handle_bytes(&bytes) {
                return e;
            }
        }
        if let Some(bytes) = b.poll_transmit() {
            if let Err(e) = a.handle_bytes(&bytes) {
                return e;
            }
        }
    }
    panic!("the handshake settled");
}

#[test]
fn an_unknown_info_hash_is_refused() {
    assert_eq!(
        clash(initiator([4; 20], Methods::RC4), responder()),
        MseError::UnknownInfoHash
    );
}

#[test]
fn no_common_method_is_refused() {
    let e = clash(initiator([3; 20], Methods::PLAINTEXT), responder());
    assert_eq!(
        e,
        MseError::NoCommonMethod {
            provided: 1,
            allowed: 2
        }
    );
}

/// Plays a responder by hand so that its step 4 can say anything.
fn forged_step4(select: u32, pad_d: u16) -> MseError {
    let skey = [3; 20];
    let mut a = initiator(skey, Methods::RC4);
    let ya: [u8; 96] = a.poll_transmit().unwrap().try_into().unwrap();
    let xb = [0x22; 20];
    a.handle_bytes(&public_key(&xb)).unwrap();
    let s = shared_secret(&xb, &ya).unwrap();
    let mut reply = vec![0u8; 8];
    reply.extend_from_slice(&select.to_be_bytes());
    reply.extend_from_slice(&pad_d.to_be_bytes());
    Cipher::new(b"keyB", &s, &skey).apply(&mut reply);
    a.handle_bytes(&reply).unwrap_err()
}

#[test]
fn a_select_not_offered_or_a_long_pad_is_refused() {
    assert_eq!(
        forged_step4(1, 0),
        MseError::SelectNotOffered {
            select: 1,
            offered: 2
        }
    );
    assert_eq!(
        forged_step4(3, 0),
        MseError::SelectNotOffered {
            select: 3,
            offered: 2
        }
    );
    assert_eq!(
        forged_step4(2, 513),
        MseError::PadTooLong {
            pad: "PadD",
            len: 513
        }
    );
    assert_eq!(
        MseError::PadTooLong {
            pad: "PadD",
            len: 513
        }
        .to_string(),
        "mse: PadD length 513 is over 512"
    );
}
