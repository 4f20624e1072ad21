//! Regression tests for inputs the fuzz targets found (see fuzz/README.md).

use serde::Deserialize;
use torrentkit_bencode::{from_bytes, ErrorKind};

/// The enum shape of the `serde` fuzz target's `Layout`, cut down to what these inputs need.
#[derive(Debug, PartialEq, Deserialize)]
enum Layout<'a> {
    #[serde(rename = "flat")]
    Flat,
    #[serde(rename = "dir")]
    Dir(&'a str),
}

#[derive(Debug, PartialEq, Deserialize)]
struct Info<'a> {
    #[serde(borrow)]
    layout: Layout<'a>,
}

/// Found by the `serde` fuzz target (minimised input `d1:1`): an unknown variant written in
/// dictionary form was reported with no byte offset at all, because `EnumAccess::variant_seed`
/// does not attach the key's offset to the error and the `?` after `visit_enum` in
/// `deserialize_enum` returns before the `map_err` that would have added one.
#[test]
fn unknown_enum_variant_in_dictionary_form_reports_its_offset() {
    assert_eq!(
        from_bytes::<Layout<'_>>(b"d3:dir1:xe"),
        Ok(Layout::Dir("x"))
    );

    let err = from_bytes::<Layout<'_>>(b"d1:1").unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Custom(m) if m.starts_with("unknown variant `1`")),
        "{err:?}"
    );
    assert_eq!(err.offset(), Some(1), "{err:?}");

    let err = from_bytes::<Layout<'_>>(b"d4:nopei0ee").unwrap_err();
    assert_eq!(
        err.to_string(),
        "bencode: unknown variant `nope`, expected `flat` or `dir` at byte 1"
    );
}

/// Found with the same `serde` fuzz target input, nested in a struct: the offset was filled in
/// by the enclosing dictionary, so the error pointed at byte 0 instead of the variant's key.
#[test]
fn unknown_enum_variant_inside_a_struct_points_at_the_variant_key() {
    assert_eq!(
        from_bytes::<Info<'_>>(b"d6:layout4:flate"),
        Ok(Info {
            layout: Layout::Flat
        })
    );

    let err = from_bytes::<Info<'_>>(b"d6:layoutd4:nopei0eee").unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Custom(m) if m.starts_with("unknown variant `nope`")),
        "{err:?}"
    );
    assert_eq!(err.offset(), Some(10), "{err}");
}
