//! `bt wire-decode`: recorded peer wire streams, one line per message, and clear errors.

use std::path::PathBuf;

use crate::util::{bt, stderr};

fn capture(scenario: &str, file: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../wire/test_data/captures")
        .join(scenario)
        .join(file)
        .display()
        .to_string()
}

#[test]
fn a_libtorrent_seed_stream_with_metadata_and_pieces() {
    let seed = capture("magnet-libtorrent-to-libtorrent", "seed-libtorrent.bin");
    let reply = capture(
        "magnet-libtorrent-to-libtorrent",
        "downloader-libtorrent.bin",
    );
    let out = bt(
        &["wire-decode", &seed, "--reply", &reply, "--pieces", "3"],
        b"",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("@0 handshake info_hash=57300e4bc1738b1c43f72501d8e8a6d96bd9e86f")
            && lines[0].ends_with("(libtorrent (Rasterbar) 2.0.8) reserved=0000000000100005 [extension protocol, fast, dht]"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("@68 extended handshake m={lt_donthave:7,"),
        "{}",
        lines[1]
    );
    assert_eq!(
        lines[4],
        "@294 ut_metadata data 0 total_size=126 length=126"
    );
    assert_eq!(lines[9], "@501 piece index=1 begin=0 length=16384");
    assert_eq!(lines.last(), Some(&"11 messages, 40540 bytes"));
}

#[test]
fn extension_ids_can_be_given_by_hand() {
    let seed = capture("pex-libtorrent", "seed-libtorrent.bin");
    let out = bt(&["wire-decode", &seed, "--ut-pex", "1"], b"");
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("@294 ut_pex added=[127.0.0.1:"), "{text}");
    // Without the id the message is reported as an unknown extension.
    let out = bt(&["wire-decode", &seed], b"");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("@294 extended id=1 length="), "{text}");
}

#[test]
fn malformed_and_cut_off_streams_fail_naming_the_byte() {
    // keep-alive, then a 4 GB length prefix.
    let out = bt(
        &["wire-decode", "-"],
        &[0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 7],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "bt: <stdin>: at byte 4: wire: piece (id 7) declares 4294967295 bytes, over the limit of 131081"
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "@0 keep-alive\n");

    let out = bt(&["wire-decode", "-"], &[0, 0, 0, 5, 4, 0]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "bt: <stdin>: the stream ends inside a message at byte 0 (3 more bytes needed)"
    );

    let out = bt(
        &["wire-decode", "-", "--pieces", "9"],
        &[0, 0, 0, 3, 5, 0xff, 0xff],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "bt: <stdin>: at byte 0: wire: bitfield has spare bits set past piece 9"
    );

    let out = bt(&["wire-decode", "-"], b"\x13BitTorrent protocoX");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("expected \"BitTorrent protocol\""),
        "{}",
        stderr(&out)
    );
}
