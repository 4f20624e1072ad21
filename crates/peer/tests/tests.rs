//! Integration tests of torrentkit-peer: one binary, one module per area.

mod tracker_client;
