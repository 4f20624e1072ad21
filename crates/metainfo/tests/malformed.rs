//! Malformed torrents: each is rejected with a specific message, none panics.

use torrentkit_metainfo::{Error, Torrent};

use crate::util::{multi_info, single_info, torrent_with};

fn reject(bytes: &[u8]) -> String {
    match Torrent::from_bytes(bytes) {
        Ok(t) => panic!("accepted: {:?}", t.info().name()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn truncated_anywhere_is_an_error_naming_the_offset() {
    let good = torrent_with(&single_info("a.txt", 40_000));
    Torrent::from_bytes(&good).unwrap();
    for cut in [0, 1, 10, good.len() / 2, good.len() - 1] {
        let e = reject(&good[..cut]);
        assert!(
            e.contains("unexpected end of input") || e.contains("runs past the end"),
            "cut at {cut}: {e}"
        );
        if cut > 0 {
            assert!(e.contains("at byte"), "cut at {cut}: {e}");
        }
    }
}

#[test]
fn wrong_piece_count() {
    let mut info = single_info("a", 40_000);
    // 3 pieces needed; replace the 60-byte pieces string with 40 bytes.
    let at = info.windows(3).position(|w| w == b"60:").unwrap();
    info.splice(at..at + 3 + 60, b"40:".iter().copied().chain([0u8; 40]));
    let e = reject(&torrent_with(&info));
    assert!(
        e.contains("incorrect number of piece hashes") && e.contains("need 3 pieces"),
        "{e}"
    );
    let e = reject(&torrent_with(&single_info("a", 40_000)).replace_bytes(b"60:", b"61:", 1));
    assert!(e.contains("bencode"), "{e}");
}

#[test]
fn negative_and_zero_lengths() {
    let e = reject(&torrent_with(&single_info("a", -5)));
    assert!(
        e.contains("invalid length") && e.contains("`info.length` is -5"),
        "{e}"
    );
    let e = reject(&torrent_with(&multi_info(
        b"d",
        &[(&[b"x"], 3), (&[b"y"], -1)],
    )));
    assert!(e.contains("`info.files[1].length` is -1"), "{e}");
    let e = reject(&torrent_with(&multi_info(b"d", &[(&[b"x"], 0)])));
    assert!(e.contains("invalid length") && e.contains("is 0"), "{e}");
}

#[test]
fn huge_declared_lengths() {
    // A byte string claiming far more bytes than the file has.
    let e = reject(b"d4:infod6:pieces99999999999:xee");
    assert!(e.contains("runs past the end of input"), "{e}");
    // A file longer than 2^62 bytes.
    let e = reject(&torrent_with(&multi_info(
        b"d",
        &[(&[b"x"], 1 << 62), (&[b"y"], 1 << 62)],
    )));
    assert!(e.contains("invalid length"), "{e}");
    // A length that would need more than i32::MAX / 20 pieces.
    let mut info = torrentkit_bencode::Dict::new();
    info.insert(b"length", torrentkit_bencode::Value::Int(1 << 50));
    info.insert(b"name", "big".into());
    info.insert(b"piece length", torrentkit_bencode::Value::Int(16384));
    info.insert(b"pieces", torrentkit_bencode::Value::Bytes(&[0; 20]));
    let info = torrentkit_bencode::encode(&torrentkit_bencode::Value::Dict(info));
    let e = reject(&torrent_with(&info));
    assert!(e.contains("too many pieces"), "{e}");
    // An integer beyond 64 bits.
    let e = reject(b"d4:infod6:lengthi99999999999999999999999eee");
    assert!(e.contains("64-bit"), "{e}");
}

#[test]
fn deep_nesting_is_bounded() {
    let mut bytes = b"d4:info".to_vec();
    bytes.extend(std::iter::repeat_n(b'l', 100_000));
    bytes.extend(std::iter::repeat_n(b'e', 100_000));
    bytes.push(b'e');
    let e = reject(&bytes);
    assert!(e.contains("nested deeper than"), "{e}");
}

#[test]
fn structural_defects_name_the_field() {
    let cases: &[(&[u8], &str)] = &[
        (b"10:libtorrent", "torrent file is not a dictionary"),
        (b"d8:announce1:xe", "missing or invalid `info` dictionary"),
        (b"d4:info5:filese", "missing or invalid `info` dictionary"),
        (b"d4:infod6:lengthi5e12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee", "`info.name`"),
        (b"d4:infod6:lengthi5e4:name1:a6:pieces20:aaaaaaaaaaaaaaaaaaaaee", "`info.piece length`"),
        (b"d4:infod6:lengthi5e4:name1:a12:piece lengthi0e6:pieces20:aaaaaaaaaaaaaaaaaaaaee", "`info.piece length`: 0 is not between"),
        (b"d4:infod6:lengthi5e4:name1:a12:piece lengthi16384eee", "`info.pieces`"),
        (b"d4:infod5:filesle4:name1:a12:piece lengthi16384e6:pieces0:ee", "no files in torrent"),
        (b"d4:infod5:filesld6:lengthi5eee4:name1:a12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee", "`info.files[0].path`"),
        (b"d4:infod5:filesld6:lengthi5e4:pathli7eeee4:name1:a12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee", "`info.files[0].path[0]`: an integer is not a path component"),
        (b"d4:infod5:filesld6:lengthle4:pathl1:xeee4:name1:a12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee", "`info.files[0].length`"),
        (b"d4:infod4:name1:a12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee", "`info.length`"),
        (b"d4:infod12:meta versioni2e4:name1:a12:piece lengthi16384eee", "missing or invalid `info.file tree`"),
        (b"d4:infod9:file treed1:ad0:d6:lengthi5e11:pieces root32:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaeee12:meta versioni2e4:name1:a12:piece lengthi16383eee", "`info.piece length`: 16383 is not a power of two"),
        (b"d4:infod9:file treed1:ad0:d4:attr1:p6:lengthi5e11:pieces root32:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaeee12:meta versioni2e4:name1:a12:piece lengthi16384eee", "`info.file tree/a.attr`: a file in the v2 metadata has the pad attribute set"),
        (b"d4:infod9:file treed1:ad0:d6:lengthi5eeee12:meta versioni2e4:name1:a12:piece lengthi16384eee", "`info.file tree/a.pieces root`: a v2 file entry has no root hash"),
        (b"d4:infod9:file treed1:bd0:d6:lengthi5e11:pieces root32:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaee1:ad0:d6:lengthi5e11:pieces root32:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaeee12:meta versioni2e4:name1:a12:piece lengthi16384eee", "`info.file tree/`: invalid bencoding: the keys of a v2 file tree must be sorted"),
        (b"d4:infod9:file treed1:ad0:d6:lengthi5e11:pieces root32:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaeee6:lengthi6e12:meta versioni2e4:name1:a12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaae4:name1:aee", "the v1 and v2 file metadata does not match: `info.name` is \"a\" (6 bytes) but `info.file tree/a` has 5 bytes"),
        (b"d4:infod9:file treed1:ad0:d6:lengthi5e11:pieces root32:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaeee12:meta versioni2e4:name1:a12:piece lengthi16384ee12:piece layersd3:abc0:ee", "`piece layers/616263`: a piece layer is invalid"),
        (b"d4:infod6:lengthi5e4:name1:.12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee", "`info.name`"),
        (b"d4:infod6:lengthi5e4:name0:12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee", "`info.name`"),
        (b"d1:ai1e1:ai2ee", "duplicate dictionary key `a`"),
    ];
    for (bytes, want) in cases {
        let e = reject(bytes);
        assert!(
            e.contains(want),
            "{}: expected {want:?} in {e:?}",
            String::from_utf8_lossy(bytes)
        );
    }
}

#[test]
fn errors_are_typed() {
    assert!(matches!(
        Torrent::from_bytes(b"i1e"),
        Err(Error::NotADictionary)
    ));
    assert!(matches!(
        Torrent::from_bytes(b"d4:infod12:meta versioni2eee"),
        Err(Error::Missing { .. })
    ));
}

#[test]
fn unsorted_keys_and_trailing_bytes_load_with_warnings() {
    let info = b"d6:lengthi5e4:name1:a12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaae";
    let mut bytes = b"d4:info".to_vec();
    bytes.extend_from_slice(info);
    bytes.extend_from_slice(b"8:announce1:xe\n");
    let t = Torrent::from_bytes(&bytes).unwrap();
    let shown: Vec<String> = t.warnings().iter().map(ToString::to_string).collect();
    assert!(
        shown
            .iter()
            .any(|w| w.contains("unsorted dictionary key `announce`")),
        "{shown:?}"
    );
    assert!(
        shown.iter().any(|w| w.contains("trailing bytes")),
        "{shown:?}"
    );
    assert_eq!(
        t.info_hash(),
        torrentkit_metainfo::InfoHash::of_info_bytes(info)
    );
    assert_eq!(t.announce(), Some("x"));
    // Written back in the file's own order (minus the trailing newline).
    assert_eq!(t.to_bytes(), &bytes[..bytes.len() - 1]);
}

trait ReplaceBytes {
    fn replace_bytes(&self, from: &[u8], to: &[u8], count: usize) -> Vec<u8>;
}

impl ReplaceBytes for Vec<u8> {
    fn replace_bytes(&self, from: &[u8], to: &[u8], count: usize) -> Vec<u8> {
        let mut out = self.clone();
        let mut done = 0;
        let mut i = 0;
        while done < count && i + from.len() <= out.len() {
            if &out[i..i + from.len()] == from {
                out.splice(i..i + from.len(), to.iter().copied());
                done += 1;
                i += to.len();
            } else {
                i += 1;
            }
        }
        out
    }
}
