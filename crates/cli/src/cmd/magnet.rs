//! `bt magnet`: the magnet link of a torrent (or the parts of a magnet link).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use serde_json::json;
use torrentkit_metainfo::Magnet;

use super::torrent_common::load;

/// Arguments of `bt magnet`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// A torrent file; or, with --parse, a magnet link.
    input: String,
    /// Parse INPUT as a magnet link and print every parameter as JSON, under its own name
    /// (`xt`, `dn`, `xl`, `tr`, `ws`, `x.pe`, `so`), with the info-hash in hex and base32 and
    /// the v2 one (`urn:btmh`) in hex; `xt` is a list when a hybrid link has both (exit 1 if it
    /// is invalid).
    #[arg(long)]
    parse: bool,
    /// Leave the trackers out of the link.
    #[arg(long)]
    no_trackers: bool,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.parse {
        let m = Magnet::parse(&args.input)?;
        let mut xt = Vec::new();
        if m.has_v1 {
            xt.push(format!("urn:btih:{}", m.info_hash.to_hex()));
        }
        if let Some(v2) = &m.info_hash_v2 {
            xt.push(format!("urn:btmh:1220{}", v2.to_hex()));
        }
        let value = json!({
            "info_hash": m.info_hash.to_hex(),
            "info_hash_base32": m.info_hash.to_base32(),
            "info_hash_v2": m.info_hash_v2.map(|h| h.to_hex()),
            "xt": if xt.len() == 1 { json!(xt[0]) } else { json!(xt) },
            "dn": m.name,
            "xl": m.length,
            "tr": m.trackers,
            "ws": m.web_seeds,
            "x.pe": m.peers,
            "so": m.select_only.iter().map(|&(a, b)| json!([a, b])).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(ExitCode::SUCCESS);
    }
    let path = PathBuf::from(&args.input);
    let torrent = load(&path).with_context(|| "making a magnet link".to_owned())?;
    let mut magnet = Magnet::from_torrent(&torrent);
    if args.no_trackers {
        magnet.trackers.clear();
    }
    println!("{magnet}");
    Ok(ExitCode::SUCCESS)
}
