//! serde: zero-copy fields, optional fields, raw spans and canonical output.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use torrentkit_bencode::{
    from_bytes, from_bytes_with, to_vec, to_writer, ByteBuf, DecodeOptions, ErrorKind, Raw,
    Spanned, Value,
};

#[derive(Debug, Deserialize, Serialize, PartialEq)]
struct File<'a> {
    length: i64,
    #[serde(borrow)]
    path: Vec<&'a str>,
}

#[derive(Debug, Deserialize, Serialize, PartialEq)]
struct Info<'a> {
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    files: Option<Vec<File<'a>>>,
    name: &'a str,
    #[serde(rename = "piece length")]
    piece_length: u32,
    #[serde(with = "serde_bytes")]
    pieces: &'a [u8],
    #[serde(skip_serializing_if = "Option::is_none")]
    private: Option<bool>,
}

#[derive(Debug, Deserialize, Serialize, PartialEq)]
struct Torrent<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    announce: Option<&'a str>,
    #[serde(borrow)]
    info: Spanned<'a, Info<'a>>,
}

const TORRENT: &[u8] =
    b"d8:announce17:http://t/announce4:infod5:filesld6:lengthi3e4:pathl1:a1:beee\
4:name3:dir12:piece lengthi16384e6:pieces20:0123456789abcdefghij7:privatei1eee";

#[test]
fn borrowed_fields_point_into_the_input() {
    let torrent: Torrent<'_> = from_bytes(TORRENT).unwrap();
    let info = &torrent.info.value;
    assert_eq!(info.name, "dir");
    assert_eq!(info.private, Some(true));
    assert_eq!(info.files.as_ref().unwrap()[0].path, ["a", "b"]);
    let input = TORRENT.as_ptr_range();
    assert!(input.contains(&info.pieces.as_ptr()), "pieces was copied");
    assert!(input.contains(&info.name.as_ptr()), "name was copied");
}

#[test]
fn spanned_keeps_the_exact_bytes_and_writes_them_back() {
    let torrent: Torrent<'_> = from_bytes(TORRENT).unwrap();
    let start = TORRENT.windows(6).position(|w| w == b"4:info").unwrap() + 6;
    assert_eq!(torrent.info.raw, &TORRENT[start..TORRENT.len() - 1]);
    assert_eq!(to_vec(&torrent).unwrap(), TORRENT);
}

#[test]
fn absent_options_are_none_and_are_not_written() {
    let input = b"d4:infod4:name1:x12:piece lengthi1e6:pieces0:ee";
    let torrent: Torrent<'_> = from_bytes(input).unwrap();
    assert_eq!(torrent.announce, None);
    assert_eq!(torrent.info.value.files, None);
    assert_eq!(to_vec(&torrent).unwrap(), input);
}

#[test]
fn struct_fields_declared_out_of_order_are_written_sorted() {
    #[derive(Serialize)]
    struct Unsorted {
        zebra: i64,
        apple: &'static str,
        #[serde(rename = "middle key")]
        middle: Vec<i64>,
    }
    let bytes = to_vec(&Unsorted {
        zebra: 1,
        apple: "a",
        middle: vec![2, 3],
    })
    .unwrap();
    assert_eq!(bytes, b"d5:apple1:a10:middle keyli2ei3ee5:zebrai1ee");
    let mut via_writer = Vec::new();
    to_writer(
        &mut via_writer,
        &Unsorted {
            zebra: 1,
            apple: "a",
            middle: vec![],
        },
    )
    .unwrap();
    assert_eq!(via_writer, b"d5:apple1:a10:middle keyle5:zebrai1ee");
}

#[test]
fn maps_are_written_sorted_by_raw_bytes() {
    let map: HashMap<&str, i64> = [("b", 2), ("a", 1), ("B", 0), ("aa", 3)]
        .into_iter()
        .collect();
    assert_eq!(to_vec(&map).unwrap(), b"d1:Bi0e1:ai1e2:aai3e1:bi2ee");
}

#[test]
fn unsorted_input_is_rejected_by_serde_too_unless_lenient() {
    #[derive(Debug, Deserialize)]
    struct Pair {
        a: i64,
        b: i64,
    }
    let err = from_bytes::<Pair>(b"d1:bi1e1:ai2ee").unwrap_err();
    assert_eq!(
        err.to_string(),
        "bencode: unsorted dictionary key `a` at byte 7"
    );
    let pair: Pair = from_bytes_with(b"d1:bi1e1:ai2ee", &DecodeOptions::lenient()).unwrap();
    assert_eq!((pair.a, pair.b), (2, 1));
}

#[test]
fn type_mismatches_name_the_field_problem_and_offset() {
    let err = from_bytes::<Torrent<'_>>(b"d4:infod4:namei5eee").unwrap_err();
    assert_eq!(
        err.to_string(),
        "bencode: expected a byte string, found an integer at byte 14"
    );
    let err = from_bytes::<Torrent<'_>>(b"d4:infod4:name1:xee").unwrap_err();
    assert_eq!(
        err.to_string(),
        "bencode: missing field `piece length` at byte 7"
    );
    let err = from_bytes::<Info<'_>>(b"d4:name1:x12:piece lengthi-1e6:pieces0:e").unwrap_err();
    assert!(err.to_string().contains("at byte 25"), "{err}");
}

#[test]
fn non_utf8_text_field_is_an_error_with_offset() {
    #[derive(Debug, Deserialize)]
    struct Named<'a> {
        #[allow(dead_code)]
        name: &'a str,
    }
    let err = from_bytes::<Named<'_>>(b"d4:name2:\xff\xfee").unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::InvalidUtf8);
    assert_eq!(err.offset(), Some(7));
}

#[test]
fn unknown_fields_are_skipped_but_still_validated() {
    #[derive(Debug, Deserialize)]
    struct OnlyB {
        b: i64,
    }
    assert_eq!(from_bytes::<OnlyB>(b"d1:ali1ei2ee1:bi3ee").unwrap().b, 3);
    let err = from_bytes::<OnlyB>(b"d1:ali01ee1:bi3ee").unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::LeadingZero);
}

#[test]
fn raw_values_are_borrowed_verbatim() {
    #[derive(Deserialize, Serialize)]
    struct Envelope<'a> {
        #[serde(borrow)]
        body: Raw<'a>,
        id: i64,
    }
    let input = b"d4:bodyd1:xli1ei2eee2:idi7ee";
    let envelope: Envelope<'_> = from_bytes(input).unwrap();
    assert_eq!(envelope.body.as_bytes(), b"d1:xli1ei2eee");
    assert_eq!(
        envelope.body.to_value().unwrap().as_dict().unwrap().len(),
        1
    );
    assert_eq!(to_vec(&envelope).unwrap(), input);
    assert!(Raw::new(b"i1").is_err());
}

#[test]
fn values_can_hold_unknown_keys_inside_structs() {
    #[derive(Deserialize)]
    struct Known<'a> {
        #[serde(borrow, flatten)]
        rest: std::collections::BTreeMap<&'a str, Value<'a>>,
    }
    let known: Known<'_> = from_bytes(b"d3:fooi1e3:zzzl1:aee").unwrap();
    assert_eq!(known.rest["foo"], Value::Int(1));
    assert_eq!(
        known.rest["zzz"].as_list().unwrap()[0].as_bytes(),
        Some(&b"a"[..])
    );
}

#[test]
fn byte_buf_owns_bytes() {
    #[derive(Deserialize, Serialize)]
    struct Owned {
        id: ByteBuf,
    }
    let owned: Owned = from_bytes(b"d2:id3:\x00\x01\x02e").unwrap();
    assert_eq!(owned.id.as_slice(), [0, 1, 2]);
    assert_eq!(to_vec(&owned).unwrap(), b"d2:id3:\x00\x01\x02e");
}

#[test]
fn unrepresentable_values_are_refused_when_encoding() {
    assert_eq!(
        to_vec(&1.5f64).unwrap_err().kind(),
        &ErrorKind::Unsupported("floating-point numbers")
    );
    assert_eq!(
        to_vec(&u64::MAX).unwrap_err().kind(),
        &ErrorKind::Unsupported("an integer above i64::MAX")
    );
    assert_eq!(
        to_vec(&vec![Some(1), None]).unwrap_err().kind(),
        &ErrorKind::Unsupported("`None` inside a list")
    );
    assert_eq!(
        to_vec(&Option::<i64>::None).unwrap_err().kind(),
        &ErrorKind::Unsupported("a top-level `None`")
    );
}

#[test]
fn enums_use_names_and_one_entry_dictionaries() {
    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum Event {
        Started,
        Progress(i64),
    }
    assert_eq!(to_vec(&Event::Started).unwrap(), b"7:started");
    assert_eq!(to_vec(&Event::Progress(5)).unwrap(), b"d8:progressi5ee");
    assert_eq!(from_bytes::<Event>(b"7:started").unwrap(), Event::Started);
    assert_eq!(
        from_bytes::<Event>(b"d8:progressi5ee").unwrap(),
        Event::Progress(5)
    );
}
