//! Decoding bytes into a borrowed [`Value`] tree: strict by default, lenient on request,
//! whole-buffer or incremental.

use crate::error::{Error, ErrorKind, Result};
use crate::lex::{self, KeyOrderCheck};
use crate::value::{Dict, Value};

/// The nesting depth allowed by default: far beyond any real torrent or message (they nest four or
/// five levels), and shallow enough that recursion can never exhaust the stack.
pub const DEFAULT_MAX_DEPTH: usize = 256;

/// How strictly to decode.
///
/// The default is strict BEP 3 bencode: canonical integers and lengths, dictionary keys sorted as
/// raw bytes and unique, nothing after the top-level value, nesting at most [`DEFAULT_MAX_DEPTH`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DecodeOptions {
    /// Accept dictionaries whose keys are out of order, as some real-world torrents have them.
    /// Their order is kept, so [`encode_verbatim`](crate::encode_verbatim) reproduces the input.
    /// Duplicate keys are still rejected. Default: `false`.
    pub lenient: bool,
    /// The deepest nesting of lists and dictionaries accepted. Default: [`DEFAULT_MAX_DEPTH`].
    pub max_depth: usize,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        Self::strict()
    }
}

impl DecodeOptions {
    /// Strict BEP 3 decoding (the default).
    pub fn strict() -> Self {
        Self {
            lenient: false,
            max_depth: DEFAULT_MAX_DEPTH,
        }
    }

    /// Like [`strict`](Self::strict) but accepting unsorted dictionary keys.
    pub fn lenient() -> Self {
        Self {
            lenient: true,
            ..Self::strict()
        }
    }

    /// Sets the nesting limit.
    pub fn with_max_depth(mut self, max_depth: usize) -> Self {
        self.max_depth = max_depth;
        self
    }
}

/// The outcome of decoding from a buffer that may not yet hold the whole value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status<T> {
    /// A whole value was decoded from the first `consumed` bytes.
    Complete {
        /// The decoded value.
        value: T,
        /// How many bytes of the buffer it occupied.
        consumed: usize,
    },
    /// The buffer ends inside the value: read more and try again.
    Incomplete {
        /// At least this many more bytes are needed, when known.
        needed: Option<usize>,
    },
}

/// Decodes exactly one strict bencode value occupying all of `input`.
///
/// ```
/// let value = torrentkit_bencode::decode(b"d3:cow3:moo4:spaml1:a1:bee")?;
/// let dict = value.as_dict().unwrap();
/// assert_eq!(dict.get(b"cow").and_then(|v| v.as_str()), Some("moo"));
/// # Ok::<(), torrentkit_bencode::Error>(())
/// ```
pub fn decode(input: &[u8]) -> Result<Value<'_>> {
    decode_with(input, &DecodeOptions::strict())
}

/// Decodes exactly one value occupying all of `input`, with the given options.
pub fn decode_with<'a>(input: &'a [u8], options: &DecodeOptions) -> Result<Value<'a>> {
    let (value, end) = ValueParser { input, options }.value(0, 0)?;
    if end != input.len() {
        return Err(Error::at(ErrorKind::TrailingBytes, end));
    }
    Ok(value)
}

/// Decodes one value from the start of `input`, which may hold more bytes after it (the next
/// message) or not yet all of it (reading from a socket).
///
/// ```
/// use torrentkit_bencode::{decode_prefix, DecodeOptions, Status};
/// let options = DecodeOptions::default();
/// assert!(matches!(decode_prefix(b"d3:cow3:m", &options)?, Status::Incomplete { .. }));
/// match decode_prefix(b"i42eREST", &options)? {
///     Status::Complete { value, consumed } => assert_eq!((value.as_int(), consumed), (Some(42), 4)),
///     Status::Incomplete { .. } => unreachable!(),
/// }
/// # Ok::<(), torrentkit_bencode::Error>(())
/// ```
pub fn decode_prefix<'a>(input: &'a [u8], options: &DecodeOptions) -> Result<Status<Value<'a>>> {
    incomplete_as_status(ValueParser { input, options }.value(0, 0))
}

pub(crate) fn incomplete_as_status<T>(result: Result<(T, usize)>) -> Result<Status<T>> {
    match result {
        Ok((value, consumed)) => Ok(Status::Complete { value, consumed }),
        Err(e) => match e.kind() {
            ErrorKind::UnexpectedEnd { needed } => Ok(Status::Incomplete { needed: *needed }),
            ErrorKind::StringPastEnd { length, available } => Ok(Status::Incomplete {
                needed: usize::try_from(*length).ok().map(|l| l - available),
            }),
            _ => Err(e),
        },
    }
}

struct ValueParser<'a, 'o> {
    input: &'a [u8],
    options: &'o DecodeOptions,
}

impl<'a> ValueParser<'a, '_> {
    fn value(&self, pos: usize, depth: usize) -> Result<(Value<'a>, usize)> {
        let input = self.input;
        match input.get(pos) {
            Some(b'0'..=b'9') => {
                lex::byte_string(input, pos).map(|(b, end)| (Value::Bytes(b), end))
            }
            Some(b'i') => lex::integer(input, pos).map(|(i, end)| (Value::Int(i), end)),
            Some(b'l') => {
                let depth = lex::enter(depth, self.options, pos)?;
                let mut items = Vec::new();
                let mut pos = pos + 1;
                loop {
                    match input.get(pos) {
                        Some(b'e') => return Ok((Value::List(items), pos + 1)),
                        _ => {
                            let (item, end) = self.value(pos, depth)?;
                            items.push(item);
                            pos = end;
                        }
                    }
                }
            }
            Some(b'd') => {
                let depth = lex::enter(depth, self.options, pos)?;
                let mut entries = Vec::new();
                let mut order = KeyOrderCheck::default();
                let mut pos = pos + 1;
                loop {
                    match input.get(pos) {
                        Some(b'e') => {
                            let end = order.finish(pos + 1)?;
                            return Ok((Value::Dict(Dict::from_entries(entries)), end));
                        }
                        _ => {
                            let (key, after_key) = lex::dict_key(input, pos)?;
                            order.push(key, pos, self.options)?;
                            let (value, end) = self.value(after_key, depth)?;
                            entries.push((key, value));
                            pos = end;
                        }
                    }
                }
            }
            Some(&found) => Err(Error::at(
                ErrorKind::UnexpectedByte {
                    found,
                    expected: "a value",
                },
                pos,
            )),
            None => Err(lex::end_at(pos)),
        }
    }
}
