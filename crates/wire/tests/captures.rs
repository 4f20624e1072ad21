//! Captured exchanges of real clients (libtorrent 2.0.8, aria2 1.36.0), decoded exactly.
//!
//! `test_data/captures/<scenario>/<sender>.bin` holds every byte one program sent on one
//! connection (recorded by `test_data/captures/record.py`, see the README there). For each file:
//! the handshake and every message decode with nothing left over; re-encoding every message gives
//! back the file byte for byte; extension messages decode under the ids the *receiver*
//! advertised; every `piece` block and ut_metadata piece is checked against the SHA-1 hashes of
//! the scenario's `test.torrent`; and a one-line-per-message summary must equal
//! `<sender>.expected` (regenerate with `UPDATE_EXPECT=1` after re-recording, and review the diff).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use sha1::{Digest, Sha1};
use torrentkit_bencode::{decode, encode, Value};
use torrentkit_wire::{
    allowed_fast_set, Bitfield, ExtendedHandshake, ExtendedMessage, ExtensionIds, Handshake,
    Limits, Message, Messages, MetadataMessage, Status,
};

struct Torrent {
    info_hash: [u8; 20],
    piece_hashes: Vec<[u8; 20]>,
    length: u64,
    piece_length: u64,
}

fn read_torrent(path: &Path) -> Torrent {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let root = decode(&bytes).unwrap();
    let info = root.as_dict().unwrap().get(b"info").unwrap();
    let d = info.as_dict().unwrap();
    let pieces = d.get(b"pieces").and_then(Value::as_bytes).unwrap();
    Torrent {
        info_hash: Sha1::digest(encode(info)).into(),
        piece_hashes: pieces
            .chunks_exact(20)
            .map(|c| c.try_into().unwrap())
            .collect(),
        length: d.get(b"length").and_then(Value::as_int).unwrap() as u64,
        piece_length: d.get(b"piece length").and_then(Value::as_int).unwrap() as u64,
    }
}

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data/captures")
}

/// Splits a capture into its handshake and the bytes after it.
fn handshake_of(bytes: &[u8]) -> (Handshake, &[u8]) {
    match Handshake::decode(bytes).unwrap() {
        Status::Complete { value, consumed } => (value, &bytes[consumed..]),
        Status::Incomplete { needed } => panic!("handshake incomplete, {needed} bytes short"),
    }
}

/// The extended handshake a capture's sender sent, if any.
fn extended_handshake_of(bytes: &[u8]) -> Option<ExtendedHandshake<'_>> {
    let (_, rest) = handshake_of(bytes);
    Messages::new(rest, Limits::default()).find_map(|m| match m.unwrap() {
        Message::Extended { id: 0, payload } => Some(ExtendedHandshake::decode(payload).unwrap()),
        _ => None,
    })
}

#[test]
fn captures_of_real_clients_decode_exactly() {
    let mut scenarios: Vec<PathBuf> = std::fs::read_dir(data_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    scenarios.sort();
    assert_eq!(
        scenarios.len(),
        6,
        "expected six recorded scenarios: {scenarios:?}"
    );
    let mut failures = Vec::new();
    for dir in &scenarios {
        let torrent = read_torrent(&dir.join("test.torrent"));
        let mut senders: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "bin"))
            .collect();
        senders.sort();
        assert_eq!(
            senders.len(),
            2,
            "{}: one file per direction",
            dir.display()
        );
        let files: Vec<Vec<u8>> = senders.iter().map(|p| std::fs::read(p).unwrap()).collect();
        for (i, path) in senders.iter().enumerate() {
            let receiver = &files[1 - i];
            let theirs = extended_handshake_of(receiver)
                .map(|h| ExtensionIds::from_handshake(&h))
                .unwrap_or(ExtensionIds::NONE);
            let summary = check_capture(path, &files[i], &torrent, &theirs);
            let expected_path = path.with_extension("expected");
            if std::env::var_os("UPDATE_EXPECT").is_some() {
                std::fs::write(&expected_path, &summary).unwrap();
            }
            let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
            if summary != expected {
                failures.push(format!(
                    "{}: summary differs from {}:\n{summary}",
                    path.display(),
                    expected_path.display()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Decodes one capture, checks it, and returns its summary.
fn check_capture(path: &Path, bytes: &[u8], torrent: &Torrent, ids: &ExtensionIds) -> String {
    let name = path.file_stem().unwrap().to_string_lossy();
    let mut out = String::new();
    let (handshake, rest) = handshake_of(bytes);
    assert_eq!(handshake.info_hash, torrent.info_hash, "{name}: info-hash");
    let client = handshake.peer_id.client().map(|c| c.to_string());
    let expected_client = if name.ends_with("aria2") {
        "aria2 1.36.0"
    } else {
        "libtorrent (Rasterbar) 2.0.8"
    };
    assert_eq!(client.as_deref(), Some(expected_client), "{name}: peer id");
    let r = handshake.reserved;
    writeln!(
        out,
        "handshake {expected_client} extension_protocol={} fast={} dht={}",
        r.extension_protocol(),
        r.fast(),
        r.dht()
    )
    .unwrap();

    let mut messages = Messages::new(rest, Limits::default());
    let mut reencoded = Vec::new();
    let mut blocks: BTreeMap<(u32, u32), &[u8]> = BTreeMap::new();
    let mut metadata: BTreeMap<u32, &[u8]> = BTreeMap::new();
    let pieces = torrent.piece_hashes.len() as u32;
    let mut allowed_fast = Vec::new();
    for message in messages.by_ref() {
        let message = message.unwrap_or_else(|e| panic!("{name}: {e}"));
        message.encode(&mut reencoded).unwrap();
        let line = match message {
            Message::Bitfield(bits) => {
                let b = Bitfield::from_bytes(bits, pieces).unwrap();
                format!("bitfield {}/{} pieces", b.count(), b.len())
            }
            Message::Request(r) => format!("request {} {} {}", r.index, r.begin, r.length),
            Message::Piece {
                index,
                begin,
                block,
            } => {
                blocks.insert((index, begin), block);
                format!("piece {index} {begin} ({} bytes)", block.len())
            }
            Message::Have { piece } => format!("have {piece}"),
            Message::AllowedFast { piece } => {
                allowed_fast.push(piece);
                format!("allowed fast {piece}")
            }
            Message::Extended { id, payload } => {
                let ours = if id == 0 { &ExtensionIds::NONE } else { ids };
                match ExtendedMessage::decode(id, payload, ours)
                    .unwrap_or_else(|e| panic!("{name}: extension message {id}: {e}"))
                {
                    ExtendedMessage::Handshake(h) => describe_handshake(&h),
                    ExtendedMessage::Metadata(m) => match m {
                        MetadataMessage::Data {
                            piece,
                            total_size,
                            data,
                        } => {
                            metadata.insert(piece, data);
                            format!(
                                "ut_metadata data {piece} total_size {total_size} ({} bytes)",
                                data.len()
                            )
                        }
                        MetadataMessage::Request { piece } => {
                            format!("ut_metadata request {piece}")
                        }
                        MetadataMessage::Reject { piece } => format!("ut_metadata reject {piece}"),
                    },
                    ExtendedMessage::Pex(p) => format!(
                        "ut_pex added {} (flags {:?}) added6 {} dropped {} dropped6 {}",
                        p.added.len(),
                        p.added.iter().map(|(_, f)| f.0).collect::<Vec<_>>(),
                        p.added6.len(),
                        p.dropped.len(),
                        p.dropped6.len()
                    ),
                    ExtendedMessage::Unknown { id, payload } => {
                        format!("extension message {id} ({} bytes)", payload.len())
                    }
                    other => format!("{other:?}"),
                }
            }
            other => other.name().to_owned(),
        };
        writeln!(out, "{line}").unwrap();
    }
    assert_eq!(
        messages.consumed(),
        rest.len(),
        "{name}: the capture ends inside a message"
    );
    assert_eq!(
        reencoded, rest,
        "{name}: re-encoding differs from the capture"
    );

    // aria2 sends the BEP 6 set for the receiver's address (127.0.0.1) in generation order:
    // ours must be the same list.
    if name.ends_with("aria2") && !allowed_fast.is_empty() {
        let ours = allowed_fast_set(Ipv4Addr::LOCALHOST, &torrent.info_hash, pieces, 10);
        assert_eq!(
            allowed_fast, ours,
            "{name}: allowed-fast set differs from aria2's"
        );
        writeln!(out, "= allowed-fast set equal to ours").unwrap();
    }

    // Blocks assemble into pieces whose SHA-1 matches the torrent.
    let mut by_piece: BTreeMap<u32, Vec<u8>> = BTreeMap::new();
    for ((index, begin), block) in &blocks {
        let piece = by_piece.entry(*index).or_default();
        assert_eq!(
            piece.len() as u32,
            *begin,
            "{name}: blocks of piece {index} not contiguous"
        );
        piece.extend_from_slice(block);
    }
    for (index, data) in &by_piece {
        let expected_len =
            (torrent.length - u64::from(*index) * torrent.piece_length).min(torrent.piece_length);
        assert_eq!(
            data.len() as u64,
            expected_len,
            "{name}: piece {index} length"
        );
        let hash: [u8; 20] = Sha1::digest(data).into();
        assert_eq!(
            hash, torrent.piece_hashes[*index as usize],
            "{name}: piece {index} hash"
        );
    }
    if !by_piece.is_empty() {
        writeln!(
            out,
            "= {} pieces verified against the torrent",
            by_piece.len()
        )
        .unwrap();
    }
    if !metadata.is_empty() {
        let info: Vec<u8> = metadata.values().flat_map(|d| d.iter().copied()).collect();
        let hash: [u8; 20] = Sha1::digest(&info).into();
        assert_eq!(
            hash, torrent.info_hash,
            "{name}: metadata does not hash to the info-hash"
        );
        writeln!(out, "= metadata verified against the info-hash").unwrap();
    }
    out
}

/// The stable parts of an extended handshake (ports are random per run, so `p` is shown as
/// present or not).
fn describe_handshake(h: &ExtendedHandshake<'_>) -> String {
    let m: Vec<String> = h
        .extensions
        .iter()
        .map(|(k, v)| format!("{}={v}", String::from_utf8_lossy(k)))
        .collect();
    format!(
        "extended handshake m=[{}] v={:?} p={} reqq={:?} yourip={:?} metadata_size={:?}",
        m.join(","),
        h.client.map(String::from_utf8_lossy),
        if h.listen_port.is_some() { "yes" } else { "no" },
        h.request_queue,
        h.your_ip,
        h.metadata_size
    )
}
