//! Integration tests of torrentkit-utp, one binary.

mod net;
mod simulation;
