//! The bencode benchmark: three generated documents, the serde types they decode into, and the
//! operations measured for torrentkit-bencode and each comparison crate.

pub mod check;
pub mod docs;
pub mod ops;
pub mod types;
