//! End-to-end tests of the `bt` binary, one test binary for the crate.

mod decode;
mod dht;
mod launch_many;
mod publish;
mod redis_server;
mod torrent;
mod tracker;
mod tracker_redis;
mod transfer;
mod tui;
mod util;
mod wire_decode;
