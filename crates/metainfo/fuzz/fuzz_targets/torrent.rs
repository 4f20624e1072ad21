//! Fuzz target `torrent`: `Torrent::from_bytes` on arbitrary bytes.
//!
//! Nothing may panic, and for every torrent that loads:
//! - the info-hash is the SHA-1 of `info().raw()`, which is a slice of the input;
//! - every file path is safe: no empty, `.` or `..` component, no `/`, `\` or NUL inside one,
//!   and the first component is the name;
//! - offsets add up: each file starts where the previous ended and the total is their sum;
//! - the piece count matches the total length;
//! - writing it back and reading that again gives the same torrent (same bytes, same hash);
//! - an edit outside `info` keeps the info-hash, and the magnet link parses back to it.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sha1::{Digest, Sha1};
use torrentkit_metainfo::{Magnet, Torrent};

fuzz_target!(|data: &[u8]| {
    let Ok(torrent) = Torrent::from_bytes(data) else {
        return;
    };
    let info = torrent.info();
    let raw = info.raw();
    assert!(
        data.windows(raw.len()).any(|w| w == raw),
        "info bytes are not from the input"
    );
    let digest: [u8; 20] = Sha1::digest(raw).into();
    assert_eq!(torrent.info_hash().0, digest);

    let mut offset = 0u64;
    for f in info.files() {
        assert_eq!(f.offset, offset);
        offset += f.length;
        assert_eq!(f.path[0], info.name());
        for c in &f.path {
            assert!(
                !c.is_empty() && c != "." && c != ".." && !c.contains(['/', '\\', '\0']),
                "unsafe path {:?}",
                f.path
            );
        }
    }
    assert_eq!(offset, info.total_size());
    assert!(offset > 0);
    assert_eq!(
        info.piece_count() as u64,
        offset.div_ceil(info.piece_length())
    );

    let bytes = torrent.to_bytes();
    let again = Torrent::from_bytes(&bytes).expect("written torrent does not load");
    assert_eq!(again.info_hash(), torrent.info_hash());
    assert_eq!(again.to_bytes(), bytes);

    let mut edited = again.clone();
    edited
        .set_web_seeds(&["http://example.com/x".to_owned()])
        .expect("edit failed");
    assert_eq!(edited.info_hash(), torrent.info_hash());

    let link = Magnet::from_torrent(&torrent).to_string();
    let parsed = Magnet::parse(&link).expect("own magnet link does not parse");
    assert_eq!(parsed.info_hash, torrent.info_hash());
});
