//! Integration tests of torrentkit-tracker-server: one binary, one module per area.

mod common;
mod http_announce;
mod http_pages;
mod http_publish;
mod serve;
mod takeover;
mod udp_socket;
mod v2_hashes;
