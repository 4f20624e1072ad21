//! Integration tests of torrentkit-wire: one binary, one module per subject.

mod captures;
mod round_trip;
