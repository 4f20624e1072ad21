//! The error type shared by decoding, encoding and serde, with the byte offset it happened at.

use std::fmt;

/// What went wrong while decoding or encoding bencode.
///
/// Decoding errors carry the byte offset in the input where the problem starts; encoding errors
/// have none. The [`Display`](fmt::Display) form names both: `bencode: leading zero in integer at byte 3`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(Box<ErrorInner>);

/// Boxed so that `Result<T, Error>` stays small: decoding returns results from every token, and a
/// one-pointer error keeps the success path in registers.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ErrorInner {
    kind: ErrorKind,
    offset: Option<usize>,
}

/// The kinds of [`Error`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input ended before the value did. `needed` is the number of further bytes known to be
    /// required, when the decoder knows it (for example the rest of a byte string).
    UnexpectedEnd {
        /// At least this many more bytes are needed, when known.
        needed: Option<usize>,
    },
    /// A byte that cannot start or continue a value here, such as `x` where a value should begin.
    UnexpectedByte {
        /// The byte found.
        found: u8,
        /// What the decoder expected instead.
        expected: &'static str,
    },
    /// An integer with no digits: `ie` or `i-e`.
    EmptyInteger,
    /// An integer written with a leading zero, such as `i03e`.
    LeadingZero,
    /// Negative zero, `i-0e`.
    NegativeZero,
    /// An integer outside the range of `i64`.
    IntegerOverflow,
    /// A byte-string length prefix written with a leading zero, such as `03:abc`.
    LengthLeadingZero,
    /// A byte-string length that does not fit in memory on this platform.
    LengthOverflow,
    /// A byte string whose declared length runs past the end of the input.
    StringPastEnd {
        /// The declared length.
        length: u64,
        /// How many bytes were left in the input after the `:`.
        available: usize,
    },
    /// A dictionary key that is not a byte string.
    NonStringKey,
    /// A dictionary key that sorts before the key preceding it (strict mode only).
    UnsortedKey {
        /// The out-of-order key.
        key: Vec<u8>,
    },
    /// A dictionary key that appears twice.
    DuplicateKey {
        /// The repeated key.
        key: Vec<u8>,
    },
    /// Bytes left over after the top-level value.
    TrailingBytes,
    /// Lists and dictionaries nested deeper than the configured limit.
    DepthLimit {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// A value had the wrong type for the Rust type it was decoded into.
    TypeMismatch {
        /// What the Rust type wanted.
        expected: &'static str,
        /// What the input held.
        found: &'static str,
    },
    /// A byte string was not valid UTF-8 where a string was required.
    InvalidUtf8,
    /// A Rust value or type that bencode cannot represent (floats, unit, `None` inside a list, an
    /// unsigned integer above `i64::MAX`...), met while encoding or asked for while decoding.
    Unsupported(&'static str),
    /// A message from a serde `Deserialize` or `Serialize` implementation.
    Custom(String),
    /// An I/O error from the writer given to [`to_writer`](crate::to_writer).
    Io(String),
}

impl Error {
    #[cold]
    pub(crate) fn at(kind: ErrorKind, offset: usize) -> Self {
        Self(Box::new(ErrorInner {
            kind,
            offset: Some(offset),
        }))
    }

    #[cold]
    pub(crate) fn without_offset(kind: ErrorKind) -> Self {
        Self(Box::new(ErrorInner { kind, offset: None }))
    }

    pub(crate) fn with_offset_if_missing(mut self, offset: usize) -> Self {
        self.0.offset.get_or_insert(offset);
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.0.kind
    }

    /// The byte offset in the input where the problem starts, for decoding errors.
    pub fn offset(&self) -> Option<usize> {
        self.0.offset
    }

    /// True when the input simply ended too early: more bytes may complete it.
    pub fn is_incomplete(&self) -> bool {
        matches!(
            self.0.kind,
            ErrorKind::UnexpectedEnd { .. } | ErrorKind::StringPastEnd { .. }
        )
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::UnexpectedEnd { needed: Some(n) } => {
                write!(
                    f,
                    "unexpected end of input (at least {n} more bytes needed)"
                )
            }
            ErrorKind::UnexpectedEnd { needed: None } => f.write_str("unexpected end of input"),
            ErrorKind::UnexpectedByte { found, expected } => {
                write!(
                    f,
                    "unexpected byte {} where {expected} was expected",
                    ShowByte(*found)
                )
            }
            ErrorKind::EmptyInteger => f.write_str("integer with no digits"),
            ErrorKind::LeadingZero => f.write_str("leading zero in integer"),
            ErrorKind::NegativeZero => f.write_str("negative zero integer"),
            ErrorKind::IntegerOverflow => f.write_str("integer out of the 64-bit signed range"),
            ErrorKind::LengthLeadingZero => f.write_str("leading zero in byte string length"),
            ErrorKind::LengthOverflow => f.write_str("byte string length too large"),
            ErrorKind::StringPastEnd { length, available } => write!(
                f,
                "byte string of length {length} runs past the end of input ({available} bytes left)"
            ),
            ErrorKind::NonStringKey => f.write_str("dictionary key is not a byte string"),
            ErrorKind::UnsortedKey { key } => {
                write!(f, "unsorted dictionary key `{}`", ShowKey(key))
            }
            ErrorKind::DuplicateKey { key } => {
                write!(f, "duplicate dictionary key `{}`", ShowKey(key))
            }
            ErrorKind::TrailingBytes => f.write_str("trailing bytes after the top-level value"),
            ErrorKind::DepthLimit { limit } => {
                write!(
                    f,
                    "lists and dictionaries nested deeper than {limit} levels"
                )
            }
            ErrorKind::TypeMismatch { expected, found } => {
                write!(f, "expected {expected}, found {found}")
            }
            ErrorKind::InvalidUtf8 => f.write_str("byte string is not valid UTF-8"),
            ErrorKind::Unsupported(what) => write!(f, "{what} has no bencode form"),
            ErrorKind::Custom(msg) => f.write_str(msg),
            ErrorKind::Io(msg) => write!(f, "write failed: {msg}"),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bencode: {}", self.0.kind)?;
        if let Some(offset) = self.0.offset {
            write!(f, " at byte {offset}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

impl serde::de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error::without_offset(ErrorKind::Custom(msg.to_string()))
    }
}

impl serde::ser::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error::without_offset(ErrorKind::Custom(msg.to_string()))
    }
}

/// Shows a byte as a printable character when it is one, else in hex.
struct ShowByte(u8);

impl fmt::Display for ShowByte {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_ascii_graphic() {
            write!(f, "`{}`", self.0 as char)
        } else {
            write!(f, "0x{:02x}", self.0)
        }
    }
}

/// Shows a dictionary key as text when it is printable UTF-8, else in hex; long keys are cut.
struct ShowKey<'a>(&'a [u8]);

impl fmt::Display for ShowKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MAX: usize = 64;
        let shown = &self.0[..self.0.len().min(MAX)];
        match std::str::from_utf8(shown) {
            Ok(s) if !s.chars().any(char::is_control) => f.write_str(s)?,
            _ => {
                f.write_str("0x")?;
                for b in shown {
                    write!(f, "{b:02x}")?;
                }
            }
        }
        if self.0.len() > MAX {
            f.write_str("...")?;
        }
        Ok(())
    }
}

/// Shorthand for results in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
