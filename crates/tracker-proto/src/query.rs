//! The pieces of an HTTP tracker query: `key=value` pairs of raw bytes, and the strict readers of
//! each kind of value. `info_hash` and `peer_id` are 20 arbitrary bytes, percent-encoded and
//! usually not UTF-8, so the query is read as bytes, never as a UTF-8 string. Every reader is
//! bounded and allocation-free.

use std::net::IpAddr;

use torrentkit_metainfo::percent;

use crate::error::RequestError;

/// One `key=value` pair of a query, both still percent-encoded.
pub(crate) fn pairs(query: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    query
        .split(|&b| b == b'&')
        .filter(|p| !p.is_empty())
        .map(|pair| match pair.iter().position(|&b| b == b'=') {
            Some(eq) => (&pair[..eq], &pair[eq + 1..]),
            None => (pair, &b""[..]),
        })
}

/// Percent-decodes `raw` into `out` (`+` is a space, as form queries have it), returning the
/// decoded length even when only part of it fit.
fn decode_into(raw: &[u8], out: &mut [u8], field: &'static str) -> Result<usize, RequestError> {
    percent::decode_into(raw, true, out).map_err(|_| RequestError::BadEncoding(field))
}

/// A 20-byte value (`info_hash`, `peer_id`), with a fast path for twenty `%XX` escapes.
pub(crate) fn decode_20(raw: &[u8], field: &'static str) -> Result<[u8; 20], RequestError> {
    if let Some(out) = percent::decode_all_escaped::<20>(raw) {
        return Ok(out);
    }
    let mut out = [0u8; 20];
    let len = decode_into(raw, &mut out, field)?;
    if len != 20 {
        return Err(RequestError::BadLength { field, len });
    }
    Ok(out)
}

/// Decodes a short value (numbers, event names, addresses) into a stack buffer.
fn decode_short<'b>(
    raw: &[u8],
    buf: &'b mut [u8; 64],
    field: &'static str,
) -> Result<&'b [u8], RequestError> {
    let len = decode_into(raw, buf, field)?;
    if len > buf.len() {
        return Err(RequestError::BadNumber {
            field,
            value: shorten(&buf[..]),
        });
    }
    Ok(&buf[..len])
}

/// A value for an error message: escaped, and cut after 24 bytes.
fn shorten(value: &[u8]) -> String {
    let mut s = value[..value.len().min(24)].escape_ascii().to_string();
    if value.len() > 24 {
        s.push_str("...");
    }
    s
}

/// An unsigned decimal number of at most 20 digits that fits a `u64`.
pub(crate) fn number(raw: &[u8], field: &'static str) -> Result<u64, RequestError> {
    let mut buf = [0u8; 64];
    let value = decode_short(raw, &mut buf, field)?;
    let bad = || RequestError::BadNumber {
        field,
        value: shorten(value),
    };
    if value.is_empty() || value.len() > 20 {
        return Err(bad());
    }
    let mut n: u64 = 0;
    for &c in value {
        if !c.is_ascii_digit() {
            return Err(bad());
        }
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(c - b'0')))
            .ok_or_else(bad)?;
    }
    Ok(n)
}

/// A port: a number from 1 to 65535.
pub(crate) fn port(raw: &[u8]) -> Result<u16, RequestError> {
    let n = number(raw, "port")?;
    let p = u16::try_from(n).map_err(|_| RequestError::BadNumber {
        field: "port",
        value: n.to_string(),
    })?;
    if p == 0 {
        return Err(RequestError::PortZero);
    }
    Ok(p)
}

/// `numwant`, where some clients send `-1` for "the default".
pub(crate) fn numwant(raw: &[u8]) -> Result<Option<u32>, RequestError> {
    if raw == b"-1" {
        return Ok(None);
    }
    let n = number(raw, "numwant")?;
    Ok(Some(u32::try_from(n).unwrap_or(u32::MAX)))
}

/// A flag such as `compact=1`.
pub(crate) fn flag(raw: &[u8]) -> bool {
    raw == b"1"
}

/// The `key`: hexadecimal keys of up to 8 digits (what libtorrent and most clients send) are
/// read as their value, so that an HTTP key equals the same client's UDP key; others are hashed.
pub(crate) fn key(raw: &[u8]) -> Result<u32, RequestError> {
    let mut buf = [0u8; 64];
    let len = decode_into(raw, &mut buf, "key")?;
    let value = &buf[..len.min(buf.len())];
    if (1..=8).contains(&len) {
        if let Some(v) = value.iter().try_fold(0u32, |acc, &c| {
            Some(acc << 4 | u32::from(percent::hex_value(c)?))
        }) {
            return Ok(v);
        }
    }
    // FNV-1a over the decoded bytes (only the first 64 are kept, which is plenty for an id).
    Ok(value.iter().fold(0x811c_9dc5u32, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    }))
}

/// Reads an IP address parameter or header value (`ip=`, `X-Forwarded-For`); `field` names it
/// in the error.
pub fn parse_ip(raw: &[u8], field: &'static str) -> Result<IpAddr, RequestError> {
    let mut buf = [0u8; 64];
    let value = decode_short(raw, &mut buf, field)?;
    std::str::from_utf8(value)
        .ok()
        .and_then(|s| s.trim().parse::<IpAddr>().ok())
        .ok_or_else(|| RequestError::BadIp(shorten(value)))
}

/// The `event`.
pub(crate) fn event(raw: &[u8]) -> Result<crate::Event, RequestError> {
    let mut buf = [0u8; 64];
    let value =
        decode_short(raw, &mut buf, "event").map_err(|_| RequestError::BadEvent(shorten(raw)))?;
    crate::Event::from_http(value).ok_or_else(|| RequestError::BadEvent(shorten(value)))
}

/// An opaque byte string such as `trackerid`, decoded; `None` when its encoding is bad (it is
/// then ignored, as unknown parameters are).
pub(crate) fn opaque(raw: &[u8]) -> Option<Vec<u8>> {
    percent::decode(raw, true).ok()
}

/// Refuses queries longer than `max`.
pub(crate) fn check_len(query: &[u8], max: usize) -> Result<(), RequestError> {
    if query.len() > max {
        return Err(RequestError::QueryTooLong {
            len: query.len(),
            max,
        });
    }
    Ok(())
}

/// Stores a parameter that may appear only once.
pub(crate) fn set_once<T>(
    slot: &mut Option<T>,
    value: T,
    field: &'static str,
) -> Result<(), RequestError> {
    if slot.is_some() {
        return Err(RequestError::Duplicate(field));
    }
    *slot = Some(value);
    Ok(())
}

/// Appends parameters to a URL, a request target or an empty string: the first one after `?`
/// when there is no query yet (after `&` when there is one, after nothing in an empty string or
/// after a trailing `?` or `&`), the others after `&`.
pub(crate) struct QueryWriter<'a> {
    out: &'a mut String,
    separator: Option<char>,
}

impl<'a> QueryWriter<'a> {
    pub(crate) fn new(out: &'a mut String) -> Self {
        let separator = match out.as_bytes().last() {
            None | Some(b'?' | b'&') => None,
            Some(_) if out.contains('?') => Some('&'),
            Some(_) => Some('?'),
        };
        QueryWriter { out, separator }
    }

    fn name(&mut self, name: &str) {
        if let Some(c) = self.separator {
            self.out.push(c);
        }
        self.separator = Some('&');
        self.out.push_str(name);
        self.out.push('=');
    }

    /// A percent-encoded raw parameter.
    pub(crate) fn bytes(&mut self, name: &str, value: &[u8]) {
        self.name(name);
        percent::encode_into(value, percent::UNRESERVED, self.out);
    }

    /// A parameter whose value needs no encoding (numbers, event names, IP addresses).
    pub(crate) fn plain(&mut self, name: &str, value: impl std::fmt::Display) {
        use std::fmt::Write as _;
        self.name(name);
        let _ = write!(self.out, "{value}");
    }
}
