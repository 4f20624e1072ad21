//! Incremental decoding: a buffer that ends inside a value is `Incomplete`, never an error.

use serde::Deserialize;
use torrentkit_bencode::{decode_prefix, from_bytes_prefix, DecodeOptions, Status};

const MESSAGE: &[u8] =
    b"d8:completei5e10:incompletei2e8:intervali1800e5:peers6:\x7f\x00\x00\x01\x1a\xe1e";

#[test]
fn every_truncation_of_a_value_is_incomplete() {
    let options = DecodeOptions::default();
    for cut in 0..MESSAGE.len() {
        match decode_prefix(&MESSAGE[..cut], &options) {
            Ok(Status::Incomplete { .. }) => {}
            other => panic!("cut at {cut}: expected Incomplete, got {other:?}"),
        }
    }
    match decode_prefix(MESSAGE, &options).unwrap() {
        Status::Complete { value, consumed } => {
            assert_eq!(consumed, MESSAGE.len());
            assert_eq!(
                value.as_dict().unwrap().get(b"interval").unwrap().as_int(),
                Some(1800)
            );
        }
        Status::Incomplete { .. } => panic!("whole message reported incomplete"),
    }
}

#[test]
fn incomplete_reports_how_many_bytes_a_string_still_needs() {
    let options = DecodeOptions::default();
    assert_eq!(
        decode_prefix(b"10:abc", &options).unwrap(),
        Status::Incomplete { needed: Some(7) }
    );
}

#[test]
fn a_prefix_stops_at_the_end_of_the_value() {
    // A ut_metadata data message: a dictionary followed by raw piece bytes.
    let message = b"d8:msg_typei1e5:piecei0e10:total_sizei5eeHELLO";
    #[derive(Deserialize, Debug, PartialEq)]
    struct Header {
        msg_type: u8,
        piece: u32,
        total_size: u32,
    }
    match from_bytes_prefix::<Header>(message, &DecodeOptions::default()).unwrap() {
        Status::Complete { value, consumed } => {
            assert_eq!(
                value,
                Header {
                    msg_type: 1,
                    piece: 0,
                    total_size: 5
                }
            );
            assert_eq!(&message[consumed..], b"HELLO");
        }
        Status::Incomplete { .. } => panic!("complete header reported incomplete"),
    }
    assert!(matches!(
        from_bytes_prefix::<Header>(&message[..20], &DecodeOptions::default()).unwrap(),
        Status::Incomplete { .. }
    ));
}

#[test]
fn errors_inside_a_prefix_are_still_errors() {
    let options = DecodeOptions::default();
    let err = decode_prefix(b"d1:bi1e1:ai", &options).unwrap_err();
    assert_eq!(
        err.to_string(),
        "bencode: unsorted dictionary key `a` at byte 7"
    );
}
