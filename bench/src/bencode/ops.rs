//! The measured operations, one entry point per operation with the crate as an argument, so the
//! benchmark and the checks before it run exactly the same calls. Errors become messages naming
//! the crate.

use std::fmt;

use bendy::decoding::{Decoder, FromBencode, Object};
use bendy::encoding::Encoder;
use serde::{Deserialize, Serialize};

/// A bencode crate under comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Crate {
    /// torrentkit-bencode, the crate being measured.
    Torrentkit,
    /// serde_bencode.
    SerdeBencode,
    /// bendy.
    Bendy,
    /// bt_bencode.
    BtBencode,
    /// librqbit-bencode (rqbit's bencode).
    Librqbit,
}

impl Crate {
    /// Every crate, torrentkit first.
    pub const ALL: [Crate; 5] = [
        Crate::Torrentkit,
        Crate::SerdeBencode,
        Crate::Bendy,
        Crate::BtBencode,
        Crate::Librqbit,
    ];

    /// The criterion function name (and table column) of this crate.
    pub fn name(self) -> &'static str {
        match self {
            Crate::Torrentkit => "torrentkit",
            Crate::SerdeBencode => "serde_bencode",
            Crate::Bendy => "bendy",
            Crate::BtBencode => "bt_bencode",
            Crate::Librqbit => "librqbit",
        }
    }

    /// Why this crate cannot deserialize into borrowed `&[u8]`/`&str` fields, if it cannot.
    /// [`check`](crate::bencode::check) confirms that the refusal is real.
    pub fn serde_borrowed_unsupported(self) -> Option<&'static str> {
        match self {
            Crate::SerdeBencode => Some(
                "serde_bencode's deserializer copies every byte string into a Vec and hands it to \
                 the visitor as transient bytes, so borrowed &[u8]/&str fields cannot be filled",
            ),
            _ => None,
        }
    }
}

impl fmt::Display for Crate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The message for a crate's error: `<crate> <what>: <error>`.
fn failed(krate: Crate, what: &str, error: impl fmt::Display) -> String {
    format!("{krate} {what}: {error}")
}

/// Deserializes a `T` from the whole of `input` with the crate's serde deserializer.
pub fn from_bytes<'a, T: Deserialize<'a>>(krate: Crate, input: &'a [u8]) -> Result<T, String> {
    let fail = |e: &dyn fmt::Display| failed(krate, "cannot deserialize", e);
    match krate {
        Crate::Torrentkit => torrentkit_bencode::from_bytes(input).map_err(|e| fail(&e)),
        Crate::SerdeBencode => serde_bencode::from_bytes(input).map_err(|e| fail(&e)),
        // Trailing bytes are rejected, as every other crate here does.
        Crate::Bendy => bendy::serde::Deserializer::from_bytes(input)
            .with_forbid_trailing_bytes(true)
            .deserialize()
            .map_err(|e| fail(&e)),
        Crate::BtBencode => bt_bencode::from_slice(input).map_err(|e| fail(&e)),
        Crate::Librqbit => librqbit_bencode::from_bytes(input).map_err(|e| fail(&e)),
    }
}

/// Serializes `value` to a new `Vec<u8>` with the crate's serde serializer.
pub fn to_vec<T: Serialize>(krate: Crate, value: &T) -> Result<Vec<u8>, String> {
    let fail = |e: &dyn fmt::Display| failed(krate, "cannot serialize", e);
    match krate {
        Crate::Torrentkit => torrentkit_bencode::to_vec(value).map_err(|e| fail(&e)),
        Crate::SerdeBencode => serde_bencode::to_bytes(value).map_err(|e| fail(&e)),
        Crate::Bendy => bendy::serde::to_bytes(value).map_err(|e| fail(&e)),
        Crate::BtBencode => bt_bencode::to_vec(value).map_err(|e| fail(&e)),
        Crate::Librqbit => {
            let mut out = Vec::new();
            librqbit_bencode::bencode_serialize_to_writer(value, &mut out).map_err(|e| fail(&e))?;
            Ok(out)
        }
    }
}

/// A crate's value tree, as its own tree decoder builds it.
pub enum Tree<'a> {
    /// Borrows byte strings from the input.
    Torrentkit(torrentkit_bencode::Value<'a>),
    /// Owns its byte strings; dictionaries are `HashMap`s.
    SerdeBencode(serde_bencode::value::Value),
    /// bendy's decoder is lazy and builds no tree: this is what walking it to every leaf saw.
    BendyWalk(Summary),
    /// bendy's `Value`, decoded through `FromBencode` (which copies); used to measure encoding.
    Bendy(bendy::value::Value<'static>),
    /// Owns its byte strings; dictionaries are `BTreeMap`s.
    BtBencode(bt_bencode::Value),
    /// Borrows byte strings from the input; dictionaries are `HashMap`s.
    Librqbit(librqbit_bencode::BencodeValueBorrowed<'a>),
}

/// The `tree` operation: decodes `input` into the crate's value tree, borrowed where the crate
/// can borrow; bendy's lazy decoder is walked to every leaf instead (integers parsed).
pub fn tree(krate: Crate, input: &[u8]) -> Result<Tree<'_>, String> {
    let fail = |e: &dyn fmt::Display| failed(krate, "cannot decode a tree", e);
    Ok(match krate {
        Crate::Torrentkit => {
            Tree::Torrentkit(torrentkit_bencode::decode(input).map_err(|e| fail(&e))?)
        }
        Crate::SerdeBencode => {
            Tree::SerdeBencode(serde_bencode::from_bytes(input).map_err(|e| fail(&e))?)
        }
        Crate::Bendy => Tree::BendyWalk(bendy_walk(input).map_err(|e| fail(&e))?),
        Crate::BtBencode => Tree::BtBencode(bt_bencode::from_slice(input).map_err(|e| fail(&e))?),
        Crate::Librqbit => {
            Tree::Librqbit(librqbit_bencode::from_bytes(input).map_err(|e| fail(&e))?)
        }
    })
}

/// A tree that [`encode_tree`] can write: as [`tree`], except that bendy builds its `Value`.
pub fn tree_for_encoding(krate: Crate, input: &[u8]) -> Result<Tree<'_>, String> {
    match krate {
        Crate::Bendy => bendy_value(input)
            .map(Tree::Bendy)
            .map_err(|e| failed(krate, "cannot decode a tree", e)),
        _ => tree(krate, input),
    }
}

/// The `encode_tree` operation: writes a tree with its own crate's encoder.
pub fn encode_tree(tree: &Tree<'_>) -> Result<Vec<u8>, String> {
    match tree {
        Tree::Torrentkit(value) => Ok(torrentkit_bencode::encode(value)),
        Tree::SerdeBencode(value) => to_vec(Crate::SerdeBencode, value),
        Tree::BendyWalk(_) => Err("a bendy walk summary is not a tree".into()),
        Tree::Bendy(value) => {
            bendy_encode(value).map_err(|e| failed(Crate::Bendy, "cannot encode a tree", e))
        }
        Tree::BtBencode(value) => to_vec(Crate::BtBencode, value),
        Tree::Librqbit(value) => to_vec(Crate::Librqbit, value),
    }
}

/// Counts of what a value holds (dictionary keys count as byte strings), to compare trees of
/// different crates, whose dictionaries iterate in different orders.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Integers seen.
    pub ints: usize,
    /// Their wrapping sum.
    pub int_sum: i64,
    /// Byte strings seen, keys included.
    pub strings: usize,
    /// Their total length.
    pub string_bytes: usize,
    /// Lists seen.
    pub lists: usize,
    /// Dictionaries seen.
    pub dicts: usize,
}

impl Summary {
    /// Records one integer.
    pub fn int(&mut self, i: i64) {
        self.ints += 1;
        self.int_sum = self.int_sum.wrapping_add(i);
    }

    /// Records one byte string.
    pub fn bytes(&mut self, b: &[u8]) {
        self.strings += 1;
        self.string_bytes += b.len();
    }
}

/// The nesting limit given to bendy's decoder and encoder, torrentkit's default. (bendy's
/// `Value::from_bencode` and `to_bencode` take the limit from `Value`'s `EXPECTED_RECURSION_DEPTH`
/// and `MAX_DEPTH`, which are 0, and so reject any list or dictionary.)
const BENDY_MAX_DEPTH: usize = torrentkit_bencode::DEFAULT_MAX_DEPTH;

/// Decodes bendy's own `Value` tree (`FromBencode`, which copies every byte string).
fn bendy_value(input: &[u8]) -> Result<bendy::value::Value<'static>, bendy::decoding::Error> {
    let mut decoder = Decoder::new(input).with_max_depth(BENDY_MAX_DEPTH);
    let value = match decoder.next_object()? {
        Some(object) => bendy::value::Value::decode_bencode_object(object)?,
        None => return Err(bendy::decoding::Error::missing_field("a top-level value")),
    };
    if decoder.next_object()?.is_some() {
        return Err(bendy::decoding::Error::unexpected_field("trailing bytes"));
    }
    Ok(value)
}

/// Encodes bendy's `Value` (as `ToBencode::to_bencode` does, but with a usable nesting limit).
fn bendy_encode(value: &bendy::value::Value<'_>) -> Result<Vec<u8>, bendy::encoding::Error> {
    let mut encoder = Encoder::new().with_max_depth(BENDY_MAX_DEPTH);
    encoder.emit(value)?;
    encoder.get_output()
}

/// Walks bendy's lazy decoder over the whole input, parsing every integer, and rejects trailing
/// bytes, so the work matches a full decode without building anything.
fn bendy_walk(input: &[u8]) -> Result<Summary, bendy::decoding::Error> {
    let mut summary = Summary::default();
    let mut decoder = Decoder::new(input).with_max_depth(BENDY_MAX_DEPTH);
    match decoder.next_object()? {
        Some(object) => walk_object(object, &mut summary)?,
        None => return Err(bendy::decoding::Error::missing_field("a top-level value")),
    }
    if decoder.next_object()?.is_some() {
        return Err(bendy::decoding::Error::unexpected_field("trailing bytes"));
    }
    Ok(summary)
}

fn walk_object(
    object: Object<'_, '_>,
    summary: &mut Summary,
) -> Result<(), bendy::decoding::Error> {
    match object {
        Object::Integer(text) => summary.int(text.parse()?),
        Object::Bytes(b) => summary.bytes(b),
        Object::List(mut list) => {
            summary.lists += 1;
            while let Some(item) = list.next_object()? {
                walk_object(item, summary)?;
            }
        }
        Object::Dict(mut dict) => {
            summary.dicts += 1;
            while let Some((key, value)) = dict.next_pair()? {
                summary.bytes(key);
                walk_object(value, summary)?;
            }
        }
    }
    Ok(())
}
