//! Integration tests of torrentkit-wire: one binary, one module per subject.

mod captures;
mod mse;
mod round_trip;
