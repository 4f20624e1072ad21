//! Case `decode`: `bt decode` reads torrents made by mktorrent and libtorrent, and real
//! opentracker replies, exactly as libtorrent's own decoder does.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use serde_json::Value;

use super::{Case, DEFAULT_TIMEOUT};
use crate::interop::announce::{self, Announce};
use crate::interop::context::Ctx;
use crate::interop::data::{ALBUM, SINGLE_LEN};
use crate::interop::json_diff::first_difference;
use crate::interop::opentracker::Opentracker;
use crate::interop::python::{BDECODE_JSON, CREATE_TORRENT, INFOHASH};
use crate::interop::{data, hex, packages};

pub(super) const CASE: Case = Case {
    name: "decode",
    about:
        "bt decode agrees with libtorrent on mktorrent/libtorrent torrents and opentracker replies",
    timeout: DEFAULT_TIMEOUT,
    run,
};

/// mktorrent's `-l 15` and libtorrent's piece size: 32 KiB, so several pieces per torrent.
const PIECE_SIZE: u32 = 1 << 15;
const COMMENT: &str = "torrentkit interop \u{2713} caf\u{e9}";
/// Ports the two fake peers announce: data in the query string, never bound.
const PEER_A_PORT: u16 = 6881;
const PEER_B_PORT: u16 = 6882;

fn run(ctx: &Ctx) -> anyhow::Result<()> {
    packages::require(&[("mktorrent", "mktorrent"), ("opentracker", "opentracker")])?;
    let bt = ctx.bt()?;

    let single = ctx.path("data/single.bin");
    data::write_file(&single, SINGLE_LEN, 1)?;
    let album = ctx.path("data/album");
    let album_len = data::write_set(&album, ALBUM, 100)?;

    let tracker = Opentracker::start(ctx, &[])?;
    let url = tracker.announce_url();

    std::fs::create_dir_all(ctx.path("torrents"))?;
    let mk_single = mktorrent(ctx, &url, &single, "mktorrent-single")?;
    let mk_multi = mktorrent(ctx, &url, &album, "mktorrent-multi")?;
    let lt_single = lt_create(ctx, &url, &single, "libtorrent-single", false)?;
    let lt_multi = lt_create(ctx, &url, &album, "libtorrent-multi", false)?;
    let lt_multi_v1 = lt_create(ctx, &url, &album, "libtorrent-multi-v1", true)?;
    let mk_hashes = INFOHASH.run(ctx, "infohash", [&mk_single, &mk_multi])?;
    let mk_hashes: Vec<[u8; 20]> = mk_hashes
        .lines()
        .map(hex::decode20)
        .collect::<Result<_, _>>()?;
    let [mk_single_hash, mk_multi_hash] = mk_hashes[..] else {
        bail!(
            "infohash.py printed {} hashes for 2 torrents",
            mk_hashes.len()
        );
    };
    let all_hashes = [
        mk_single_hash,
        mk_multi_hash,
        lt_single.1,
        lt_multi.1,
        lt_multi_v1.1,
    ];
    tracker.allow(&all_hashes, ctx.deadline())?;
    ctx.note(format!(
        "made 5 torrents, whitelisted {} info-hashes",
        all_hashes.len()
    ));

    let replies = tracker_replies(ctx, &tracker, mk_multi_hash, album_len)?;

    let mut files = vec![mk_single, mk_multi, lt_single.0, lt_multi.0, lt_multi_v1.0];
    files.extend(replies.iter().cloned());
    let mut compared = Vec::new();
    for file in &files {
        compared.push(Compared::new(ctx, file)?);
    }
    libtorrent_decode(ctx, &compared)?;
    let mut mismatches = Vec::new();
    for c in &compared {
        let json = bt_decode(ctx, bt, c)?;
        if let Some(mismatch) = c.compare(ctx, &json)? {
            mismatches.push(mismatch);
        }
    }
    if !mismatches.is_empty() {
        bail!(
            "bt decode and libtorrent disagree on {} of {} files:\n{}",
            mismatches.len(),
            compared.len(),
            mismatches.join("\n")
        );
    }
    ctx.note(format!(
        "bt decode and libtorrent agree on all {} files",
        compared.len()
    ));

    check_contents(ctx, &url, &compared, mk_multi_hash)
}

/// `mktorrent -l 15` on `source`, into `torrents/NAME.torrent`.
fn mktorrent(ctx: &Ctx, url: &str, source: &Path, name: &str) -> anyhow::Result<PathBuf> {
    let out = ctx.path(format!("torrents/{name}.torrent"));
    ctx.spawn(name, "mktorrent")
        .args(["-a", url, "-l", "15", "-c", COMMENT, "-o"])
        .arg(&out)
        .arg(source)
        .run(ctx.deadline())?;
    Ok(out)
}

/// `lt.create_torrent` on `source`, into `torrents/NAME.torrent`; returns it with its info-hash.
fn lt_create(
    ctx: &Ctx,
    url: &str,
    source: &Path,
    name: &str,
    v1_only: bool,
) -> anyhow::Result<(PathBuf, [u8; 20])> {
    let out = ctx.path(format!("torrents/{name}.torrent"));
    let piece_size = PIECE_SIZE.to_string();
    let mut args: Vec<&OsStr> = [
        "--piece-size",
        &piece_size,
        "--tracker",
        url,
        "--comment",
        COMMENT,
    ]
    .map(OsStr::new)
    .to_vec();
    if v1_only {
        args.push(OsStr::new("--v1-only"));
    }
    args.extend([source.as_os_str(), out.as_os_str()]);
    let printed = CREATE_TORRENT.run(ctx, name, &args)?;
    let hash =
        hex::decode20(&printed).with_context(|| format!("{name}: create_torrent.py output"))?;
    Ok((out, hash))
}

/// Real replies from opentracker, saved under `tracker/`: a first announce, a second from
/// another peer (which lists the first), a scrape, and a refusal for an unlisted hash.
fn tracker_replies(
    ctx: &Ctx,
    tracker: &Opentracker,
    info_hash: [u8; 20],
    left: u64,
) -> anyhow::Result<Vec<PathBuf>> {
    let dir = ctx.path("tracker");
    std::fs::create_dir_all(&dir)?;
    let mut saved = Vec::new();
    let mut save = |name: &str, body: Vec<u8>| -> anyhow::Result<()> {
        let path = dir.join(name);
        std::fs::write(&path, body).with_context(|| format!("writing {}", path.display()))?;
        saved.push(path);
        Ok(())
    };
    let mut first = Announce::new(info_hash, announce::peer_id("peer-a"), PEER_A_PORT, left);
    first.event = Some("started");
    save(
        "announce-first.bencode",
        tracker.announce(&first, ctx.deadline())?,
    )?;
    let mut second = Announce::new(info_hash, announce::peer_id("peer-b"), PEER_B_PORT, left);
    second.event = Some("started");
    save(
        "announce.bencode",
        tracker.announce(&second, ctx.deadline())?,
    )?;
    save(
        "scrape.bencode",
        tracker.scrape(&[info_hash], ctx.deadline())?,
    )?;
    let unlisted = Announce::new([0x5a; 20], announce::peer_id("peer-c"), PEER_A_PORT, left);
    save(
        "announce-refused.bencode",
        tracker.announce(&unlisted, ctx.deadline())?,
    )?;
    Ok(saved)
}

/// One file to decode both ways, with where each side's JSON goes.
struct Compared {
    file: PathBuf,
    stem: String,
    lt_json: PathBuf,
    bt_json: PathBuf,
}

impl Compared {
    fn new(ctx: &Ctx, file: &Path) -> anyhow::Result<Self> {
        let stem = file
            .file_stem()
            .and_then(|s| s.to_str())
            .with_context(|| format!("odd file name {}", file.display()))?
            .to_owned();
        let dir = ctx.path("json");
        std::fs::create_dir_all(&dir)?;
        Ok(Compared {
            file: file.to_owned(),
            lt_json: dir.join(format!("{stem}.libtorrent.json")),
            bt_json: dir.join(format!("{stem}.bt.json")),
            stem,
        })
    }

    /// Compares `bt` (bt decode's JSON) with libtorrent's; a diff-like message if they differ.
    fn compare(&self, ctx: &Ctx, bt: &Value) -> anyhow::Result<Option<String>> {
        let lt = read_json(&self.lt_json)?;
        let Some(d) = first_difference(bt, &lt) else {
            return Ok(None);
        };
        let rel = |p: &Path| p.strip_prefix(ctx.dir()).unwrap_or(p).display().to_string();
        let side = |v: Option<String>| v.unwrap_or_else(|| "(absent)".to_owned());
        Ok(Some(format!(
            "  {}: first difference at {}\n    - bt decode:  {}\n    + libtorrent: {}\n    \
             (compare {} with {})",
            rel(&self.file),
            d.path,
            side(d.left),
            side(d.right),
            rel(&self.bt_json),
            rel(&self.lt_json),
        )))
    }
}

/// libtorrent's decoding of every file, in one python run.
fn libtorrent_decode(ctx: &Ctx, files: &[Compared]) -> anyhow::Result<()> {
    let args = files
        .iter()
        .flat_map(|c| [c.file.as_os_str(), c.lt_json.as_os_str()]);
    BDECODE_JSON.run(ctx, "libtorrent-bdecode", args)?;
    Ok(())
}

/// `bt decode --compact FILE`, parsed, and saved next to libtorrent's JSON.
fn bt_decode(ctx: &Ctx, bt: &Path, c: &Compared) -> anyhow::Result<Value> {
    let out = ctx
        .spawn(&format!("bt-decode-{}", c.stem), bt)
        .args(["decode", "--compact"])
        .arg(&c.file)
        .run(ctx.deadline())?;
    std::fs::write(&c.bt_json, &out)?;
    serde_json::from_slice(&out).with_context(|| {
        format!(
            "bt decode --compact {} printed invalid JSON",
            c.file.display()
        )
    })
}

fn read_json(path: &Path) -> anyhow::Result<Value> {
    let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_slice(&text).with_context(|| format!("parsing {}", path.display()))
}

/// Agreement alone could hide two decoders failing alike: check what the files must say.
fn check_contents(ctx: &Ctx, url: &str, files: &[Compared], hash: [u8; 20]) -> anyhow::Result<()> {
    let json = |stem: &str| -> anyhow::Result<Value> {
        let c = files
            .iter()
            .find(|c| c.stem == stem)
            .with_context(|| format!("no {stem}"))?;
        read_json(&c.bt_json)
    };
    for stem in [
        "mktorrent-single",
        "mktorrent-multi",
        "libtorrent-single",
        "libtorrent-multi",
    ] {
        let t = json(stem)?;
        expect(stem, "announce", &t["announce"], &Value::from(url))?;
        expect(stem, "comment", &t["comment"], &Value::from(COMMENT))?;
        expect(
            stem,
            "info.piece length",
            &t["info"]["piece length"],
            &Value::from(PIECE_SIZE),
        )?;
    }
    expect(
        "mktorrent-single",
        "info.length",
        &json("mktorrent-single")?["info"]["length"],
        &Value::from(SINGLE_LEN),
    )?;
    let files_of = json("mktorrent-multi")?["info"]["files"]
        .as_array()
        .map_or(0, Vec::len);
    if files_of != ALBUM.len() {
        bail!(
            "mktorrent-multi: bt decode shows {files_of} files, expected {}",
            ALBUM.len()
        );
    }

    // The second announce must list the first peer, compact: 127.0.0.1 and its port in 6 bytes
    // (opentracker may list the asking peer too).
    let mut peer = vec![127, 0, 0, 1];
    peer.extend(PEER_A_PORT.to_be_bytes());
    let want = hex::encode(&peer);
    let announce = json("announce")?;
    let listed = announce["peers"]["$hex"].as_str().unwrap_or_default();
    let entries: Vec<&str> = (0..listed.len() / 12)
        .map(|i| &listed[12 * i..12 * i + 12])
        .collect();
    if listed.len() % 12 != 0 || !entries.contains(&want.as_str()) {
        bail!(
            "announce: bt decode shows peers {}, expected compact peers including {want}",
            announce["peers"]
        );
    }
    // The scrape is keyed by the raw info-hash, which is not UTF-8 text (else a string key).
    let key = match std::str::from_utf8(&hash) {
        Ok(text) => text.to_owned(),
        Err(_) => format!("$hex:{}", hex::encode(&hash)),
    };
    let scrape = json("scrape")?;
    if scrape["files"].get(&key).is_none() {
        bail!("scrape: bt decode shows no files entry {key:?}: {scrape}");
    }
    let refused = json("announce-refused")?;
    let reason = refused["failure reason"].as_str().unwrap_or_default();
    if !reason.contains("not authorized") {
        bail!(
            "announce-refused: expected a failure reason \"... not authorized ...\", got {refused}"
        );
    }
    ctx.note("the decoded torrents and replies say what was put in them");
    Ok(())
}

fn expect(file: &str, what: &str, got: &Value, want: &Value) -> anyhow::Result<()> {
    if got != want {
        bail!("{file}: bt decode shows {what} = {got}, expected {want}");
    }
    Ok(())
}
