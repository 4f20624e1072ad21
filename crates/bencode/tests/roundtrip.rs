//! Property tests: values survive encode/decode, canonical bytes survive decode/encode, and the
//! serde path agrees with the value-tree path.

use std::collections::BTreeMap;

use proptest::prelude::*;
use torrentkit_bencode::{
    decode, decode_with, encode, encode_verbatim, from_bytes, to_vec, DecodeOptions, OwnedValue,
};

fn arb_value() -> impl Strategy<Value = OwnedValue> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(OwnedValue::Int),
        prop::collection::vec(any::<u8>(), 0..24).prop_map(OwnedValue::Bytes),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(OwnedValue::List),
            prop::collection::btree_map(prop::collection::vec(any::<u8>(), 0..6), inner, 0..6)
                .prop_map(OwnedValue::Dict),
        ]
    })
}

/// Writes a dictionary with entries in the given order, sorted or not.
fn dict_in_order(entries: &[(Vec<u8>, OwnedValue)]) -> Vec<u8> {
    let mut out = b"d".to_vec();
    for (k, v) in entries {
        out.extend(format!("{}:", k.len()).bytes());
        out.extend(k);
        out.extend(encode(&v.as_value()));
    }
    out.push(b'e');
    out
}

proptest! {
    #[test]
    fn decode_of_encode_is_identity(value in arb_value()) {
        let bytes = encode(&value.as_value());
        let decoded = decode(&bytes).expect("canonical encoding decodes strictly");
        prop_assert_eq!(decoded.to_owned_value(), value);
    }

    #[test]
    fn encode_of_decode_reproduces_canonical_input(value in arb_value(), flip in any::<(usize, u8)>()) {
        let canonical = encode(&value.as_value());
        prop_assert_eq!(encode(&decode(&canonical).unwrap()), canonical.clone());
        // A corrupted copy either fails strictly or is itself canonical and round-trips exactly.
        let mut corrupted = canonical;
        let at = flip.0 % corrupted.len();
        corrupted[at] ^= flip.1 | 1;
        if let Ok(v) = decode(&corrupted) {
            prop_assert_eq!(encode(&v), corrupted);
        }
    }

    #[test]
    fn serde_agrees_with_the_value_tree(value in arb_value()) {
        let tree_bytes = encode(&value.as_value());
        prop_assert_eq!(to_vec(&value).unwrap(), tree_bytes.clone());
        prop_assert_eq!(to_vec(&value.as_value()).unwrap(), tree_bytes.clone());
        prop_assert_eq!(from_bytes::<OwnedValue>(&tree_bytes).unwrap(), value);
    }

    #[test]
    fn lenient_keeps_any_key_order_and_strict_demands_sorted(
        entries in prop::collection::btree_map(prop::collection::vec(any::<u8>(), 0..5), arb_value(), 0..8),
        seed in any::<u64>(),
    ) {
        let mut entries: Vec<(Vec<u8>, OwnedValue)> = entries.into_iter().collect();
        // A deterministic shuffle from the seed.
        let n = entries.len();
        for i in (1..n).rev() {
            let j = (seed.wrapping_mul(6364136223846793005).wrapping_add(i as u64) >> 33) as usize % (i + 1);
            entries.swap(i, j);
        }
        let input = dict_in_order(&entries);
        let lenient = decode_with(&input, &DecodeOptions::lenient()).unwrap();
        prop_assert_eq!(encode_verbatim(&lenient), input.clone());
        let sorted = entries.windows(2).all(|w| w[0].0 < w[1].0);
        prop_assert_eq!(decode(&input).is_ok(), sorted);
        let as_map: BTreeMap<_, _> = entries.into_iter().collect();
        prop_assert_eq!(encode(&lenient), encode(&OwnedValue::Dict(as_map).as_value()));
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_accepted_ones_are_canonical(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(v) = decode(&bytes) {
            prop_assert_eq!(encode(&v), bytes.clone());
        }
        let _ = decode_with(&bytes, &DecodeOptions::lenient());
        let _ = from_bytes::<OwnedValue>(&bytes);
    }
}
