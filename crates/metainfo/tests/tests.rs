//! Integration tests of torrentkit-metainfo, one binary for the whole crate.

mod build;
mod edit;
mod malformed;
mod paths;
mod util;
mod v2;
mod verify;
