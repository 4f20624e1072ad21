//! Integration tests of torrentkit-utp, one binary.

mod bad_input;
mod driver;
mod net;
mod simulation;
