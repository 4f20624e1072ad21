//! `bt decode`: any bencoded file as JSON, so people can look inside torrents, resume files and
//! tracker replies.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use serde_json::{Map, Value as Json};
use torrentkit_bencode::{decode_with, DecodeOptions, ErrorKind, Value};

pub(crate) fn run(file: &Path, lenient: bool, compact: bool) -> anyhow::Result<ExitCode> {
    let (name, bytes) = read_input(file)?;
    let options = if lenient {
        DecodeOptions::lenient()
    } else {
        DecodeOptions::strict()
    };
    let value = decode_with(&bytes, &options).map_err(|err| {
        let hint = match err.kind() {
            ErrorKind::UnsortedKey { .. } => " (--lenient accepts unsorted keys)",
            _ => "",
        };
        anyhow::anyhow!("{name}: {err}{hint}")
    })?;
    let json = to_json(&value);
    let mut out = std::io::stdout().lock();
    if compact {
        serde_json::to_writer(&mut out, &json)?;
    } else {
        serde_json::to_writer_pretty(&mut out, &json)?;
    }
    writeln!(out)?;
    Ok(ExitCode::SUCCESS)
}

/// Reads the named file, or standard input for `-`; returns a display name with the bytes.
pub(crate) fn read_input(file: &Path) -> anyhow::Result<(String, Vec<u8>)> {
    if file == Path::new("-") {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .context("reading standard input")?;
        Ok(("<stdin>".to_owned(), bytes))
    } else {
        let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
        Ok((file.display().to_string(), bytes))
    }
}

/// The JSON form documented in `bt decode --help`.
fn to_json(value: &Value<'_>) -> Json {
    match value {
        Value::Int(i) => Json::from(*i),
        Value::Bytes(b) => match std::str::from_utf8(b) {
            Ok(s) => Json::from(s),
            Err(_) => {
                let mut marked = Map::new();
                marked.insert("$hex".to_owned(), Json::from(hex(b)));
                Json::Object(marked)
            }
        },
        Value::List(items) => Json::Array(items.iter().map(to_json).collect()),
        Value::Dict(dict) => Json::Object(
            dict.iter()
                .map(|(k, v)| {
                    let key = match std::str::from_utf8(k) {
                        Ok(s) => s.to_owned(),
                        Err(_) => format!("$hex:{}", hex(k)),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}
