//! Strict, canonical, zero-copy [bencode] for BitTorrent, with serde.
//!
//! Bencode is the encoding of `.torrent` files, tracker replies and peer extension messages.
//! This crate decodes it into a borrowed [`Value`] tree whose byte strings point into the input,
//! or straight into your own types through serde ([`from_bytes`], [`to_vec`]); it keeps the exact
//! bytes of any value on request ([`Spanned`], [`Raw`]) so that an info-hash is always taken over
//! the bytes as they appeared; and it always writes canonical form, dictionary keys sorted as raw
//! bytes ([`encode`]).
//!
//! Decoding is strict by default, as BEP 3 requires: no leading zeros (`i03e`, `03:abc`), no
//! negative zero, integers within `i64`, dictionary keys that are byte strings, sorted and unique,
//! nothing after the top-level value. [`DecodeOptions::lenient`] accepts the unsorted keys that
//! some real-world torrents carry and keeps their order. Nesting is bounded
//! ([`DEFAULT_MAX_DEPTH`]), so no input can overflow the stack, and nothing is allocated beyond what
//! the input's size implies. Every [`Error`] names what is wrong and the byte offset where.
//!
//! A buffer that ends inside a value is not an error for [`decode_prefix`] and
//! [`from_bytes_prefix`]: they return [`Status::Incomplete`], so socket readers can wait for more.
//!
//! # Example
//!
//! ```
//! use serde::{Deserialize, Serialize};
//! use torrentkit_bencode::{from_bytes, to_vec, Spanned};
//!
//! #[derive(Deserialize, Serialize)]
//! struct Info<'a> {
//!     length: u64,
//!     name: &'a str,
//!     #[serde(rename = "piece length")]
//!     piece_length: u64,
//!     #[serde(with = "serde_bytes")]
//!     pieces: &'a [u8],
//! }
//!
//! #[derive(Deserialize, Serialize)]
//! struct Torrent<'a> {
//!     announce: Option<&'a str>,
//!     #[serde(borrow)]
//!     info: Spanned<'a, Info<'a>>,
//! }
//!
//! let file = b"d8:announce9:udp://x:14:infod6:lengthi5e4:name5:a.txt\
//!              12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaaee";
//! let torrent: Torrent<'_> = from_bytes(file)?;
//! assert_eq!(torrent.info.value.name, "a.txt");
//! // The info-hash is taken over these exact bytes.
//! assert!(torrent.info.raw.starts_with(b"d6:lengthi5e"));
//! // Writing it back reproduces the file: the encoder is canonical and `Spanned` is verbatim.
//! assert_eq!(to_vec(&torrent)?, file);
//!
//! // Strictness, with the offset of the problem:
//! let err = torrentkit_bencode::decode(b"d1:bi1e1:ai2ee").unwrap_err();
//! assert_eq!(err.to_string(), "bencode: unsorted dictionary key `a` at byte 7");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Feature flags
//!
//! None: the crate always has serde support and depends only on `nom`, `serde` and `itoa`.
//!
//! [bencode]: https://www.bittorrent.org/beps/bep_0003.html#bencoding

mod bytes;
mod de;
mod decode;
mod encode;
mod error;
mod lex;
mod raw;
mod ser;
mod sink;
mod value;
mod value_serde;

pub use bytes::ByteBuf;
pub use de::{from_bytes, from_bytes_prefix, from_bytes_with, Deserializer};
pub use decode::{decode, decode_prefix, decode_with, DecodeOptions, Status, DEFAULT_MAX_DEPTH};
pub use encode::{encode, encode_to, encode_verbatim, encoded_len};
pub use error::{Error, ErrorKind, Result};
pub use raw::{Raw, Spanned};
pub use ser::{to_vec, to_vec_into, to_writer};
pub use value::{Dict, OwnedValue, Value};

/// The README's examples, compiled and run as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
