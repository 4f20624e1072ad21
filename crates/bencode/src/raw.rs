//! Types that keep the exact bytes of a value: [`Raw`] and [`Spanned`].
//!
//! A torrent's info-hash is the SHA-1 of its `info` dictionary exactly as it appears in the file,
//! never of a re-encoding, so the metainfo reader deserializes `info` as `Spanned<Info>`.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, SeqAccess, Visitor};
use serde::ser::{Serialize, Serializer};

/// The newtype-struct names by which our deserializer and serializer recognise these types.
pub(crate) const RAW_TOKEN: &str = "$torrentkit_bencode::Raw";
pub(crate) const SPANNED_TOKEN: &str = "$torrentkit_bencode::Spanned";

/// The exact encoded bytes of one bencode value, borrowed from the input and not decoded further.
///
/// Serializing a `Raw` writes those bytes back verbatim. Only this crate's deserializer and
/// serializer know how; other serde formats see a byte string.
///
/// ```
/// use torrentkit_bencode::Raw;
/// #[derive(serde::Deserialize)]
/// struct Torrent<'a> {
///     #[serde(borrow)]
///     info: Raw<'a>,
/// }
/// let t: Torrent<'_> = torrentkit_bencode::from_bytes(b"d4:infod4:name1:xee")?;
/// assert_eq!(t.info.as_bytes(), b"d4:name1:xe");
/// # Ok::<(), torrentkit_bencode::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Raw<'a>(&'a [u8]);

impl<'a> Raw<'a> {
    /// Wraps bytes that must already be one valid bencode value (checked).
    pub fn new(bytes: &'a [u8]) -> crate::Result<Self> {
        crate::decode_with(bytes, &crate::DecodeOptions::lenient())?;
        Ok(Self(bytes))
    }

    /// The encoded bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.0
    }

    /// Decodes the bytes into a value tree (leniently: they were already accepted once).
    pub fn to_value(&self) -> crate::Result<crate::Value<'a>> {
        crate::decode_with(self.0, &crate::DecodeOptions::lenient())
    }
}

impl fmt::Debug for Raw<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Raw({})", self.0.escape_ascii())
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Raw<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RawVisitor;
        impl<'de> Visitor<'de> for RawVisitor {
            type Value = Raw<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("raw bencode (only torrentkit_bencode can provide it)")
            }
            fn visit_borrowed_bytes<E: de::Error>(self, v: &'de [u8]) -> Result<Raw<'de>, E> {
                Ok(Raw(v))
            }
        }
        deserializer.deserialize_newtype_struct(RAW_TOKEN, RawVisitor)
    }
}

impl Serialize for Raw<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_newtype_struct(RAW_TOKEN, &BytesRef(self.0))
    }
}

/// A deserialized value together with the exact bytes it occupied in the input.
///
/// Serializing a `Spanned` writes the original bytes, not a re-encoding of `value`, so an edit
/// elsewhere in a torrent leaves its `info` bytes (and so its info-hash) untouched.
///
/// ```
/// use torrentkit_bencode::Spanned;
/// #[derive(serde::Deserialize)]
/// struct Info<'a> { name: &'a str }
/// #[derive(serde::Deserialize)]
/// struct Torrent<'a> {
///     #[serde(borrow)]
///     info: Spanned<'a, Info<'a>>,
/// }
/// let t: Torrent<'_> = torrentkit_bencode::from_bytes(b"d4:infod4:name1:xee")?;
/// assert_eq!(t.info.value.name, "x");
/// assert_eq!(t.info.raw, b"d4:name1:xe");
/// # Ok::<(), torrentkit_bencode::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spanned<'a, T> {
    /// The decoded value.
    pub value: T,
    /// The bytes it was decoded from.
    pub raw: &'a [u8],
}

impl<'de: 'a, 'a, T: Deserialize<'de>> Deserialize<'de> for Spanned<'a, T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SpannedVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for SpannedVisitor<T> {
            type Value = Spanned<'de, T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a value with its raw bencode (only torrentkit_bencode can provide it)")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let value = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let raw = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(1, &self))?;
                Ok(Spanned { value, raw })
            }
        }
        deserializer.deserialize_newtype_struct(SPANNED_TOKEN, SpannedVisitor(PhantomData))
    }
}

impl<T> Serialize for Spanned<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_newtype_struct(SPANNED_TOKEN, &BytesRef(self.raw))
    }
}

/// Serializes a slice with `serialize_bytes` (serde's default for `[u8]` is a sequence).
struct BytesRef<'a>(&'a [u8]);

impl Serialize for BytesRef<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}
