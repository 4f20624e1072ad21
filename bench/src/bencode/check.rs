//! Checks run before measuring: every crate decodes each document to the same content, encodes it
//! back to the same bytes, and fails where the benchmark says it has no such API.

use crate::bencode::docs::Doc;
use crate::bencode::ops::{self, Crate, Summary, Tree};
use crate::bencode::types::Document;

/// Runs every check on `doc` for every crate; returns one message per failure.
pub fn check<T: Document>(doc: &Doc<T>) -> Vec<String> {
    let mut failures = Vec::new();
    let name = doc.name;
    let input = doc.bytes.as_slice();
    let reference = match ops::tree(Crate::Torrentkit, input) {
        Ok(Tree::Torrentkit(value)) => summarize_torrentkit(&value),
        Ok(_) => unreachable!("torrentkit decodes into its own tree"),
        Err(e) => return vec![format!("{name}: {e}")],
    };
    for krate in Crate::ALL {
        let mut report = |result: Result<(), String>| {
            if let Err(e) = result {
                failures.push(format!("{name}: {e}"));
            }
        };
        report(check_tree(krate, input, reference));
        report(check_encode_tree(krate, input));
        report(check_serde_borrowed::<T>(krate, input));
        report(check_serde_owned(krate, doc));
        report(check_encode(krate, doc));
    }
    failures
}

fn check_tree(krate: Crate, input: &[u8], reference: Summary) -> Result<(), String> {
    let summary = match ops::tree(krate, input)? {
        Tree::Torrentkit(value) => summarize_torrentkit(&value),
        Tree::SerdeBencode(value) => summarize_serde_bencode(&value),
        Tree::BendyWalk(summary) => summary,
        Tree::Bendy(_) => return Err(format!("{krate}: `tree` built a Value instead of walking")),
        Tree::BtBencode(value) => summarize_bt_bencode(&value),
        Tree::Librqbit(value) => summarize_librqbit(&value),
    };
    if summary == reference {
        Ok(())
    } else {
        Err(format!(
            "{krate} tree holds {summary:?}, torrentkit's holds {reference:?}"
        ))
    }
}

fn check_encode_tree(krate: Crate, input: &[u8]) -> Result<(), String> {
    let tree = ops::tree_for_encoding(krate, input)?;
    same_bytes(krate, "encode_tree", &ops::encode_tree(&tree)?, input)
}

fn check_serde_borrowed<T: Document>(krate: Crate, input: &[u8]) -> Result<(), String> {
    let decoded = ops::from_bytes::<T::Borrowed<'_>>(krate, input);
    match (krate.serde_borrowed_unsupported(), decoded) {
        (None, Ok(value)) => {
            let again = ops::to_vec(Crate::Torrentkit, &value)?;
            same_bytes(
                krate,
                "serde_borrowed (re-encoded by torrentkit)",
                &again,
                input,
            )
        }
        (None, Err(e)) => Err(e),
        (Some(_), Err(_)) => Ok(()),
        (Some(_), Ok(_)) => Err(format!(
            "{krate} decoded borrowed fields, but the benchmark skips it as unable to"
        )),
    }
}

fn check_serde_owned<T: Document>(krate: Crate, doc: &Doc<T>) -> Result<(), String> {
    let decoded: T = ops::from_bytes(krate, &doc.bytes)?;
    if decoded == doc.value {
        Ok(())
    } else {
        Err(format!("{krate} serde_owned decoded a different value"))
    }
}

fn check_encode<T: Document>(krate: Crate, doc: &Doc<T>) -> Result<(), String> {
    same_bytes(
        krate,
        "encode",
        &ops::to_vec(krate, &doc.value)?,
        &doc.bytes,
    )
}

fn same_bytes(krate: Crate, op: &str, got: &[u8], want: &[u8]) -> Result<(), String> {
    if got == want {
        return Ok(());
    }
    let at = got
        .iter()
        .zip(want)
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(want.len()));
    Err(format!(
        "{krate} {op} wrote {} bytes differing from the {} input bytes at byte {at}",
        got.len(),
        want.len()
    ))
}

fn summarize_torrentkit(value: &torrentkit_bencode::Value<'_>) -> Summary {
    fn walk(value: &torrentkit_bencode::Value<'_>, s: &mut Summary) {
        use torrentkit_bencode::Value;
        match value {
            Value::Int(i) => s.int(*i),
            Value::Bytes(b) => s.bytes(b),
            Value::List(items) => {
                s.lists += 1;
                items.iter().for_each(|item| walk(item, s));
            }
            Value::Dict(dict) => {
                s.dicts += 1;
                for (k, v) in dict.iter() {
                    s.bytes(k);
                    walk(v, s);
                }
            }
        }
    }
    let mut s = Summary::default();
    walk(value, &mut s);
    s
}

fn summarize_serde_bencode(value: &serde_bencode::value::Value) -> Summary {
    fn walk(value: &serde_bencode::value::Value, s: &mut Summary) {
        use serde_bencode::value::Value;
        match value {
            Value::Int(i) => s.int(*i),
            Value::Bytes(b) => s.bytes(b),
            Value::List(items) => {
                s.lists += 1;
                items.iter().for_each(|item| walk(item, s));
            }
            Value::Dict(dict) => {
                s.dicts += 1;
                for (k, v) in dict {
                    s.bytes(k);
                    walk(v, s);
                }
            }
        }
    }
    let mut s = Summary::default();
    walk(value, &mut s);
    s
}

fn summarize_bt_bencode(value: &bt_bencode::Value) -> Summary {
    fn walk(value: &bt_bencode::Value, s: &mut Summary) {
        use bt_bencode::value::Number;
        use bt_bencode::Value;
        match value {
            Value::Int(Number::Signed(i)) => s.int(*i),
            // Wraps like the sum itself; these documents hold no integer above i64::MAX.
            Value::Int(Number::Unsigned(u)) => s.int(*u as i64),
            Value::ByteStr(b) => s.bytes(b),
            Value::List(items) => {
                s.lists += 1;
                items.iter().for_each(|item| walk(item, s));
            }
            Value::Dict(dict) => {
                s.dicts += 1;
                for (k, v) in dict {
                    s.bytes(k);
                    walk(v, s);
                }
            }
        }
    }
    let mut s = Summary::default();
    walk(value, &mut s);
    s
}

fn summarize_librqbit(value: &librqbit_bencode::BencodeValueBorrowed<'_>) -> Summary {
    fn walk(value: &librqbit_bencode::BencodeValueBorrowed<'_>, s: &mut Summary) {
        use librqbit_bencode::BencodeValue;
        match value {
            BencodeValue::Integer(i) => s.int(*i),
            BencodeValue::Bytes(b) => s.bytes(b.0),
            BencodeValue::List(items) => {
                s.lists += 1;
                items.iter().for_each(|item| walk(item, s));
            }
            BencodeValue::Dict(dict) => {
                s.dicts += 1;
                for (k, v) in dict {
                    s.bytes(k.0);
                    walk(v, s);
                }
            }
        }
    }
    let mut s = Summary::default();
    walk(value, &mut s);
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bencode::docs;

    #[test]
    fn every_crate_agrees_on_the_tracker_reply() {
        assert_eq!(check(&docs::tracker_reply()), Vec::<String>::new());
    }

    #[test]
    fn every_crate_agrees_on_the_small_torrent() {
        assert_eq!(check(&docs::torrent_20kb()), Vec::<String>::new());
    }
}
