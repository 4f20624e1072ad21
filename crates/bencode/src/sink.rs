//! Where the serializer writes: a byte vector, or a counter that only measures.
//!
//! `to_vec` runs the serializer twice, first into a [`Counter`] to learn the exact length, then
//! into a vector allocated once at that size. Without it, a 20 MB `pieces` string makes the vector
//! grow and copy itself several times, which costs far more than the cheap counting pass.

use crate::error::Result;

pub(crate) trait Sink {
    fn len(&self) -> usize;
    fn push(&mut self, byte: u8);
    fn extend_from_slice(&mut self, bytes: &[u8]);
    fn truncate(&mut self, len: usize);
    /// The bytes written so far, for checking key order; `None` for a sink that only counts.
    fn written(&self) -> Option<&[u8]>;
    /// Sorts the dictionary entries written since `body_start` by key.
    fn sort_region(&mut self, body_start: usize) -> Result<()>;
}

impl Sink for Vec<u8> {
    #[inline]
    fn len(&self) -> usize {
        Vec::len(self)
    }
    #[inline]
    fn push(&mut self, byte: u8) {
        Vec::push(self, byte);
    }
    #[inline]
    fn extend_from_slice(&mut self, bytes: &[u8]) {
        Vec::extend_from_slice(self, bytes);
    }
    #[inline]
    fn truncate(&mut self, len: usize) {
        Vec::truncate(self, len);
    }
    #[inline]
    fn written(&self) -> Option<&[u8]> {
        Some(self)
    }
    fn sort_region(&mut self, body_start: usize) -> Result<()> {
        crate::ser::sort_entries(self, body_start)
    }
}

/// Counts the bytes that would be written.
#[derive(Default)]
pub(crate) struct Counter(pub(crate) usize);

impl Sink for Counter {
    #[inline]
    fn len(&self) -> usize {
        self.0
    }
    #[inline]
    fn push(&mut self, _byte: u8) {
        self.0 += 1;
    }
    #[inline]
    fn extend_from_slice(&mut self, bytes: &[u8]) {
        self.0 += bytes.len();
    }
    #[inline]
    fn truncate(&mut self, len: usize) {
        self.0 = len;
    }
    #[inline]
    fn written(&self) -> Option<&[u8]> {
        None
    }
    fn sort_region(&mut self, _body_start: usize) -> Result<()> {
        // Sorting does not change the length; the writing pass sorts and checks for duplicates.
        Ok(())
    }
}

/// Writes `i<n>e`.
#[inline]
pub(crate) fn put_int<S: Sink>(out: &mut S, i: i64) {
    let mut buf = itoa::Buffer::new();
    out.push(b'i');
    out.extend_from_slice(buf.format(i).as_bytes());
    out.push(b'e');
}

/// Writes `<len>:<bytes>`.
#[inline]
pub(crate) fn put_bytes<S: Sink>(out: &mut S, bytes: &[u8]) {
    let mut buf = itoa::Buffer::new();
    out.extend_from_slice(buf.format(bytes.len()).as_bytes());
    out.push(b':');
    out.extend_from_slice(bytes);
}
