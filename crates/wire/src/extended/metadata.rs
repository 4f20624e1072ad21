//! ut_metadata (BEP 9): fetching the info dictionary from peers, 16 KiB at a time.

use torrentkit_bencode::{
    decode_prefix, decode_with, encode_to, DecodeOptions, Dict, Status as BStatus, Value,
};

use super::fields::{bencode_error, Fields};
use crate::error::{Error, Result};

const MESSAGE: &str = "ut_metadata";

/// The size of every metadata piece but the last (BEP 9).
pub const METADATA_PIECE_LEN: usize = 16 * 1024;

/// A ut_metadata message (BEP 9).
///
/// ```
/// use torrentkit_wire::MetadataMessage;
/// let data = MetadataMessage::Data { piece: 0, total_size: 3, data: b"abc" };
/// let payload = data.to_payload();
/// assert_eq!(payload, b"d8:msg_typei1e5:piecei0e10:total_sizei3eeabc");
/// assert_eq!(MetadataMessage::decode(&payload)?, data);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetadataMessage<'a> {
    /// `msg_type` 0: please send metadata piece `piece`.
    Request {
        /// The metadata piece index.
        piece: u32,
    },
    /// `msg_type` 1: metadata piece `piece`, whose bytes follow the dictionary.
    Data {
        /// The metadata piece index.
        piece: u32,
        /// The size of the whole info dictionary.
        total_size: u64,
        /// The piece's bytes: 16 KiB, or less for the last piece.
        data: &'a [u8],
    },
    /// `msg_type` 2: the sender will not send metadata piece `piece`.
    Reject {
        /// The metadata piece index.
        piece: u32,
    },
}

impl<'a> MetadataMessage<'a> {
    /// Decodes a ut_metadata payload (after the extension id byte).
    ///
    /// For `Data`, the piece's length is checked against `total_size`: 16 KiB for every piece
    /// but the last, the remainder for the last. An unknown `msg_type` is
    /// [`Error::UnknownMetadataType`], which BEP 9 says to ignore.
    pub fn decode(payload: &'a [u8]) -> Result<Self> {
        let (value, consumed) = match decode_prefix(payload, &DecodeOptions::lenient())
            .map_err(bencode_error(MESSAGE))?
        {
            BStatus::Complete { value, consumed } => (value, consumed),
            BStatus::Incomplete { .. } => {
                // The payload ends inside the dictionary: let the whole-buffer decoder say where.
                return Err(match decode_with(payload, &DecodeOptions::lenient()) {
                    Err(source) => Error::Bencode {
                        message: MESSAGE,
                        source,
                    },
                    Ok(_) => Error::InvalidField {
                        message: MESSAGE,
                        field: "(top level)",
                        problem: "ends inside the dictionary".to_owned(),
                    },
                });
            }
        };
        let f = Fields::of(MESSAGE, &value)?;
        let msg_type = f.required_int("msg_type", i64::MIN, i64::MAX)?;
        let piece = f.required_int("piece", 0, i64::from(u32::MAX))? as u32;
        let rest = &payload[consumed..];
        let message = match msg_type {
            0 => MetadataMessage::Request { piece },
            1 => {
                let total_size = f.required_int("total_size", 0, i64::MAX)? as u64;
                let start = u64::from(piece) * METADATA_PIECE_LEN as u64;
                if start >= total_size {
                    return Err(f.error(
                        "piece",
                        format!("is {piece}, past the end of {total_size} bytes of metadata"),
                    ));
                }
                let expected = (total_size - start).min(METADATA_PIECE_LEN as u64);
                if rest.len() as u64 != expected {
                    return Err(f.error(
                        "total_size",
                        format!(
                            "is {total_size}, so piece {piece} should be {expected} bytes, but {} follow",
                            rest.len()
                        ),
                    ));
                }
                return Ok(MetadataMessage::Data {
                    piece,
                    total_size,
                    data: rest,
                });
            }
            2 => MetadataMessage::Reject { piece },
            msg_type => return Err(Error::UnknownMetadataType { msg_type }),
        };
        if !rest.is_empty() {
            return Err(f.error(
                "msg_type",
                format!(
                    "is {msg_type}, but {} bytes follow the dictionary",
                    rest.len()
                ),
            ));
        }
        Ok(message)
    }

    /// The metadata piece index.
    pub fn piece(&self) -> u32 {
        match self {
            MetadataMessage::Request { piece }
            | MetadataMessage::Data { piece, .. }
            | MetadataMessage::Reject { piece } => *piece,
        }
    }

    /// Appends the payload (dictionary, then the data for `Data`) to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let (msg_type, total_size, data) = match *self {
            MetadataMessage::Request { .. } => (0, None, &[][..]),
            MetadataMessage::Data {
                total_size, data, ..
            } => (1, Some(total_size), data),
            MetadataMessage::Reject { .. } => (2, None, &[][..]),
        };
        let mut dict = Dict::new();
        dict.insert(b"msg_type", Value::Int(msg_type));
        dict.insert(b"piece", Value::Int(i64::from(self.piece())));
        if let Some(size) = total_size {
            dict.insert(
                b"total_size",
                Value::Int(i64::try_from(size).unwrap_or(i64::MAX)),
            );
        }
        encode_to(&Value::Dict(dict), out);
        out.extend_from_slice(data);
    }

    /// The payload as a new vector.
    pub fn to_payload(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bep9_examples() {
        let request = MetadataMessage::decode(b"d8:msg_typei0e5:piecei0ee").unwrap();
        assert_eq!(request, MetadataMessage::Request { piece: 0 });
        let reject = MetadataMessage::decode(b"d8:msg_typei2e5:piecei0ee").unwrap();
        assert_eq!(reject, MetadataMessage::Reject { piece: 0 });
        assert_eq!(reject.to_payload(), b"d8:msg_typei2e5:piecei0ee");
    }

    #[test]
    fn data_length_must_match_total_size() {
        let mut payload = b"d8:msg_typei1e5:piecei0e10:total_sizei20000ee".to_vec();
        payload.extend_from_slice(&[7; 100]);
        let err = MetadataMessage::decode(&payload).unwrap_err();
        assert_eq!(
            err.to_string(),
            "wire: ut_metadata: field `total_size` is 20000, so piece 0 should be 16384 bytes, but 100 follow"
        );
        let mut last = b"d8:msg_typei1e5:piecei1e10:total_sizei20000ee".to_vec();
        last.extend_from_slice(&[7; 20000 - 16384]);
        assert!(matches!(
            MetadataMessage::decode(&last).unwrap(),
            MetadataMessage::Data { piece: 1, total_size: 20000, data } if data.len() == 3616
        ));
        let err =
            MetadataMessage::decode(b"d8:msg_typei1e5:piecei2e10:total_sizei20000ee").unwrap_err();
        assert!(err.to_string().contains("past the end"), "{err}");
    }

    #[test]
    fn unknown_types_missing_fields_and_truncation() {
        assert_eq!(
            MetadataMessage::decode(b"d8:msg_typei7e5:piecei0ee").unwrap_err(),
            Error::UnknownMetadataType { msg_type: 7 }
        );
        assert_eq!(
            MetadataMessage::decode(b"d8:msg_typei0ee").unwrap_err(),
            Error::MissingField {
                message: "ut_metadata",
                field: "piece"
            }
        );
        let err = MetadataMessage::decode(b"d8:msg_typei0e5:pie").unwrap_err();
        assert!(
            matches!(&err, Error::Bencode { source, .. } if source.is_incomplete()),
            "{err:?}"
        );
        let err = MetadataMessage::decode(b"d8:msg_typei0e5:piecei0eeXX").unwrap_err();
        assert!(err.to_string().contains("2 bytes follow"), "{err}");
    }
}
