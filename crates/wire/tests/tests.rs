//! Integration tests of torrentkit-wire.
