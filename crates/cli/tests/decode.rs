//! `bt decode`: JSON for good input; a non-zero exit naming the problem and offset for bad input.

use serde_json::json;

use crate::util::{bt, stderr, Scratch};

#[test]
fn prints_a_torrent_as_json_with_binary_strings_in_hex() {
    let scratch = Scratch::new("decode-json");
    let file = scratch.write(
        "a.torrent",
        b"d8:announce14:http://t:1/ann4:infod6:lengthi3e4:name1:a12:piece lengthi16384e6:pieces4:\x00\x01\xfe\xffee",
    );
    let out = bt(&["decode", file.to_str().unwrap()], b"");
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json,
        json!({
            "announce": "http://t:1/ann",
            "info": {"length": 3, "name": "a", "piece length": 16384, "pieces": {"$hex": "0001feff"}}
        })
    );
}

#[test]
fn reads_standard_input_and_marks_binary_keys() {
    let out = bt(&["decode", "--compact", "-"], b"d2:\xff\xfei-5ee");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "{\"$hex:fffe\":-5}\n"
    );
}

#[test]
fn each_strictness_violation_exits_non_zero_with_its_message() {
    let cases: &[(&[u8], &str)] = &[
        (b"i03e", "leading zero in integer at byte 0"),
        (b"i-0e", "negative zero integer at byte 0"),
        (b"ie", "integer with no digits at byte 0"),
        (
            b"i9223372036854775808e",
            "integer out of the 64-bit signed range at byte 0",
        ),
        (b"03:abc", "leading zero in byte string length at byte 0"),
        (
            b"l9:abce",
            "byte string of length 9 runs past the end of input (4 bytes left) at byte 1",
        ),
        (b"d1:bi1e1:ai2ee", "unsorted dictionary key `a` at byte 7"),
        (b"d1:ai1e1:ai2ee", "duplicate dictionary key `a` at byte 7"),
        (b"di1ei2ee", "dictionary key is not a byte string at byte 1"),
        (
            b"i1ei2e",
            "trailing bytes after the top-level value at byte 3",
        ),
        (
            b"d3:cow",
            "unexpected end of input (at least 1 more bytes needed) at byte 6",
        ),
    ];
    for (input, message) in cases {
        let out = bt(&["decode", "-"], input);
        assert_eq!(out.status.code(), Some(1), "{}", input.escape_ascii());
        assert!(out.stdout.is_empty());
        let err = stderr(&out);
        assert!(err.starts_with("bt: <stdin>: bencode: "), "{err}");
        assert!(err.contains(message), "for {}: {err}", input.escape_ascii());
    }
}

#[test]
fn a_million_nested_lists_is_an_error_not_a_crash() {
    let mut bomb = vec![b'l'; 1_000_000];
    bomb.extend(std::iter::repeat_n(b'e', 1_000_000));
    let out = bt(&["decode", "-"], &bomb);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("nested deeper than 256 levels at byte 256"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn lenient_accepts_unsorted_keys_and_keeps_their_order() {
    let out = bt(
        &["decode", "--lenient", "--compact", "-"],
        b"d1:bi1e1:ai2ee",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "{\"b\":1,\"a\":2}\n"
    );
    let strict = bt(&["decode", "-"], b"d1:bi1e1:ai2ee");
    assert!(stderr(&strict).contains("--lenient accepts unsorted keys"));
}

#[test]
fn a_missing_file_is_named_in_the_error() {
    let scratch = Scratch::new("decode-missing");
    let missing = scratch.path().join("nope.torrent");
    let out = bt(&["decode", missing.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("nope.torrent"), "{}", stderr(&out));
}

#[test]
fn completions_are_generated_for_bash() {
    let out = bt(&["completions", "bash"], b"");
    assert!(out.status.success());
    let script = String::from_utf8(out.stdout).unwrap();
    assert!(
        script.contains("_bt()") && script.contains("decode"),
        "{script}"
    );
}
