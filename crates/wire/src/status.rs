//! [`Status`]: the outcome of decoding from a buffer that may not yet hold a whole item.

/// The outcome of decoding from a buffer that may not yet hold the whole item.
///
/// Running out of input is not an error: read at least `needed` more bytes and call again with
/// the longer buffer (the decoders keep no state, so nothing is lost).
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum Status<T> {
    /// An item was decoded from the first `consumed` bytes of the buffer.
    Complete {
        /// The decoded item, borrowing from the buffer where it holds bytes.
        value: T,
        /// How many bytes of the buffer it occupied.
        consumed: usize,
    },
    /// The buffer ends inside the item.
    Incomplete {
        /// Exactly this many more bytes are needed to decode the item, or to learn how long it is.
        needed: usize,
    },
}

impl<T> Status<T> {
    /// The value and bytes consumed, or `None` when incomplete.
    pub fn complete(self) -> Option<(T, usize)> {
        match self {
            Status::Complete { value, consumed } => Some((value, consumed)),
            Status::Incomplete { .. } => None,
        }
    }

    /// True when more input is needed.
    pub fn is_incomplete(&self) -> bool {
        matches!(self, Status::Incomplete { .. })
    }

    /// Applies `f` to the decoded value, keeping `consumed` and `Incomplete` as they are.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Status<U> {
        match self {
            Status::Complete { value, consumed } => Status::Complete {
                value: f(value),
                consumed,
            },
            Status::Incomplete { needed } => Status::Incomplete { needed },
        }
    }
}
