//! The interop cases, one file each; add a case by adding its module and an entry in [`ALL`].

use std::time::Duration;

use super::context::Ctx;

mod decode;
mod dht;
mod encryption;
mod http_seed;
mod https;
mod launch_many;
mod magnet;
mod make;
mod mount;
mod paths;
mod peer_bt_downloads;
mod peer_bt_seeds;
mod peer_clients;
mod peer_mixed;
mod publish;
mod rtorrent;
mod show;
mod sqlite_storage;
mod stream;
mod tracker_redis;
mod tracker_restart;
mod tracker_slow_clients;
mod tracker_swarm;
mod tui;
mod utp;
mod v2_bad_block;
mod v2_magnet;
mod v2_make;
mod v2_swarm;
mod web_seed;
mod wire;

/// One interop case.
#[derive(Debug)]
pub(crate) struct Case {
    /// What `cargo xtask interop NAME` calls it; also its directory under `target/interop/`.
    pub(crate) name: &'static str,
    /// One line on what it proves.
    pub(crate) about: &'static str,
    /// The whole case must be done within this; every wait inside is bounded by it.
    pub(crate) timeout: Duration,
    pub(crate) run: fn(&Ctx) -> anyhow::Result<()>,
}

/// A few minutes: the default bound on one case.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(180);

/// Every case, in the order `cargo xtask interop` runs them.
pub(crate) const ALL: &[Case] = &[
    decode::CASE,
    make::CASE,
    show::CASE,
    paths::CASE,
    v2_make::CASE,
    tracker_swarm::HTTP,
    tracker_swarm::UDP,
    tracker_restart::CASE,
    tracker_redis::CASE,
    tracker_slow_clients::CASE,
    wire::CASE,
    peer_bt_seeds::LIBTORRENT,
    peer_bt_seeds::ARIA2,
    peer_bt_seeds::TRANSMISSION,
    peer_bt_downloads::LIBTORRENT,
    peer_bt_downloads::ARIA2,
    peer_bt_downloads::TRANSMISSION,
    peer_mixed::CASE,
    v2_swarm::LIBTORRENT_SEEDS_BT,
    v2_swarm::BT_SEEDS_LIBTORRENT,
    v2_swarm::HYBRID,
    v2_bad_block::CASE,
    v2_magnet::FROM_LIBTORRENT,
    v2_magnet::TO_LIBTORRENT,
    publish::CASE,
    tui::CASE,
    tui::LAUNCH_MANY,
    launch_many::CASE,
    encryption::BT_SEEDS_LIBTORRENT,
    encryption::LIBTORRENT_SEEDS_BT,
    encryption::BT_SEEDS_TRANSMISSION,
    encryption::BT_SEEDS_ARIA2,
    encryption::ARIA2_SEEDS_BT,
    encryption::PREFER_FROM_PLAIN_ARIA2,
    web_seed::NGINX,
    web_seed::WITH_PEER,
    web_seed::CORRUPT,
    http_seed::CASE,
    https::CASE,
    magnet::FROM_LIBTORRENT,
    magnet::FROM_ARIA2,
    magnet::FROM_TRANSMISSION,
    magnet::TO_LIBTORRENT,
    magnet::TO_ARIA2,
    magnet::PEX_IN,
    magnet::PEX_OUT,
    magnet::METADATA_TIMING,
    magnet::RESTART,
    dht::LIBTORRENT_SEEDS_BT,
    dht::BT_SEEDS_LIBTORRENT,
    dht::ROUTING_TABLES,
    stream::CASE,
    sqlite_storage::CASE,
    mount::CASE,
    utp::BT_SEEDS_LIBTORRENT,
    utp::LIBTORRENT_SEEDS_BT,
    utp::BT_SEEDS_TRANSMISSION,
];
