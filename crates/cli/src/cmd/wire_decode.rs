//! `bt wire-decode`: a recorded peer wire byte stream (one direction of a connection), one line
//! per message, with the byte offset of each; extension messages decoded.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use torrentkit_wire::{
    Bitfield, ExtendedHandshake, ExtendedMessage, ExtensionIds, Handshake, Limits, Message,
    Messages, MetadataMessage, Status,
};

use super::decode::read_input;

/// Arguments of `bt wire-decode`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The bytes one peer sent, handshake first or not (a capture, `tshark -z follow,tcp,raw`
    /// output turned to binary, ...), or `-` for standard input.
    file: PathBuf,
    /// The bytes the other peer sent on the same connection: its extended handshake gives the
    /// extension ids that FILE's ut_metadata and ut_pex messages use.
    #[arg(long, value_name = "FILE")]
    reply: Option<PathBuf>,
    /// The ut_metadata id the receiver advertised (instead of --reply).
    #[arg(long, value_name = "ID")]
    ut_metadata: Option<u8>,
    /// The ut_pex id the receiver advertised (instead of --reply).
    #[arg(long, value_name = "ID")]
    ut_pex: Option<u8>,
    /// The torrent's piece count: bitfields are checked against it (length and spare bits).
    #[arg(long, value_name = "N")]
    pieces: Option<u32>,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (name, bytes) = read_input(&args.file)?;
    let mut ids = match &args.reply {
        Some(reply) => receiver_ids(reply)?,
        None => ExtensionIds::NONE,
    };
    if args.ut_metadata.is_some() {
        ids.ut_metadata = args.ut_metadata;
    }
    if args.ut_pex.is_some() {
        ids.ut_pex = args.ut_pex;
    }
    let mut out = String::new();
    let result = dump(&bytes, &ids, args.pieces, &mut out);
    std::io::stdout().lock().write_all(out.as_bytes())?;
    result.with_context(|| name.clone())?;
    Ok(ExitCode::SUCCESS)
}

/// The extension ids advertised in the extended handshake found in `path`.
fn receiver_ids(path: &Path) -> anyhow::Result<ExtensionIds> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let start = match Handshake::decode(&bytes) {
        Ok(Status::Complete { consumed, .. }) => consumed,
        _ => 0,
    };
    for message in Messages::new(&bytes[start..], Limits::default()) {
        let message = message.with_context(|| format!("{}: reading messages", path.display()))?;
        if let Message::Extended { id: 0, payload } = message {
            let h = ExtendedHandshake::decode(payload)
                .with_context(|| format!("{}: extended handshake", path.display()))?;
            return Ok(ExtensionIds::from_handshake(&h));
        }
    }
    bail!("{}: no extended handshake in it", path.display())
}

/// Writes one line per item to `out`; fails at the first malformed message or a cut-off end.
fn dump(
    bytes: &[u8],
    ids: &ExtensionIds,
    pieces: Option<u32>,
    out: &mut String,
) -> anyhow::Result<()> {
    let mut at = 0;
    // A handshake opens the stream if the first byte says so.
    if bytes.first() == Some(&19) {
        match Handshake::decode(bytes).context("at byte 0")? {
            Status::Complete { value, consumed } => {
                writeln!(out, "@0 {}", describe_handshake(&value))?;
                at = consumed;
            }
            Status::Incomplete { needed } => {
                bail!("the handshake is cut off ({needed} more bytes needed)")
            }
        }
    }
    let mut messages = Messages::new(&bytes[at..], Limits::default());
    let mut count = 0;
    loop {
        let offset = at + messages.consumed();
        let Some(message) = messages.next() else {
            break;
        };
        let message = message.with_context(|| format!("at byte {offset}"))?;
        let line = describe(&message, ids, pieces).with_context(|| format!("at byte {offset}"))?;
        writeln!(out, "@{offset} {line}")?;
        count += 1;
    }
    if let Some(needed) = messages
        .needed()
        .filter(|_| !messages.remaining().is_empty())
    {
        bail!(
            "the stream ends inside a message at byte {} ({needed} more bytes needed)",
            at + messages.consumed()
        );
    }
    writeln!(out, "{count} messages, {} bytes", bytes.len())?;
    Ok(())
}

fn describe_handshake(h: &Handshake) -> String {
    let r = h.reserved;
    let mut bits = Vec::new();
    for (on, name) in [
        (r.extension_protocol(), "extension protocol"),
        (r.fast(), "fast"),
        (r.dht(), "dht"),
        (r.v2_upgrade(), "v2"),
    ] {
        if on {
            bits.push(name);
        }
    }
    let client = h
        .peer_id
        .client()
        .map_or_else(|| "unknown client".to_owned(), |c| c.to_string());
    format!(
        "handshake info_hash={} peer_id={} ({client}) reserved={} [{}]",
        hex(&h.info_hash),
        h.peer_id,
        hex(&h.reserved.0),
        bits.join(", ")
    )
}

fn describe(
    message: &Message<'_>,
    ids: &ExtensionIds,
    pieces: Option<u32>,
) -> anyhow::Result<String> {
    Ok(match *message {
        Message::Have { piece } => format!("have {piece}"),
        Message::SuggestPiece { piece } => format!("suggest piece {piece}"),
        Message::AllowedFast { piece } => format!("allowed fast {piece}"),
        Message::Bitfield(bits) => match pieces {
            Some(n) => {
                let b = Bitfield::from_bytes(bits, n)?;
                format!("bitfield {}/{} pieces", b.count(), b.len())
            }
            None => format!("bitfield {} bytes", bits.len()),
        },
        Message::Request(r) | Message::Cancel(r) | Message::RejectRequest(r) => format!(
            "{} index={} begin={} length={}",
            message.name(),
            r.index,
            r.begin,
            r.length
        ),
        Message::Piece {
            index,
            begin,
            block,
        } => format!("piece index={index} begin={begin} length={}", block.len()),
        Message::Port(port) => format!("port {port}"),
        Message::Extended { id, payload } => {
            // Id 0 is always the handshake; others use the receiver's ids.
            let ours = if id == 0 { &ExtensionIds::NONE } else { ids };
            match ExtendedMessage::decode(id, payload, ours)? {
                ExtendedMessage::Handshake(h) => describe_extended_handshake(&h),
                ExtendedMessage::Metadata(m) => match m {
                    MetadataMessage::Request { piece } => format!("ut_metadata request {piece}"),
                    MetadataMessage::Reject { piece } => format!("ut_metadata reject {piece}"),
                    MetadataMessage::Data {
                        piece,
                        total_size,
                        data,
                    } => format!(
                        "ut_metadata data {piece} total_size={total_size} length={}",
                        data.len()
                    ),
                },
                ExtendedMessage::Pex(p) => {
                    let added: Vec<String> = p
                        .added
                        .iter()
                        .map(|(a, f)| format!("{a}/{:#04x}", f.0))
                        .chain(p.added6.iter().map(|(a, f)| format!("{a}/{:#04x}", f.0)))
                        .collect();
                    let dropped: Vec<String> = p
                        .dropped
                        .iter()
                        .map(ToString::to_string)
                        .chain(p.dropped6.iter().map(ToString::to_string))
                        .collect();
                    format!(
                        "ut_pex added=[{}] dropped=[{}]",
                        added.join(" "),
                        dropped.join(" ")
                    )
                }
                ExtendedMessage::Unknown { id, payload } => {
                    format!("extended id={id} length={}", payload.len())
                }
                other => format!("{other:?}"),
            }
        }
        Message::Unknown { id, payload } => {
            format!("unknown message id={id} length={}", payload.len())
        }
        _ => message.name().to_owned(),
    })
}

fn describe_extended_handshake(h: &ExtendedHandshake<'_>) -> String {
    let mut s = String::from("extended handshake m={");
    let m: Vec<String> = h
        .extensions
        .iter()
        .map(|(k, v)| format!("{}:{v}", String::from_utf8_lossy(k)))
        .collect();
    s.push_str(&m.join(","));
    s.push('}');
    if let Some(v) = h.client {
        let _ = write!(s, " v={:?}", String::from_utf8_lossy(v));
    }
    let fields = [
        ("p", h.listen_port.map(|p| p.to_string())),
        ("reqq", h.request_queue.map(|q| q.to_string())),
        ("yourip", h.your_ip.map(|ip| ip.to_string())),
        ("ipv4", h.ipv4.map(|ip| ip.to_string())),
        ("ipv6", h.ipv6.map(|ip| ip.to_string())),
        ("metadata_size", h.metadata_size.map(|s| s.to_string())),
    ];
    for (key, value) in fields {
        if let Some(value) = value {
            let _ = write!(s, " {key}={value}");
        }
    }
    s
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
