//! End-to-end tests of the `bt` binary, one test binary for the crate.

mod decode;
mod dht;
mod launch_many;
mod publish;
mod torrent;
mod tracker;
mod transfer;
mod tui;
mod util;
mod wire_decode;
