//! Fuzz target `decode`: the value-tree decoder (strict, lenient, incremental) and both encoders.
//!
//! On arbitrary bytes nothing may panic, and:
//! - strict success implies lenient success with the same tree, and `encode` gives back the input;
//! - lenient success implies `encode_verbatim` gives back the input, `encode` gives bytes that
//!   decode strictly and re-encode to themselves, and strict succeeds exactly when the input was
//!   already canonical;
//! - when both fail and strict did not stop at an unsorted key, both report the same error;
//! - every decoding error carries the offset of the byte it is about (the end of the input when
//!   it ran out), and that byte is what the error says: the found byte, the `i` of a bad integer,
//!   the digit starting a bad length, the `l`/`d` too deep, the key that is unsorted or repeated;
//! - `decode_prefix` agrees with `decode_with` (trailing bytes become `consumed`, running out of
//!   input becomes `Incomplete`, anything else is the same error);
//! - a few prefix-truncations of a valid input are `Incomplete`, never an error, and never claim
//!   to need more bytes than the rest of the input holds;
//! - the nesting limit accepts exactly the input's depth and rejects one less with `DepthLimit`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use torrentkit_bencode::{
    decode, decode_prefix, decode_with, encode, encode_verbatim, encoded_len, DecodeOptions, Error,
    ErrorKind, Status, Value,
};

fuzz_target!(|data: &[u8]| {
    let strict = DecodeOptions::strict();
    let lenient = DecodeOptions::lenient();
    let strict_result = decode_with(data, &strict);
    let lenient_result = decode_with(data, &lenient);

    for result in [&strict_result, &lenient_result] {
        if let Err(e) = result {
            check_error(e, data);
        }
    }
    check_prefix_agrees(data, &strict, &strict_result);
    check_prefix_agrees(data, &lenient, &lenient_result);

    match (&strict_result, &lenient_result) {
        (Ok(s), Ok(l)) => assert_eq!(s, l, "strict and lenient trees differ"),
        (Ok(_), Err(e)) => panic!("strict accepted what lenient rejected: {e}"),
        (Err(s), Err(l)) => {
            if !matches!(s.kind(), ErrorKind::UnsortedKey { .. }) {
                assert_eq!(s, l, "strict and lenient fail differently");
            }
        }
        (Err(_), Ok(_)) => {}
    }

    if let Ok(value) = &strict_result {
        assert_eq!(
            encode(value),
            data,
            "strict input does not round-trip through encode"
        );
        assert_eq!(encoded_len(value), data.len());
        check_truncations(data, &strict);
    }

    if let Ok(value) = &lenient_result {
        assert_eq!(
            encode_verbatim(value),
            data,
            "lenient input does not round-trip verbatim"
        );
        let canonical = encode(value);
        assert_eq!(encoded_len(value), canonical.len());
        assert_eq!(
            strict_result.is_ok(),
            canonical == data,
            "strict decoding disagrees with whether the input is canonical"
        );
        let again = decode(&canonical)
            .unwrap_or_else(|e| panic!("canonical re-encoding does not decode strictly: {e}"));
        assert_eq!(
            encode(&again),
            canonical,
            "canonical form is not a fixed point"
        );
        check_truncations(data, &lenient);
        check_depth_limit(data, value);
    }
});

/// A decoding error names the byte where the problem is (the end of the input when it ran out),
/// and that byte is what the error says it is.
fn check_error(e: &Error, data: &[u8]) {
    let offset = e
        .offset()
        .unwrap_or_else(|| panic!("decoding error without offset: {e:?}"));
    let shown = e.to_string();
    assert!(shown.starts_with("bencode: "), "{shown}");
    if let ErrorKind::UnexpectedEnd { .. } = e.kind() {
        assert_eq!(
            offset,
            data.len(),
            "end of input reported before the end: {e:?}"
        );
        return;
    }
    let at = *data
        .get(offset)
        .unwrap_or_else(|| panic!("error offset past the input: {e:?}"));
    let rest = &data[offset..];
    match e.kind() {
        ErrorKind::UnexpectedByte { found, .. } => assert_eq!(at, *found, "{e:?}"),
        ErrorKind::EmptyInteger
        | ErrorKind::LeadingZero
        | ErrorKind::NegativeZero
        | ErrorKind::IntegerOverflow => assert_eq!(at, b'i', "{e:?}"),
        ErrorKind::LengthLeadingZero
        | ErrorKind::LengthOverflow
        | ErrorKind::StringPastEnd { .. } => assert!(at.is_ascii_digit(), "{e:?}"),
        ErrorKind::NonStringKey => assert!(!at.is_ascii_digit(), "{e:?}"),
        ErrorKind::DepthLimit { .. } => assert!(at == b'l' || at == b'd', "{e:?}"),
        ErrorKind::UnsortedKey { key } | ErrorKind::DuplicateKey { key } => {
            let mut encoded = format!("{}:", key.len()).into_bytes();
            encoded.extend_from_slice(key);
            assert!(
                rest.starts_with(&encoded),
                "the key is not at the offset: {e:?}"
            );
        }
        _ => {}
    }
}

/// `decode_prefix` says the same as `decode_with`, except that trailing bytes end the value and
/// running out of input is a status.
fn check_prefix_agrees(data: &[u8], options: &DecodeOptions, whole: &Result<Value<'_>, Error>) {
    let prefix = decode_prefix(data, options);
    match (whole, &prefix) {
        (Ok(v), Ok(Status::Complete { value, consumed })) => {
            assert_eq!(
                (value, *consumed),
                (v, data.len()),
                "decode_prefix disagrees on a whole value"
            );
        }
        (Err(e), Ok(Status::Complete { value, consumed }))
            if *e.kind() == ErrorKind::TrailingBytes =>
        {
            assert_eq!(
                Some(*consumed),
                e.offset(),
                "trailing-bytes offset is not what was consumed"
            );
            let head = decode_with(&data[..*consumed], options)
                .unwrap_or_else(|e| panic!("the consumed prefix does not decode: {e}"));
            assert_eq!(&head, value);
        }
        (Err(e), Ok(Status::Incomplete { needed })) if e.is_incomplete() => {
            assert_ne!(*needed, Some(0), "Incomplete needing zero bytes");
        }
        (Err(e), Err(p)) if !e.is_incomplete() && *e.kind() != ErrorKind::TrailingBytes => {
            assert_eq!(e, p, "decode_prefix and decode_with fail differently");
        }
        _ => panic!("decode_with gave {whole:?} but decode_prefix gave {prefix:?}"),
    }
}

/// Cutting a valid input short is `Incomplete` (a few cut points, to stay fast).
fn check_truncations(data: &[u8], options: &DecodeOptions) {
    let n = data.len();
    let hashed = data
        .iter()
        .fold(n, |h, &b| h.wrapping_mul(31).wrapping_add(usize::from(b)));
    let cuts = [0, n / 2, n.saturating_sub(1), hashed % n.max(1)];
    for cut in cuts.into_iter().filter(|&c| c < n) {
        match decode_prefix(&data[..cut], options) {
            Ok(Status::Incomplete { needed }) => {
                if let Some(needed) = needed {
                    assert!(
                        (1..=n - cut).contains(&needed),
                        "cut at {cut} of {n}: claims {needed} more bytes are needed"
                    );
                }
            }
            other => panic!("cut at {cut} of {n}: expected Incomplete, got {other:?}"),
        }
    }
    // And with bytes after it, the value ends where it ended.
    let mut longer = data.to_vec();
    longer.extend_from_slice(b"i1e");
    match decode_prefix(&longer, options) {
        Ok(Status::Complete { consumed, .. }) => assert_eq!(consumed, n),
        other => panic!("with bytes appended: {other:?}"),
    }
}

/// The depth limit admits exactly the value's own nesting depth.
fn check_depth_limit(data: &[u8], value: &Value<'_>) {
    let d = depth(value);
    decode_with(data, &DecodeOptions::lenient().with_max_depth(d))
        .unwrap_or_else(|e| panic!("max_depth {d} rejects a value of depth {d}: {e}"));
    if d > 0 {
        let e = decode_with(data, &DecodeOptions::lenient().with_max_depth(d - 1)).unwrap_err();
        assert_eq!(*e.kind(), ErrorKind::DepthLimit { limit: d - 1 }, "{e}");
    }
}

fn depth(value: &Value<'_>) -> usize {
    match value {
        Value::Int(_) | Value::Bytes(_) => 0,
        Value::List(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Dict(dict) => 1 + dict.iter().map(|(_, v)| depth(v)).max().unwrap_or(0),
    }
}
