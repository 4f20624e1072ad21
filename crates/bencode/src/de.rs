//! The serde deserializer: reads straight from the input, borrowing byte strings and strings,
//! with the same strictness, depth limit and error offsets as the value-tree decoder.

use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess as _, Visitor};
use serde::Deserialize;

use crate::decode::{incomplete_as_status, DecodeOptions, Status};
use crate::error::{Error, ErrorKind, Result};
use crate::lex::{self, KeyOrderCheck};
use crate::raw::{RAW_TOKEN, SPANNED_TOKEN};

/// Deserializes a `T` from strict bencode occupying all of `input`.
///
/// Fields of type `&[u8]` (with `#[serde(with = "serde_bytes")]` or [`serde_bytes::Bytes`]) and
/// `&str` borrow from `input` without copying; absent `Option` fields are `None`.
///
/// [`serde_bytes::Bytes`]: https://docs.rs/serde_bytes
pub fn from_bytes<'de, T: Deserialize<'de>>(input: &'de [u8]) -> Result<T> {
    from_bytes_with(input, &DecodeOptions::strict())
}

/// Deserializes a `T` from bencode occupying all of `input`, with the given options.
pub fn from_bytes_with<'de, T: Deserialize<'de>>(
    input: &'de [u8],
    options: &DecodeOptions,
) -> Result<T> {
    let mut de = Deserializer::new(input, options.clone());
    let value = T::deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// Deserializes a `T` from the start of `input`, which may continue after it (a ut_metadata
/// message carries raw data after its dictionary) or end too early (a partial read).
pub fn from_bytes_prefix<'de, T: Deserialize<'de>>(
    input: &'de [u8],
    options: &DecodeOptions,
) -> Result<Status<T>> {
    let mut de = Deserializer::new(input, options.clone());
    let result = T::deserialize(&mut de).map(|value| (value, de.pos));
    incomplete_as_status(result)
}

/// A serde [`Deserializer`](serde::Deserializer) over a bencode buffer.
///
/// Most callers use [`from_bytes`]; this type is public so that custom `Deserialize`
/// implementations can name it and so that several values can be read one after another.
#[derive(Debug)]
pub struct Deserializer<'de> {
    input: &'de [u8],
    pos: usize,
    depth: usize,
    options: DecodeOptions,
}

impl<'de> Deserializer<'de> {
    /// A deserializer positioned at the start of `input`.
    pub fn new(input: &'de [u8], options: DecodeOptions) -> Self {
        Self {
            input,
            pos: 0,
            depth: 0,
            options,
        }
    }

    /// How many bytes have been consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Checks that the whole input has been consumed.
    pub fn end(&self) -> Result<()> {
        if self.pos == self.input.len() {
            Ok(())
        } else {
            Err(Error::at(ErrorKind::TrailingBytes, self.pos))
        }
    }

    #[inline(always)]
    fn peek(&self) -> Result<u8> {
        self.input
            .get(self.pos)
            .copied()
            .ok_or_else(|| lex::end_at(self.pos))
    }

    #[inline(always)]
    fn parse_int(&mut self) -> Result<i64> {
        match self.peek()? {
            b'i' => {
                let (i, end) = lex::integer(self.input, self.pos)?;
                self.pos = end;
                Ok(i)
            }
            _ => Err(self.mismatch("an integer")),
        }
    }

    #[inline(always)]
    fn parse_bytes(&mut self) -> Result<&'de [u8]> {
        match self.peek()? {
            b'0'..=b'9' => {
                let (b, end) = lex::byte_string(self.input, self.pos)?;
                self.pos = end;
                Ok(b)
            }
            _ => Err(self.mismatch("a byte string")),
        }
    }

    #[inline(always)]
    fn parse_str(&mut self) -> Result<&'de str> {
        let start = self.pos;
        let bytes = self.parse_bytes()?;
        std::str::from_utf8(bytes).map_err(|_| Error::at(ErrorKind::InvalidUtf8, start))
    }

    /// A type-mismatch error naming what the input holds at the current position.
    fn mismatch(&self, expected: &'static str) -> Error {
        let found = match self.input.get(self.pos) {
            Some(b'i') => "an integer",
            Some(b'0'..=b'9') => "a byte string",
            Some(b'l') => "a list",
            Some(b'd') => "a dictionary",
            Some(&found) => {
                return Error::at(
                    ErrorKind::UnexpectedByte {
                        found,
                        expected: "a value",
                    },
                    self.pos,
                )
            }
            None => return lex::end_at(self.pos),
        };
        Error::at(ErrorKind::TypeMismatch { expected, found }, self.pos)
    }

    fn skip(&mut self) -> Result<&'de [u8]> {
        let start = self.pos;
        self.pos = lex::skip_value(self.input, start, self.depth, &self.options)?;
        Ok(&self.input[start..self.pos])
    }

    fn visit_list<V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value> {
        let start = self.pos;
        let saved_depth = self.depth;
        self.depth = lex::enter(self.depth, &self.options, start)?;
        self.pos += 1;
        let mut access = ListAccess {
            de: self,
            done: false,
        };
        let value = visitor
            .visit_seq(&mut access)
            .map_err(|e: Error| e.with_offset_if_missing(start))?;
        if !access.done {
            access.expect_end("the end of the list")?;
        }
        self.depth = saved_depth;
        Ok(value)
    }

    fn visit_dict<V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value> {
        let start = self.pos;
        let saved_depth = self.depth;
        self.depth = lex::enter(self.depth, &self.options, start)?;
        self.pos += 1;
        let mut access = DictAccess {
            de: self,
            order: KeyOrderCheck::default(),
            done: false,
        };
        let value = visitor
            .visit_map(&mut access)
            .map_err(|e: Error| e.with_offset_if_missing(start))?;
        if !access.done {
            // The visitor stopped early (it knew all it wanted); the rest must still be valid.
            while access.next_key::<de::IgnoredAny>()?.is_some() {
                access.next_value::<de::IgnoredAny>()?;
            }
        }
        self.depth = saved_depth;
        Ok(value)
    }
}

impl<'de> de::Deserializer<'de> for &mut Deserializer<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let start = self.pos;
        let result = match self.peek()? {
            b'i' => visitor.visit_i64(self.parse_int()?),
            b'0'..=b'9' => visitor.visit_borrowed_bytes(self.parse_bytes()?),
            b'l' => return self.visit_list(visitor),
            b'd' => return self.visit_dict(visitor),
            found => {
                return Err(Error::at(
                    ErrorKind::UnexpectedByte {
                        found,
                        expected: "a value",
                    },
                    start,
                ))
            }
        };
        result.map_err(|e: Error| e.with_offset_if_missing(start))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let start = self.pos;
        match self.parse_int()? {
            0 => visitor.visit_bool(false),
            1 => visitor.visit_bool(true),
            other => Err(de::Error::invalid_value(
                de::Unexpected::Signed(other),
                &"0 or 1",
            )),
        }
        .map_err(|e: Error| e.with_offset_if_missing(start))
    }

    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let start = self.pos;
        let i = self.parse_int()?;
        visitor
            .visit_i64(i)
            .map_err(|e: Error| e.with_offset_if_missing(start))
    }

    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_i64(visitor)
    }

    serde::forward_to_deserialize_any! {
        i128 u128
    }

    fn deserialize_i8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_i64(visitor)
    }
    fn deserialize_i16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_i64(visitor)
    }
    fn deserialize_i32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_i64(visitor)
    }
    fn deserialize_u8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_i64(visitor)
    }
    fn deserialize_u16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_i64(visitor)
    }
    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_i64(visitor)
    }

    fn deserialize_f32<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value> {
        Err(Error::at(
            ErrorKind::Unsupported("floating-point numbers"),
            self.pos,
        ))
    }

    fn deserialize_f64<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value> {
        Err(Error::at(
            ErrorKind::Unsupported("floating-point numbers"),
            self.pos,
        ))
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_str(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let start = self.pos;
        let s = self.parse_str()?;
        visitor
            .visit_borrowed_str(s)
            .map_err(|e: Error| e.with_offset_if_missing(start))
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let start = self.pos;
        let b = self.parse_bytes()?;
        visitor
            .visit_borrowed_bytes(b)
            .map_err(|e: Error| e.with_offset_if_missing(start))
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        // Bencode has no null: a present value is `Some`; an absent dictionary entry is `None`.
        visitor.visit_some(self)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value> {
        Err(Error::at(ErrorKind::Unsupported("the unit type"), self.pos))
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        match name {
            RAW_TOKEN => {
                let raw = self.skip()?;
                visitor.visit_borrowed_bytes(raw)
            }
            SPANNED_TOKEN => {
                let start = self.pos;
                visitor.visit_seq(SpannedAccess {
                    de: self,
                    start,
                    step: 0,
                })
            }
            _ => visitor.visit_newtype_struct(self),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.peek()? {
            b'l' => self.visit_list(visitor),
            _ => Err(self.mismatch("a list")),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.peek()? {
            b'd' => self.visit_dict(visitor),
            _ => Err(self.mismatch("a dictionary")),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        let start = self.pos;
        match self.peek()? {
            // A unit variant is written as its name.
            b'0'..=b'9' => {
                let name = self.parse_str()?;
                visitor.visit_enum(name.into_deserializer())
            }
            // Other variants are a one-entry dictionary from the name to the content.
            b'd' => {
                let saved_depth = self.depth;
                self.depth = lex::enter(self.depth, &self.options, start)?;
                self.pos += 1;
                let value = visitor.visit_enum(EnumAccess { de: self })?;
                match self.peek()? {
                    b'e' => self.pos += 1,
                    found => {
                        return Err(Error::at(
                            ErrorKind::UnexpectedByte {
                                found,
                                expected: "the end of a one-entry enum dictionary",
                            },
                            self.pos,
                        ))
                    }
                }
                self.depth = saved_depth;
                Ok(value)
            }
            _ => Err(self.mismatch("a byte string or dictionary naming an enum variant")),
        }
        .map_err(|e: Error| e.with_offset_if_missing(start))
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.skip()?;
        visitor.visit_unit()
    }
}

struct ListAccess<'a, 'de> {
    de: &'a mut Deserializer<'de>,
    done: bool,
}

impl ListAccess<'_, '_> {
    fn expect_end(&mut self, expected: &'static str) -> Result<()> {
        match self.de.peek()? {
            b'e' => {
                self.de.pos += 1;
                self.done = true;
                Ok(())
            }
            found => Err(Error::at(
                ErrorKind::UnexpectedByte { found, expected },
                self.de.pos,
            )),
        }
    }
}

impl<'de> de::SeqAccess<'de> for ListAccess<'_, 'de> {
    type Error = Error;

    #[inline]
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        if self.done {
            return Ok(None);
        }
        if self.de.peek()? == b'e' {
            self.de.pos += 1;
            self.done = true;
            return Ok(None);
        }
        seed.deserialize(&mut *self.de).map(Some)
    }
}

struct DictAccess<'a, 'de> {
    de: &'a mut Deserializer<'de>,
    order: KeyOrderCheck<'de>,
    done: bool,
}

impl<'de> de::MapAccess<'de> for DictAccess<'_, 'de> {
    type Error = Error;

    #[inline]
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        if self.done {
            return Ok(None);
        }
        let at = self.de.pos;
        if self.de.peek()? == b'e' {
            self.de.pos += 1;
            self.done = true;
            std::mem::take(&mut self.order).finish(self.de.pos)?;
            return Ok(None);
        }
        let (key, after) = lex::dict_key(self.de.input, at)?;
        self.order.push(key, at, &self.de.options)?;
        self.de.pos = after;
        seed.deserialize(KeyDeserializer { key, offset: at })
            .map(Some)
            .map_err(|e: Error| e.with_offset_if_missing(at))
    }

    #[inline]
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        seed.deserialize(&mut *self.de)
    }
}

/// Deserializes a dictionary key: a borrowed byte string, readable as text when it is UTF-8.
struct KeyDeserializer<'de> {
    key: &'de [u8],
    offset: usize,
}

impl<'de> de::Deserializer<'de> for KeyDeserializer<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_borrowed_bytes(self.key)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match std::str::from_utf8(self.key) {
            Ok(s) => visitor.visit_borrowed_str(s),
            Err(_) => Err(Error::at(ErrorKind::InvalidUtf8, self.offset)),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_str(visitor)
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_str(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        match std::str::from_utf8(self.key) {
            Ok(s) => visitor.visit_enum(s.into_deserializer()),
            Err(_) => Err(Error::at(ErrorKind::InvalidUtf8, self.offset)),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 bytes byte_buf option unit
        unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

/// Hands a `Spanned<T>` visitor the value, then the exact bytes it occupied.
struct SpannedAccess<'a, 'de> {
    de: &'a mut Deserializer<'de>,
    start: usize,
    step: u8,
}

impl<'de> de::SeqAccess<'de> for SpannedAccess<'_, 'de> {
    type Error = Error;

    #[inline]
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        self.step += 1;
        match self.step {
            1 => seed.deserialize(&mut *self.de).map(Some),
            2 => {
                let raw = &self.de.input[self.start..self.de.pos];
                seed.deserialize(de::value::BorrowedBytesDeserializer::new(raw))
                    .map(Some)
            }
            _ => Ok(None),
        }
    }
}

struct EnumAccess<'a, 'de> {
    de: &'a mut Deserializer<'de>,
}

impl<'de> de::EnumAccess<'de> for EnumAccess<'_, 'de> {
    type Error = Error;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self)> {
        let at = self.de.pos;
        let (key, after) = lex::dict_key(self.de.input, at)?;
        self.de.pos = after;
        // An unknown variant is reported at its key, not at the enclosing dictionary.
        let variant = seed
            .deserialize(KeyDeserializer { key, offset: at })
            .map_err(|e: Error| e.with_offset_if_missing(at))?;
        Ok((variant, self))
    }
}

impl<'de> de::VariantAccess<'de> for EnumAccess<'_, 'de> {
    type Error = Error;

    fn unit_variant(self) -> Result<()> {
        Err(Error::at(
            ErrorKind::Unsupported("a unit variant inside a dictionary"),
            self.de.pos,
        ))
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value> {
        seed.deserialize(&mut *self.de)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value> {
        de::Deserializer::deserialize_seq(&mut *self.de, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        de::Deserializer::deserialize_map(&mut *self.de, visitor)
    }
}
