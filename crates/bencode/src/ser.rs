//! The serde serializer: writes canonical bencode straight into one buffer.
//!
//! Dictionary entries are written as they arrive. While their keys arrive in sorted order (every
//! struct whose fields are declared in key order, every `BTreeMap`), nothing is buffered or copied.
//! Only when a key arrives out of order is that one dictionary's region re-sorted at its end.

use serde::ser::{self, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::raw::{RAW_TOKEN, SPANNED_TOKEN};
use crate::sink::{put_bytes, put_int, Counter, Sink};
use crate::DecodeOptions;

/// Serializes `value` as canonical bencode.
///
/// ```
/// use serde::Serialize;
/// #[derive(Serialize)]
/// struct Reply<'a> {
///     interval: i64,
///     #[serde(with = "serde_bytes")]
///     peers: &'a [u8],
///     #[serde(rename = "failure reason", skip_serializing_if = "Option::is_none")]
///     failure: Option<&'a str>,
/// }
/// let bytes = torrentkit_bencode::to_vec(&Reply { interval: 1800, peers: b"", failure: None })?;
/// assert_eq!(bytes, b"d8:intervali1800e5:peers0:e");
/// # Ok::<(), torrentkit_bencode::Error>(())
/// ```
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    to_vec_into(value, &mut out)?;
    Ok(out)
}

/// Serializes `value` as canonical bencode, appending to `out`.
pub fn to_vec_into<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<()> {
    // Measure first, so the output is allocated once and a large byte string is copied once.
    let mut counter = Counter::default();
    serialize_into(value, &mut counter)?;
    out.reserve(counter.0);
    serialize_into(value, out)
}

fn serialize_into<T: Serialize + ?Sized, S: Sink>(value: &T, out: &mut S) -> Result<()> {
    let mut encoder = Encoder {
        out,
        skipped_none: false,
        raw_next: false,
    };
    value.serialize(&mut encoder)?;
    if encoder.skipped_none {
        return Err(Error::without_offset(ErrorKind::Unsupported(
            "a top-level `None`",
        )));
    }
    Ok(())
}

/// Serializes `value` as canonical bencode into `writer` (encoded in memory, then written once).
pub fn to_writer<W: std::io::Write, T: Serialize + ?Sized>(mut writer: W, value: &T) -> Result<()> {
    let bytes = to_vec(value)?;
    writer
        .write_all(&bytes)
        .map_err(|e| Error::without_offset(ErrorKind::Io(e.to_string())))
}

struct Encoder<'o, S> {
    out: &'o mut S,
    /// Set by `serialize_none`, which writes nothing: the enclosing dictionary then drops the key.
    skipped_none: bool,
    /// Set by `Raw`/`Spanned`: the next byte string is already bencode and is written verbatim.
    raw_next: bool,
}

impl<S: Sink> Encoder<'_, S> {
    fn check_not_none(&mut self, context: &'static str) -> Result<()> {
        if std::mem::take(&mut self.skipped_none) {
            Err(Error::without_offset(ErrorKind::Unsupported(context)))
        } else {
            Ok(())
        }
    }
}

fn unsupported<T>(what: &'static str) -> Result<T> {
    Err(Error::without_offset(ErrorKind::Unsupported(what)))
}

impl<'a, 'o, S: Sink> ser::Serializer for &'a mut Encoder<'o, S> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = ListEncoder<'a, 'o, S>;
    type SerializeTuple = ListEncoder<'a, 'o, S>;
    type SerializeTupleStruct = ListEncoder<'a, 'o, S>;
    type SerializeTupleVariant = ListEncoder<'a, 'o, S>;
    type SerializeMap = DictEncoder<'a, 'o, S>;
    type SerializeStruct = DictEncoder<'a, 'o, S>;
    type SerializeStructVariant = DictEncoder<'a, 'o, S>;

    fn serialize_bool(self, v: bool) -> Result<()> {
        put_int(self.out, i64::from(v));
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<()> {
        self.serialize_i64(v.into())
    }
    fn serialize_i16(self, v: i16) -> Result<()> {
        self.serialize_i64(v.into())
    }
    fn serialize_i32(self, v: i32) -> Result<()> {
        self.serialize_i64(v.into())
    }
    fn serialize_i64(self, v: i64) -> Result<()> {
        put_int(self.out, v);
        Ok(())
    }
    fn serialize_u8(self, v: u8) -> Result<()> {
        self.serialize_i64(v.into())
    }
    fn serialize_u16(self, v: u16) -> Result<()> {
        self.serialize_i64(v.into())
    }
    fn serialize_u32(self, v: u32) -> Result<()> {
        self.serialize_i64(v.into())
    }
    fn serialize_u64(self, v: u64) -> Result<()> {
        match i64::try_from(v) {
            Ok(v) => self.serialize_i64(v),
            Err(_) => unsupported("an integer above i64::MAX"),
        }
    }
    fn serialize_f32(self, _v: f32) -> Result<()> {
        unsupported("floating-point numbers")
    }
    fn serialize_f64(self, _v: f64) -> Result<()> {
        unsupported("floating-point numbers")
    }
    fn serialize_char(self, v: char) -> Result<()> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Result<()> {
        put_bytes(self.out, v.as_bytes());
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<()> {
        if std::mem::take(&mut self.raw_next) {
            self.out.extend_from_slice(v);
        } else {
            put_bytes(self.out, v);
        }
        Ok(())
    }
    fn serialize_none(self) -> Result<()> {
        self.skipped_none = true;
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<()> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<()> {
        unsupported("the unit type")
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<()> {
        unsupported("a unit struct")
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<()> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<()> {
        if name == RAW_TOKEN || name == SPANNED_TOKEN {
            self.raw_next = true;
            value.serialize(&mut *self)?;
            if std::mem::take(&mut self.raw_next) {
                return unsupported("raw bencode that is not a byte slice");
            }
            return Ok(());
        }
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<()> {
        self.out.push(b'd');
        put_bytes(self.out, variant.as_bytes());
        value.serialize(&mut *self)?;
        self.check_not_none("`None` inside an enum variant")?;
        self.out.push(b'e');
        Ok(())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<ListEncoder<'a, 'o, S>> {
        self.out.push(b'l');
        Ok(ListEncoder {
            enc: self,
            variant: false,
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<ListEncoder<'a, 'o, S>> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<ListEncoder<'a, 'o, S>> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<ListEncoder<'a, 'o, S>> {
        self.out.push(b'd');
        put_bytes(self.out, variant.as_bytes());
        self.out.push(b'l');
        Ok(ListEncoder {
            enc: self,
            variant: true,
        })
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<DictEncoder<'a, 'o, S>> {
        Ok(DictEncoder::open(self, false))
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<DictEncoder<'a, 'o, S>> {
        Ok(DictEncoder::open(self, false))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<DictEncoder<'a, 'o, S>> {
        self.out.push(b'd');
        put_bytes(self.out, variant.as_bytes());
        Ok(DictEncoder::open(self, true))
    }
}

/// Writes a list, or a tuple variant's list.
pub(crate) struct ListEncoder<'a, 'o, S> {
    enc: &'a mut Encoder<'o, S>,
    variant: bool,
}

impl<S: Sink> ListEncoder<'_, '_, S> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        value.serialize(&mut *self.enc)?;
        self.enc.check_not_none("`None` inside a list")
    }

    fn close(self) -> Result<()> {
        self.enc.out.push(b'e');
        if self.variant {
            self.enc.out.push(b'e');
        }
        Ok(())
    }
}

impl<S: Sink> ser::SerializeSeq for ListEncoder<'_, '_, S> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.element(value)
    }
    fn end(self) -> Result<()> {
        self.close()
    }
}

impl<S: Sink> ser::SerializeTuple for ListEncoder<'_, '_, S> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.element(value)
    }
    fn end(self) -> Result<()> {
        self.close()
    }
}

impl<S: Sink> ser::SerializeTupleStruct for ListEncoder<'_, '_, S> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.element(value)
    }
    fn end(self) -> Result<()> {
        self.close()
    }
}

impl<S: Sink> ser::SerializeTupleVariant for ListEncoder<'_, '_, S> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.element(value)
    }
    fn end(self) -> Result<()> {
        self.close()
    }
}

/// Writes a dictionary (map, struct or struct variant).
pub(crate) struct DictEncoder<'a, 'o, S> {
    enc: &'a mut Encoder<'o, S>,
    /// Offset of the first entry, just after the `d`.
    body_start: usize,
    /// Where the current entry (key and value) starts.
    entry_start: usize,
    /// The key of the last entry written, as a range of the output.
    previous_key: Option<(usize, usize)>,
    /// The key just written by `serialize_key`, waiting for its value.
    pending_key: (usize, usize),
    sorted: bool,
    variant: bool,
}

impl<'a, 'o, S: Sink> DictEncoder<'a, 'o, S> {
    fn open(enc: &'a mut Encoder<'o, S>, variant: bool) -> Self {
        enc.out.push(b'd');
        let body_start = enc.out.len();
        Self {
            enc,
            body_start,
            entry_start: body_start,
            previous_key: None,
            pending_key: (0, 0),
            sorted: true,
            variant,
        }
    }

    fn key_bytes(&mut self, key: &[u8]) {
        self.entry_start = self.enc.out.len();
        put_bytes(self.enc.out, key);
        let end = self.enc.out.len();
        self.pending_key = (end - key.len(), end);
    }

    fn value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        value.serialize(&mut *self.enc)?;
        if std::mem::take(&mut self.enc.skipped_none) {
            // An absent optional field: the entry disappears, key included.
            self.enc.out.truncate(self.entry_start);
            return Ok(());
        }
        let key = self.pending_key;
        if let (Some(previous), Some(out)) = (self.previous_key, self.enc.out.written()) {
            match out[key.0..key.1].cmp(&out[previous.0..previous.1]) {
                std::cmp::Ordering::Greater => {}
                std::cmp::Ordering::Less => self.sorted = false,
                std::cmp::Ordering::Equal => {
                    return Err(Error::without_offset(ErrorKind::DuplicateKey {
                        key: out[key.0..key.1].to_vec(),
                    }))
                }
            }
        }
        self.previous_key = Some(key);
        Ok(())
    }

    fn close(self) -> Result<()> {
        if !self.sorted {
            self.enc.out.sort_region(self.body_start)?;
        }
        self.enc.out.push(b'e');
        if self.variant {
            self.enc.out.push(b'e');
        }
        Ok(())
    }
}

/// Re-sorts the entries written from `body_start` to the end of `out` by key. The region is
/// our own output, so it is re-read with the lexer rather than remembering every entry's bounds.
pub(crate) fn sort_entries(out: &mut Vec<u8>, body_start: usize) -> Result<()> {
    let region = &out[body_start..];
    let options = DecodeOptions::lenient().with_max_depth(usize::MAX);
    let mut entries = Vec::new();
    let mut pos = 0;
    while pos < region.len() {
        let (key, after_key) = crate::lex::dict_key(region, pos)?;
        let end = crate::lex::skip_value(region, after_key, 0, &options)?;
        entries.push((key, pos, end));
        pos = end;
    }
    entries.sort_by(|a, b| a.0.cmp(b.0));
    if let Some(pair) = entries.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(Error::without_offset(ErrorKind::DuplicateKey {
            key: pair[1].0.to_vec(),
        }));
    }
    let mut sorted = Vec::with_capacity(region.len());
    for (_, start, end) in entries {
        sorted.extend_from_slice(&region[start..end]);
    }
    out.truncate(body_start);
    out.extend_from_slice(&sorted);
    Ok(())
}

impl<S: Sink> ser::SerializeMap for DictEncoder<'_, '_, S> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<()> {
        let bytes = key.serialize(KeyCapture)?;
        self.key_bytes(bytes.as_ref());
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.value(value)
    }
    fn end(self) -> Result<()> {
        self.close()
    }
}

impl<S: Sink> ser::SerializeStruct for DictEncoder<'_, '_, S> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<()> {
        self.key_bytes(key.as_bytes());
        self.value(value)
    }
    fn end(self) -> Result<()> {
        self.close()
    }
}

impl<S: Sink> ser::SerializeStructVariant for DictEncoder<'_, '_, S> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<()> {
        self.key_bytes(key.as_bytes());
        self.value(value)
    }
    fn end(self) -> Result<()> {
        self.close()
    }
}

/// Captures a map key, which bencode requires to be a byte string (or text, or a unit variant).
struct KeyCapture;

fn not_a_key<T>() -> Result<T> {
    Err(Error::without_offset(ErrorKind::NonStringKey))
}

impl ser::Serializer for KeyCapture {
    type Ok = Vec<u8>;
    type Error = Error;
    type SerializeSeq = ser::Impossible<Vec<u8>, Error>;
    type SerializeTuple = ser::Impossible<Vec<u8>, Error>;
    type SerializeTupleStruct = ser::Impossible<Vec<u8>, Error>;
    type SerializeTupleVariant = ser::Impossible<Vec<u8>, Error>;
    type SerializeMap = ser::Impossible<Vec<u8>, Error>;
    type SerializeStruct = ser::Impossible<Vec<u8>, Error>;
    type SerializeStructVariant = ser::Impossible<Vec<u8>, Error>;

    fn serialize_str(self, v: &str) -> Result<Vec<u8>> {
        Ok(v.as_bytes().to_vec())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Vec<u8>> {
        Ok(v.to_vec())
    }
    fn serialize_char(self, v: char) -> Result<Vec<u8>> {
        Ok(v.to_string().into_bytes())
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Vec<u8>> {
        Ok(variant.as_bytes().to_vec())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<Vec<u8>> {
        value.serialize(self)
    }
    fn serialize_bool(self, _v: bool) -> Result<Vec<u8>> {
        not_a_key()
    }
    fn serialize_i8(self, _v: i8) -> Result<Vec<u8>> {
        not_a_key()
    }
    fn serialize_i16(self, _v: i16) -> Result<Vec<u8>> {
        not_a_key()
    }
    fn serialize_i32(self, _v: i32) -> Result<Vec<u8>> {
        not_a_key()
    }
    fn serialize_i64(self, _v: i64) -> Result<Vec<u8>> {
        not_a_key()
    }
    fn serialize_u8(self, _v: u8) -> Result<Vec<u8>> {
        not_a_key()
    }
    fn serialize_u16(self, _v: u16) -> Result<Vec<u8>> {
        not_a_key()
    }
    fn serialize_u32(self, _v: u32) -> Result<Vec<u8>> {
        not_a_key()
    }
    fn serialize_u64(self, _v: u64) -> Result<Vec<u8>> {
        not_a_key()
    }
    fn serialize_f32(self, _v: f32) -> Result<Vec<u8>> {
        not_a_key()
    }
    fn serialize_f64(self, _v: f64) -> Result<Vec<u8>> {
        not_a_key()
    }
    fn serialize_none(self) -> Result<Vec<u8>> {
        not_a_key()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _value: &T) -> Result<Vec<u8>> {
        not_a_key()
    }
    fn serialize_unit(self) -> Result<Vec<u8>> {
        not_a_key()
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<Vec<u8>> {
        not_a_key()
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<Vec<u8>> {
        not_a_key()
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq> {
        not_a_key()
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple> {
        not_a_key()
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct> {
        not_a_key()
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        not_a_key()
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap> {
        not_a_key()
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Self::SerializeStruct> {
        not_a_key()
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant> {
        not_a_key()
    }
}
