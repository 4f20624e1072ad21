//! Reading typed fields out of a decoded extension dictionary, with errors naming the field.

use torrentkit_bencode::{Dict, Value};

use crate::error::{Error, Result};

/// The fields of one extension message's dictionary, named for error messages.
pub(crate) struct Fields<'d, 'a> {
    pub(crate) message: &'static str,
    pub(crate) dict: &'d Dict<'a>,
}

impl<'d, 'a> Fields<'d, 'a> {
    /// Reads the top-level dictionary of an extension message.
    pub(crate) fn of(message: &'static str, value: &'d Value<'a>) -> Result<Self> {
        match value {
            Value::Dict(dict) => Ok(Self { message, dict }),
            other => Err(Error::InvalidField {
                message,
                field: "(top level)",
                problem: format!("is a {}, not a dictionary", other.type_name()),
            }),
        }
    }

    fn invalid(&self, field: &'static str, problem: String) -> Error {
        Error::InvalidField {
            message: self.message,
            field,
            problem,
        }
    }

    pub(crate) fn missing(&self, field: &'static str) -> Error {
        Error::MissingField {
            message: self.message,
            field,
        }
    }

    /// An optional integer field within `min..=max`.
    pub(crate) fn int(&self, field: &'static str, min: i64, max: i64) -> Result<Option<i64>> {
        match self.dict.get(field.as_bytes()) {
            None => Ok(None),
            Some(Value::Int(i)) if (min..=max).contains(i) => Ok(Some(*i)),
            Some(Value::Int(i)) => {
                Err(self.invalid(field, format!("is {i}, outside {min}..={max}")))
            }
            Some(other) => {
                Err(self.invalid(field, format!("is a {}, not an integer", other.type_name())))
            }
        }
    }

    /// A required integer field within `min..=max`.
    pub(crate) fn required_int(&self, field: &'static str, min: i64, max: i64) -> Result<i64> {
        self.int(field, min, max)?
            .ok_or_else(|| self.missing(field))
    }

    /// An optional byte-string field.
    pub(crate) fn bytes(&self, field: &'static str) -> Result<Option<&'a [u8]>> {
        match self.dict.get(field.as_bytes()) {
            None => Ok(None),
            Some(Value::Bytes(b)) => Ok(Some(b)),
            Some(other) => Err(self.invalid(
                field,
                format!("is a {}, not a byte string", other.type_name()),
            )),
        }
    }

    /// An optional byte-string field of exactly `N` bytes.
    pub(crate) fn array<const N: usize>(&self, field: &'static str) -> Result<Option<[u8; N]>> {
        match self.bytes(field)? {
            None => Ok(None),
            Some(b) => b
                .try_into()
                .map(Some)
                .map_err(|_| self.invalid(field, format!("is {} bytes, not {N}", b.len()))),
        }
    }

    /// An optional dictionary field.
    pub(crate) fn dict(&self, field: &'static str) -> Result<Option<&'d Dict<'a>>> {
        match self.dict.get(field.as_bytes()) {
            None => Ok(None),
            Some(Value::Dict(d)) => Ok(Some(d)),
            Some(other) => Err(self.invalid(
                field,
                format!("is a {}, not a dictionary", other.type_name()),
            )),
        }
    }

    /// An error for `field` with the given problem.
    pub(crate) fn error(&self, field: &'static str, problem: String) -> Error {
        self.invalid(field, problem)
    }
}

/// Converts a bencode error into ours, naming the extension message.
pub(crate) fn bencode_error(
    message: &'static str,
) -> impl FnOnce(torrentkit_bencode::Error) -> Error {
    move |source| Error::Bencode { message, source }
}
