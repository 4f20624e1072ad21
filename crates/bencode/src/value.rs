//! The value trees: [`Value`] borrows its byte strings from the input, [`OwnedValue`] owns them.

use std::collections::BTreeMap;
use std::fmt;

/// A decoded bencode value whose byte strings borrow from the input buffer.
///
/// Decoding a 20 MB `pieces` string costs one slice, not a copy.
#[derive(Clone, PartialEq, Eq)]
pub enum Value<'a> {
    /// An integer (`i42e`).
    Int(i64),
    /// A byte string (`4:spam`), not necessarily UTF-8.
    Bytes(&'a [u8]),
    /// A list (`l...e`).
    List(Vec<Value<'a>>),
    /// A dictionary (`d...e`).
    Dict(Dict<'a>),
}

/// A bencode dictionary: byte-string keys with values, in the order they were read.
///
/// Dictionaries decoded strictly, and those built with [`Dict::insert`], are sorted by key as raw
/// bytes (canonical order). Dictionaries decoded in lenient mode keep the input's order, so that
/// [`encode_verbatim`](crate::encode_verbatim) writes them back byte for byte.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Dict<'a> {
    entries: Vec<(&'a [u8], Value<'a>)>,
}

impl<'a> Dict<'a> {
    /// An empty dictionary.
    pub fn new() -> Self {
        Self::default()
    }

    /// Wraps entries exactly as given, in that order (used by the decoder, which has already
    /// checked the order or been told to accept any).
    pub(crate) fn from_entries(entries: Vec<(&'a [u8], Value<'a>)>) -> Self {
        Self { entries }
    }

    /// The value stored under `key`.
    pub fn get(&self, key: &[u8]) -> Option<&Value<'a>> {
        self.position(key).map(|i| &self.entries[i].1)
    }

    /// The value stored under `key`, mutably.
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut Value<'a>> {
        self.position(key).map(move |i| &mut self.entries[i].1)
    }

    fn position(&self, key: &[u8]) -> Option<usize> {
        // Sorted dictionaries are found by binary search; a lenient one may be unsorted, so a miss
        // falls back to a scan rather than trusting the order.
        match self.entries.binary_search_by(|(k, _)| (*k).cmp(key)) {
            Ok(i) => Some(i),
            Err(_) => self.entries.iter().position(|(k, _)| *k == key),
        }
    }

    /// Inserts `value` under `key`, replacing and returning any previous value. A new key goes to
    /// its sorted place, so a dictionary built this way is canonical.
    pub fn insert(&mut self, key: &'a [u8], value: Value<'a>) -> Option<Value<'a>> {
        if let Some(i) = self.position(key) {
            return Some(std::mem::replace(&mut self.entries[i].1, value));
        }
        let at = self.entries.partition_point(|(k, _)| *k < key);
        self.entries.insert(at, (key, value));
        None
    }

    /// Removes and returns the value stored under `key`.
    pub fn remove(&mut self, key: &[u8]) -> Option<Value<'a>> {
        self.position(key).map(|i| self.entries.remove(i).1)
    }

    /// The entries in stored order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&'a [u8], &Value<'a>)> + '_ {
        self.entries.iter().map(|(k, v)| (*k, v))
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// True when the keys are in canonical (strictly increasing) order.
    pub fn is_sorted(&self) -> bool {
        self.entries.windows(2).all(|w| w[0].0 < w[1].0)
    }

    pub(crate) fn entries(&self) -> &[(&'a [u8], Value<'a>)] {
        &self.entries
    }
}

impl<'a> FromIterator<(&'a [u8], Value<'a>)> for Dict<'a> {
    fn from_iter<I: IntoIterator<Item = (&'a [u8], Value<'a>)>>(iter: I) -> Self {
        let mut dict = Dict::new();
        for (k, v) in iter {
            dict.insert(k, v);
        }
        dict
    }
}

impl<'a> Value<'a> {
    /// The integer, if this is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The byte string, if this is one.
    pub fn as_bytes(&self) -> Option<&'a [u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The byte string as UTF-8 text, if this is a byte string holding valid UTF-8.
    pub fn as_str(&self) -> Option<&'a str> {
        self.as_bytes().and_then(|b| std::str::from_utf8(b).ok())
    }

    /// The list, if this is one.
    pub fn as_list(&self) -> Option<&[Value<'a>]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// The dictionary, if this is one.
    pub fn as_dict(&self) -> Option<&Dict<'a>> {
        match self {
            Value::Dict(d) => Some(d),
            _ => None,
        }
    }

    /// The dictionary, mutably, if this is one.
    pub fn as_dict_mut(&mut self) -> Option<&mut Dict<'a>> {
        match self {
            Value::Dict(d) => Some(d),
            _ => None,
        }
    }

    /// A short name of this value's type, for messages: `integer`, `byte string`, `list`, `dictionary`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Int(_) => "integer",
            Value::Bytes(_) => "byte string",
            Value::List(_) => "list",
            Value::Dict(_) => "dictionary",
        }
    }

    /// Copies every byte string into an [`OwnedValue`] that no longer borrows the input.
    pub fn to_owned_value(&self) -> OwnedValue {
        match self {
            Value::Int(i) => OwnedValue::Int(*i),
            Value::Bytes(b) => OwnedValue::Bytes(b.to_vec()),
            Value::List(l) => OwnedValue::List(l.iter().map(Value::to_owned_value).collect()),
            Value::Dict(d) => OwnedValue::Dict(
                d.iter()
                    .map(|(k, v)| (k.to_vec(), v.to_owned_value()))
                    .collect(),
            ),
        }
    }
}

/// A bencode value that owns its data; dictionaries are always in canonical order.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OwnedValue {
    /// An integer.
    Int(i64),
    /// A byte string.
    Bytes(Vec<u8>),
    /// A list.
    List(Vec<OwnedValue>),
    /// A dictionary, sorted by key.
    Dict(BTreeMap<Vec<u8>, OwnedValue>),
}

impl OwnedValue {
    /// A borrowed view of this value (allocates the list and dictionary spines, not the bytes).
    pub fn as_value(&self) -> Value<'_> {
        match self {
            OwnedValue::Int(i) => Value::Int(*i),
            OwnedValue::Bytes(b) => Value::Bytes(b),
            OwnedValue::List(l) => Value::List(l.iter().map(OwnedValue::as_value).collect()),
            OwnedValue::Dict(d) => Value::Dict(Dict::from_entries(
                d.iter()
                    .map(|(k, v)| (k.as_slice(), v.as_value()))
                    .collect(),
            )),
        }
    }
}

impl From<&Value<'_>> for OwnedValue {
    fn from(value: &Value<'_>) -> Self {
        value.to_owned_value()
    }
}

impl From<i64> for Value<'_> {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

impl<'a> From<&'a [u8]> for Value<'a> {
    fn from(b: &'a [u8]) -> Self {
        Value::Bytes(b)
    }
}

impl<'a> From<&'a str> for Value<'a> {
    fn from(s: &'a str) -> Self {
        Value::Bytes(s.as_bytes())
    }
}

/// Debug output shows byte strings as text when they are printable, so trees are readable.
impl fmt::Debug for Value<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(i) => write!(f, "{i}"),
            Value::Bytes(b) => fmt_bytes(b, f),
            Value::List(l) => f.debug_list().entries(l).finish(),
            Value::Dict(d) => fmt::Debug::fmt(d, f),
        }
    }
}

impl fmt::Debug for Dict<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.iter().map(|(k, v)| (DebugBytes(k), v)))
            .finish()
    }
}

impl fmt::Debug for OwnedValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.as_value(), f)
    }
}

struct DebugBytes<'a>(&'a [u8]);

impl fmt::Debug for DebugBytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_bytes(self.0, f)
    }
}

fn fmt_bytes(b: &[u8], f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match std::str::from_utf8(b) {
        Ok(s) if !s.chars().any(char::is_control) => write!(f, "{s:?}"),
        _ => write!(f, "b\"{}\"", b.escape_ascii()),
    }
}
