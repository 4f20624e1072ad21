//! [`Warning`]: soft defects found while reading a torrent, which load anyway.

use std::fmt;

/// A soft defect in a torrent that was accepted, as libtorrent accepts it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Warning {
    /// Dictionary keys were not sorted (the file was read in lenient mode); the info-hash is still
    /// taken over the bytes as they are.
    UnsortedKeys {
        /// The strict decoder's complaint, with its byte offset.
        detail: String,
    },
    /// A file path was changed to make it safe (see the crate's path rules).
    PathSanitised {
        /// The field it came from, such as `info.files[2].path`.
        field: String,
        /// The path as the torrent spells it (components joined by `/`, non-UTF-8 escaped).
        original: String,
        /// The path that is used.
        sanitised: String,
    },
    /// A file path repeated another file's path (or a directory's) and was renamed.
    DuplicatePath {
        /// The path before renaming.
        original: String,
        /// The path that is used.
        renamed: String,
    },
    /// A field with the wrong type or value was ignored.
    Ignored {
        /// The field.
        field: String,
        /// Why it was ignored.
        reason: String,
    },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::UnsortedKeys { detail } => {
                write!(f, "not canonical bencode, read leniently: {detail}")
            }
            Warning::PathSanitised {
                field,
                original,
                sanitised,
            } => write!(
                f,
                "unsafe path in `{field}`: {original:?} is used as {sanitised:?}"
            ),
            Warning::DuplicatePath { original, renamed } => {
                write!(f, "duplicate path {original:?} is used as {renamed:?}")
            }
            Warning::Ignored { field, reason } => write!(f, "ignored `{field}`: {reason}"),
        }
    }
}
