//! The command-line grammar of `bt`, declared with clap's derive API.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// torrentkit: a BitTorrent toolkit.
#[derive(Debug, Parser)]
#[command(name = "bt", version, about, long_about = None, propagate_version = true)]
pub(crate) struct Args {
    /// A PEM file of certificate authorities to trust for https:// (trackers, .torrent URLs,
    /// web seeds) beside the system's roots; may be repeated.
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) ca_cert: Vec<PathBuf>,
    /// Print why peers are dropped and handshakes fail (`-v`); `-vv` for more.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Print any bencoded file (torrent, resume file, tracker reply) as JSON.
    ///
    /// Byte strings that are UTF-8 become JSON strings; others become {"$hex": "..."} (and
    /// non-UTF-8 dictionary keys become "$hex:..."). Integers stay integers.
    Decode {
        /// The file to read, or `-` for standard input.
        file: PathBuf,
        /// Accept dictionaries with unsorted keys, as some real-world torrents have them.
        #[arg(long)]
        lenient: bool,
        /// Print the JSON on one line instead of indented.
        #[arg(long)]
        compact: bool,
    },
    /// Create a torrent from a file or a directory (btmakemetafile, mktorrent).
    Make(crate::cmd::make::Args),
    /// Create one torrent per entry of a directory (btcompletedir).
    MakeEach(crate::cmd::make_each::Args),
    /// Show what torrents hold: name, info-hash, sizes, trackers, files (btshowmetainfo).
    Show(crate::cmd::show::Args),
    /// Set the tracker of torrents, keeping their info-hash (btreannounce).
    Reannounce(crate::cmd::reannounce::Args),
    /// Copy the trackers of one torrent to others (btcopyannounce).
    CopyAnnounce(crate::cmd::copy_announce::Args),
    /// Rename a torrent; this changes its info-hash (btrename).
    Rename(crate::cmd::rename::Args),
    /// Show, set or clear a torrent's BEP 17 HTTP seeds (btsethttpseeds).
    HttpSeeds(crate::cmd::seeds::Args),
    /// Show, set or clear a torrent's BEP 19 web seeds (url-list).
    WebSeeds(crate::cmd::seeds::Args),
    /// Print a torrent's magnet link, or parse one with --parse.
    Magnet(crate::cmd::magnet::Args),
    /// Check data on disk against a torrent; exits 1 unless every piece matches.
    Verify(crate::cmd::verify::Args),
    /// Run an HTTP and UDP BitTorrent tracker (bttrack).
    Tracker(crate::cmd::tracker::Args),
    /// Decode a recorded peer wire stream (one direction of a connection), one line per message.
    WireDecode(crate::cmd::wire_decode::Args),
    /// Download a torrent's data from its swarm, then seed (btdownloadheadless).
    Download(crate::cmd::download::Args),
    /// Run a standalone DHT node (BEP 5), or look up a torrent's peers in the DHT.
    Dht(crate::cmd::dht::Args),
    /// Verify existing data against a torrent, then serve it to peers until Ctrl-C.
    Seed(crate::cmd::seed::Args),
    /// Serve a torrent's files over HTTP while they download (Range requests, for players).
    Stream(crate::cmd::stream::Args),
    /// Mount a directory of .torrent and .magnet files as their files (FUSE, read on demand).
    Mount(crate::cmd::mount::Args),
    /// Download or seed every .torrent in a directory on one port, following the directory
    /// (btlaunchmany).
    LaunchMany(crate::cmd::launch_many::Args),
    /// A whole swarm on loopback: tracker, seed and N downloaders; how little the seed uploads.
    Swarm(crate::cmd::swarm::Args),
    /// Make a torrent, upload it to a tracker's /publish, print its URL and magnet link, seed it.
    Publish(crate::cmd::publish::Args),
    /// Download a .torrent URL or file, as the browser helper does (`bt install-handler`).
    Open(crate::cmd::open::Args),
    /// Register `bt open` as this user's handler for .torrent files and magnet links (xdg-mime).
    InstallHandler(crate::cmd::install_handler::Args),
    /// Print a shell completion script for `bt`.
    Completions {
        /// The shell to generate completions for.
        shell: clap_complete::Shell,
    },
}
