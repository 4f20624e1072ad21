//! Why a session ended early ([`SessionError`]).

use std::fmt;

use crate::storage::StorageError;

/// Why a session ended early.
#[derive(Debug)]
#[non_exhaustive]
pub enum SessionError {
    /// Writing or reading the data failed (disk full, permissions...).
    Storage(StorageError),
    /// The disk thread could not be started or died.
    Disk(String),
    /// The metadata of a magnet link could not be had or used; the text says why.
    Metadata(String),
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionError::Storage(e) => write!(f, "session: {e}"),
            SessionError::Disk(m) => write!(f, "session: disk thread: {m}"),
            SessionError::Metadata(m) => write!(f, "session: metadata: {m}"),
        }
    }
}

impl std::error::Error for SessionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SessionError::Storage(e) => Some(e),
            SessionError::Disk(_) | SessionError::Metadata(_) => None,
        }
    }
}
