//! One module per `bt` subcommand; `run` dispatches to them.

pub(crate) mod copy_announce;
mod decode;
pub(crate) mod dht;
mod dht_node;
pub(crate) mod download;
pub(crate) mod install_handler;
pub(crate) mod launch_many;
pub(crate) mod magnet;
mod magnet_download;
pub(crate) mod make;
pub(crate) mod make_each;
pub(crate) mod mount;
pub(crate) mod open;
mod placement;
pub(crate) mod publish;
pub(crate) mod reannounce;
pub(crate) mod rename;
pub(crate) mod seed;
pub(crate) mod seeds;
mod select;
pub(crate) mod show;
mod source;
mod status;
mod storage_arg;
pub(crate) mod stream;
pub(crate) mod swarm;
mod torrent_common;
pub(crate) mod tracker;
mod transfer;
mod tui;
mod udp;
mod units;
pub(crate) mod verify;
pub(crate) mod wire_decode;

use std::process::ExitCode;

use clap::CommandFactory;

use crate::args::{Args, Command};

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    if !args.ca_cert.is_empty() {
        torrentkit_peer::http::configure(torrentkit_peer::http::ClientConfig {
            ca_certs: args.ca_cert.clone(),
            ..Default::default()
        })?;
    }
    match args.command {
        Command::Decode {
            file,
            lenient,
            compact,
        } => decode::run(&file, lenient, compact),
        Command::Make(a) => make::run(a),
        Command::MakeEach(a) => make_each::run(a),
        Command::Show(a) => show::run(a),
        Command::Reannounce(a) => reannounce::run(a),
        Command::CopyAnnounce(a) => copy_announce::run(a),
        Command::Rename(a) => rename::run(a),
        Command::HttpSeeds(a) => seeds::run(seeds::SeedKind::Http, a),
        Command::WebSeeds(a) => seeds::run(seeds::SeedKind::Web, a),
        Command::Magnet(a) => magnet::run(a),
        Command::Verify(a) => verify::run(a),
        Command::Tracker(a) => tracker::run(a),
        Command::WireDecode(a) => wire_decode::run(a),
        Command::Download(a) => download::run(a),
        Command::Dht(a) => dht::run(a),
        Command::LaunchMany(a) => launch_many::run(a),
        Command::Seed(a) => seed::run(a),
        Command::Stream(a) => stream::run(a),
        Command::Mount(a) => mount::run(a),
        Command::Swarm(a) => swarm::run(a),
        Command::Publish(a) => publish::run(a),
        Command::Open(a) => open::run(a),
        Command::InstallHandler(a) => install_handler::run(a),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Args::command(), "bt", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
    }
}
