//! Integration tests of torrentkit-peer: one binary, one module per area.

mod bad_block;
mod magnet;
mod manager;
mod reader;
mod session;
mod start;
mod swarm;
mod tracker_client;
mod v2_magnet;
