//! Each BEP 3 strictness rule, checked with its exact error message and byte offset.

use torrentkit_bencode::{decode, decode_with, encode_verbatim, DecodeOptions, ErrorKind};

/// Decodes strictly and returns the error's display form, which carries kind and offset.
fn strict_error(input: &[u8]) -> String {
    decode(input)
        .expect_err("input must be rejected")
        .to_string()
}

#[test]
fn leading_zero_in_integer() {
    assert_eq!(
        strict_error(b"i03e"),
        "bencode: leading zero in integer at byte 0"
    );
    assert_eq!(
        strict_error(b"li1ei-01ee"),
        "bencode: leading zero in integer at byte 4"
    );
}

#[test]
fn negative_zero() {
    assert_eq!(
        strict_error(b"i-0e"),
        "bencode: negative zero integer at byte 0"
    );
}

#[test]
fn empty_integer() {
    assert_eq!(
        strict_error(b"ie"),
        "bencode: integer with no digits at byte 0"
    );
    assert_eq!(
        strict_error(b"l4:spami-ee"),
        "bencode: integer with no digits at byte 7"
    );
}

#[test]
fn integer_outside_i64() {
    assert_eq!(
        strict_error(b"i9223372036854775808e"),
        "bencode: integer out of the 64-bit signed range at byte 0"
    );
    assert_eq!(
        strict_error(b"i-9223372036854775809e"),
        "bencode: integer out of the 64-bit signed range at byte 0"
    );
    assert_eq!(
        strict_error(b"i123456789012345678901234567890e"),
        "bencode: integer out of the 64-bit signed range at byte 0"
    );
    assert_eq!(
        decode(b"i-9223372036854775808e").unwrap().as_int(),
        Some(i64::MIN)
    );
}

#[test]
fn integer_with_junk() {
    assert_eq!(
        strict_error(b"i12x4e"),
        "bencode: unexpected byte `x` where `e` ending the integer was expected at byte 3"
    );
    assert_eq!(
        strict_error(b"i+1e"),
        "bencode: unexpected byte `+` where a digit was expected at byte 1"
    );
}

#[test]
fn length_prefix_with_leading_zero() {
    assert_eq!(
        strict_error(b"03:abc"),
        "bencode: leading zero in byte string length at byte 0"
    );
    assert_eq!(decode(b"0:").unwrap().as_bytes(), Some(&b""[..]));
}

#[test]
fn length_beyond_the_input() {
    assert_eq!(
        strict_error(b"l5:abce"),
        "bencode: byte string of length 5 runs past the end of input (4 bytes left) at byte 1"
    );
    let err = decode(b"99999999999999999999:x").unwrap_err();
    assert!(
        matches!(
            err.kind(),
            ErrorKind::LengthOverflow | ErrorKind::StringPastEnd { .. }
        ),
        "{err}"
    );
    assert_eq!(err.offset(), Some(0));
}

#[test]
fn unsorted_keys() {
    assert_eq!(
        strict_error(b"d1:bi1e1:ai2ee"),
        "bencode: unsorted dictionary key `a` at byte 7"
    );
    // Raw-byte order, not text order: "B" (0x42) sorts before "a" (0x61).
    assert!(decode(b"d1:Bi1e1:ai2ee").is_ok());
    // A longer key whose prefix equals the previous key sorts after it.
    assert!(decode(b"d1:ai1e2:aai2ee").is_ok());
    assert_eq!(
        strict_error(b"d2:aai1e1:ai2ee"),
        "bencode: unsorted dictionary key `a` at byte 8"
    );
}

#[test]
fn duplicate_keys() {
    assert_eq!(
        strict_error(b"d1:ai1e1:ai2ee"),
        "bencode: duplicate dictionary key `a` at byte 7"
    );
    // Lenient mode accepts disorder but never duplicates, even far apart.
    let err = decode_with(b"d1:bi1e1:ai2e1:bi3ee", &DecodeOptions::lenient()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "bencode: duplicate dictionary key `b` at byte 13"
    );
}

#[test]
fn non_string_keys() {
    assert_eq!(
        strict_error(b"di1ei2ee"),
        "bencode: dictionary key is not a byte string at byte 1"
    );
    assert_eq!(
        strict_error(b"dlei2ee"),
        "bencode: dictionary key is not a byte string at byte 1"
    );
}

#[test]
fn trailing_bytes() {
    assert_eq!(
        strict_error(b"i1ei2e"),
        "bencode: trailing bytes after the top-level value at byte 3"
    );
    assert_eq!(
        strict_error(b"de\n"),
        "bencode: trailing bytes after the top-level value at byte 2"
    );
}

#[test]
fn truncated_input() {
    assert_eq!(
        strict_error(b""),
        "bencode: unexpected end of input (at least 1 more bytes needed) at byte 0"
    );
    assert_eq!(
        strict_error(b"l"),
        "bencode: unexpected end of input (at least 1 more bytes needed) at byte 1"
    );
    assert!(decode(b"d3:cow").unwrap_err().is_incomplete());
    assert!(decode(b"i12").unwrap_err().is_incomplete());
}

#[test]
fn garbage_where_a_value_should_be() {
    assert_eq!(
        strict_error(b"x"),
        "bencode: unexpected byte `x` where a value was expected at byte 0"
    );
    assert_eq!(
        strict_error(b"l\xffe"),
        "bencode: unexpected byte 0xff where a value was expected at byte 1"
    );
    assert_eq!(
        strict_error(b"3abc"),
        "bencode: unexpected byte `a` where `:` after a byte string length was expected at byte 1"
    );
}

#[test]
fn nesting_deeper_than_the_limit_is_an_error_not_a_crash() {
    let depth = 1_000_000;
    let mut bomb = vec![b'l'; depth];
    bomb.extend(std::iter::repeat_n(b'e', depth));
    let err = decode(&bomb).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::DepthLimit { limit: 256 });
    assert_eq!(err.offset(), Some(256));
    // The serde path and the skipping path are bounded the same way.
    let err = torrentkit_bencode::from_bytes::<serde::de::IgnoredAny>(&bomb).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::DepthLimit { limit: 256 });
    let err = torrentkit_bencode::from_bytes::<torrentkit_bencode::OwnedValue>(&bomb).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::DepthLimit { limit: 256 });
    // Dictionaries count too.
    let mut dicts = b"d1:a".repeat(300);
    dicts.extend(b"i1e");
    dicts.extend(std::iter::repeat_n(b'e', 300));
    assert_eq!(
        decode(&dicts).unwrap_err().kind(),
        &ErrorKind::DepthLimit { limit: 256 }
    );
}

#[test]
fn depth_limit_is_configurable_and_exact() {
    let nested = |n: usize| {
        let mut v = vec![b'l'; n];
        v.extend(std::iter::repeat_n(b'e', n));
        v
    };
    let options = DecodeOptions::strict().with_max_depth(3);
    assert!(decode_with(&nested(3), &options).is_ok());
    assert_eq!(
        decode_with(&nested(4), &options).unwrap_err().to_string(),
        "bencode: lists and dictionaries nested deeper than 3 levels at byte 3"
    );
}

#[test]
fn lenient_mode_accepts_unsorted_keys_and_keeps_their_order() {
    let input = b"d4:spami1e3:cowd1:zi0e1:ai1eee";
    assert!(decode(input).is_err());
    let value = decode_with(input, &DecodeOptions::lenient()).unwrap();
    let dict = value.as_dict().unwrap();
    assert_eq!(dict.get(b"spam").and_then(|v| v.as_int()), Some(1));
    assert_eq!(
        dict.get(b"cow")
            .unwrap()
            .as_dict()
            .unwrap()
            .get(b"a")
            .unwrap()
            .as_int(),
        Some(1)
    );
    let keys: Vec<&[u8]> = dict.iter().map(|(k, _)| k).collect();
    assert_eq!(keys, [&b"spam"[..], b"cow"]);
    assert_eq!(encode_verbatim(&value), input);
    assert_eq!(
        torrentkit_bencode::encode(&value),
        b"d3:cowd1:ai1e1:zi0ee4:spami1ee"
    );
}

#[test]
fn lenient_mode_is_still_strict_about_everything_else() {
    let lenient = DecodeOptions::lenient();
    for bad in [&b"i03e"[..], b"i-0e", b"03:abc", b"di1ei2ee", b"i1ei2e"] {
        assert!(
            decode_with(bad, &lenient).is_err(),
            "{}",
            bad.escape_ascii()
        );
    }
}

#[test]
fn non_utf8_keys_are_shown_in_hex() {
    assert_eq!(
        strict_error(b"d2:\xff\xfei1e1:ai2ee"),
        "bencode: unsorted dictionary key `a` at byte 8"
    );
    assert_eq!(
        strict_error(b"d1:\xffi1e1:\xffi2ee"),
        "bencode: duplicate dictionary key `0xff` at byte 7"
    );
}

/// Found by reading the fuzz target's results: digits running to the end of the input were
/// reported as "need more input" even when no continuation could make them valid.
#[test]
fn hopeless_digits_at_the_end_of_input_are_errors_not_incomplete() {
    use torrentkit_bencode::{decode_prefix, Status};
    let options = DecodeOptions::default();
    let cases: &[(&[u8], ErrorKind)] = &[
        (b"i-0", ErrorKind::NegativeZero),
        (b"i00", ErrorKind::LeadingZero),
        (b"i01", ErrorKind::LeadingZero),
        (b"i92233720368547758080", ErrorKind::IntegerOverflow),
        (b"i9223372036854775808", ErrorKind::IntegerOverflow),
        (b"i-9223372036854775809", ErrorKind::IntegerOverflow),
        (b"00", ErrorKind::LengthLeadingZero),
        (b"01", ErrorKind::LengthLeadingZero),
        (b"999999999999999999999", ErrorKind::LengthOverflow),
    ];
    for (input, kind) in cases {
        let err = decode_prefix(input, &options).unwrap_err();
        assert_eq!(err.kind(), kind, "{}", input.escape_ascii());
        assert_eq!(err.offset(), Some(0));
    }
    // Digits that could still become valid stay incomplete.
    for input in [
        &b"i0"[..],
        b"i-1",
        b"i9223372036854775807",
        b"0",
        b"12",
        b"i-",
    ] {
        assert!(
            matches!(
                decode_prefix(input, &options),
                Ok(Status::Incomplete { .. })
            ),
            "{}",
            input.escape_ascii()
        );
    }
}
