//! Integration tests of torrentkit-bencode, one binary for the whole crate.

mod fuzz_regressions;
mod incremental;
mod roundtrip;
mod serde_borrowing;
mod strictness;
