//! The caller's handle for one peer connection, shared by the picker and the choker.

use std::fmt;

/// Identifies one peer connection inside a torrent. A [`Torrent`](crate::Torrent) assigns them
/// to its connections; code that drives a [`Picker`](crate::Picker) or
/// [`Choker`](crate::Choker) itself assigns its own (a counter is enough) and must not reuse
/// one while they still know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "conn#{}", self.0)
    }
}
