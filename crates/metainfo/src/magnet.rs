//! [`Magnet`]: BEP 9 magnet links (with BEP 52's `urn:btmh:` v2 topic), parsed and generated.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::infohash::{InfoHash, InfoHashV2};
use crate::percent;
use crate::torrent::Torrent;

/// A BEP 9 magnet link for a v1, v2 or hybrid torrent.
///
/// Understood parameters: `xt=urn:btih:` (40 hex or 32 base32 characters), `xt=urn:btmh:1220`
/// (a SHA-256 multihash, BEP 52; a hybrid's link carries both topics), `dn` (name), `xl`
/// (length), `tr` (trackers, any number), `ws` (BEP 19 web seeds), `x.pe` (peer addresses) and
/// `so` (BEP 53 file selection such as `0,2,4-6`). Other parameters are ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Magnet {
    /// The 20-byte info-hash the swarm uses: the v1 one (`urn:btih`), or for a v2-only link the
    /// v2 one truncated (BEP 52).
    pub info_hash: InfoHash,
    /// Whether the link names a v1 info-hash (`urn:btih`); false for a v2-only link.
    pub has_v1: bool,
    /// The v2 info-hash (`urn:btmh:1220...`), if the link has one.
    pub info_hash_v2: Option<InfoHashV2>,
    /// The display name (`dn`).
    pub name: Option<String>,
    /// The exact length in bytes (`xl`).
    pub length: Option<u64>,
    /// Tracker URLs (`tr`), in order.
    pub trackers: Vec<String>,
    /// Web seed URLs (`ws`).
    pub web_seeds: Vec<String>,
    /// Peer addresses (`x.pe`), as `host:port`.
    pub peers: Vec<String>,
    /// Selected file indices (`so`), as inclusive ranges.
    pub select_only: Vec<(usize, usize)>,
}

impl Magnet {
    /// A magnet link with only the info-hash.
    pub fn new(info_hash: InfoHash) -> Self {
        Magnet {
            info_hash,
            has_v1: true,
            info_hash_v2: None,
            name: None,
            length: None,
            trackers: Vec::new(),
            web_seeds: Vec::new(),
            peers: Vec::new(),
            select_only: Vec::new(),
        }
    }

    /// A magnet link with only a v2 info-hash (a v2-only torrent).
    pub fn new_v2(info_hash_v2: InfoHashV2) -> Self {
        let mut m = Magnet::new(info_hash_v2.truncated());
        m.has_v1 = false;
        m.info_hash_v2 = Some(info_hash_v2);
        m
    }

    /// The link for a torrent: info-hashes (v1, v2 or both), name, length, every tracker (tiers
    /// flattened) and web seeds.
    pub fn from_torrent(torrent: &Torrent) -> Self {
        let mut m = match (torrent.info_hash_v1(), torrent.info_hash_v2()) {
            (None, Some(v2)) => Magnet::new_v2(v2),
            (_, v2) => {
                let mut m = Magnet::new(torrent.info_hash());
                m.info_hash_v2 = v2;
                m
            }
        };
        m.name = Some(torrent.info().name().to_owned());
        m.length = Some(torrent.info().total_size());
        m.trackers = torrent.trackers().into_iter().flatten().collect();
        m.web_seeds = torrent.web_seeds().to_vec();
        m
    }

    /// Parses a `magnet:?` URI, rejecting it with a reason when it cannot be used.
    pub fn parse(uri: &str) -> Result<Magnet> {
        let query = uri
            .strip_prefix("magnet:?")
            .or_else(|| {
                uri.get(..8)
                    .filter(|p| p.eq_ignore_ascii_case("magnet:?"))
                    .map(|_| &uri[8..])
            })
            .ok_or_else(|| Error::magnet("it does not start with `magnet:?`"))?;
        let mut hash = None;
        let mut m = Magnet::new(InfoHash([0; 20]));
        let mut other_xt = None;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, raw) = pair
                .split_once('=')
                .ok_or_else(|| Error::magnet(format!("parameter `{pair}` has no `=`")))?;
            let value = percent_decode(raw, key == "dn")
                .map_err(|why| Error::magnet(format!("parameter `{key}`: {why}")))?;
            // Numbered keys (`tr.1`, `xt.2`) are the same parameter.
            let base = match key.split_once('.') {
                Some((b, n)) if n.bytes().all(|c| c.is_ascii_digit()) && !n.is_empty() => b,
                _ => key,
            };
            match base {
                "xt" => {
                    let lower = value.to_ascii_lowercase();
                    if let Some(h) = lower.strip_prefix("urn:btih:") {
                        let h = InfoHash::from_str(&value[value.len() - h.len()..])?;
                        match hash {
                            Some(prev) if prev != h => {
                                return Err(Error::magnet(format!(
                                    "two different info-hashes: {prev} and {h}"
                                )))
                            }
                            _ => hash = Some(h),
                        }
                    } else if let Some(h) = lower.strip_prefix("urn:btmh:") {
                        let h = parse_btmh(h)?;
                        match m.info_hash_v2 {
                            Some(prev) if prev != h => {
                                return Err(Error::magnet(format!(
                                    "two different v2 info-hashes: {prev} and {h}"
                                )))
                            }
                            _ => m.info_hash_v2 = Some(h),
                        }
                    } else {
                        other_xt = Some(value);
                    }
                }
                "dn" => m.name = Some(value),
                "xl" => {
                    m.length = Some(value.parse().map_err(|_| {
                        Error::magnet(format!("`xl={value}` is not a length in bytes"))
                    })?)
                }
                "tr" if !m.trackers.contains(&value) => m.trackers.push(value),
                "tr" => {}
                "ws" => m.web_seeds.push(value),
                "x.pe" => m.peers.push(parse_peer(&value)?),
                "so" => m.select_only.extend(parse_select_only(&value)?),
                _ => {}
            }
        }
        match (hash, m.info_hash_v2, other_xt) {
            (Some(h), _, _) => m.info_hash = h,
            (None, Some(v2), _) => {
                m.info_hash = v2.truncated();
                m.has_v1 = false;
            }
            (None, None, Some(xt)) => {
                return Err(Error::magnet(format!(
                    "`xt={xt}` is not a BitTorrent info-hash (`urn:btih:...` or `urn:btmh:1220...`)"
                )))
            }
            (None, None, None) => return Err(Error::magnet("no `xt` (exact topic) parameter")),
        }
        Ok(m)
    }
}

impl FromStr for Magnet {
    type Err = Error;

    fn from_str(s: &str) -> Result<Magnet> {
        Magnet::parse(s)
    }
}

impl fmt::Display for Magnet {
    /// `magnet:?xt=urn:btih:<hex>&dn=...&xl=...&tr=...&ws=...&x.pe=...&so=...`, values
    /// percent-encoded.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = '?';
        if self.has_v1 {
            write!(f, "magnet:?xt=urn:btih:{}", self.info_hash.to_hex())?;
            sep = '&';
        }
        if let Some(v2) = &self.info_hash_v2 {
            if sep == '?' {
                f.write_str("magnet:")?;
            }
            write!(f, "{sep}xt=urn:btmh:1220{}", v2.to_hex())?;
        }
        if let Some(n) = &self.name {
            write!(f, "&dn={}", percent_encode(n))?;
        }
        if let Some(l) = self.length {
            write!(f, "&xl={l}")?;
        }
        for t in &self.trackers {
            write!(f, "&tr={}", percent_encode(t))?;
        }
        for w in &self.web_seeds {
            write!(f, "&ws={}", percent_encode(w))?;
        }
        for p in &self.peers {
            write!(f, "&x.pe={}", percent_encode(p))?;
        }
        if !self.select_only.is_empty() {
            let parts: Vec<String> = self
                .select_only
                .iter()
                .map(|&(a, b)| {
                    if a == b {
                        a.to_string()
                    } else {
                        format!("{a}-{b}")
                    }
                })
                .collect();
            write!(f, "&so={}", parts.join(","))?;
        }
        Ok(())
    }
}

/// A BEP 52 multihash after `urn:btmh:`: `12` (SHA-256), `20` (32 bytes), then 64 hex digits.
fn parse_btmh(multihash: &str) -> Result<InfoHashV2> {
    let digest = multihash.strip_prefix("1220").ok_or_else(|| {
        Error::magnet(format!(
            "`urn:btmh:{multihash}` is not a SHA-256 multihash (it must start with `1220`)"
        ))
    })?;
    InfoHashV2::from_hex(digest)
}

/// Decodes `%XX` escapes (and `+` as a space when `plus_is_space`); the result must be UTF-8.
fn percent_decode(raw: &str, plus_is_space: bool) -> std::result::Result<String, String> {
    let bytes = percent::decode(raw.as_bytes(), plus_is_space).map_err(|e| e.to_string())?;
    String::from_utf8(bytes).map_err(|_| "not UTF-8 after decoding".to_owned())
}

/// Percent-encodes everything but RFC 3986 unreserved characters: a value inside a query
/// parameter has its `:`, `/`, `&`, `=`, `+` and spaces escaped, as anacrolix's torrent-magnet
/// writes them (`tr=http%3A%2F%2Fhost%3A6969%2Fannounce`; a space is `%20`).
fn percent_encode(s: &str) -> String {
    percent::encode(s.as_bytes(), percent::UNRESERVED)
}

/// `host:port` or `[v6]:port`.
fn parse_peer(value: &str) -> Result<String> {
    let bad = || Error::magnet(format!("`x.pe={value}` is not a host:port peer address"));
    let (host, port) = value.rsplit_once(':').ok_or_else(bad)?;
    if host.is_empty() || port.parse::<u16>().map_or(true, |p| p == 0) {
        return Err(bad());
    }
    if host.contains(':') && !(host.starts_with('[') && host.ends_with(']')) {
        return Err(bad());
    }
    Ok(value.to_owned())
}

/// BEP 53: `0,2,4-6`.
fn parse_select_only(value: &str) -> Result<Vec<(usize, usize)>> {
    value
        .split(',')
        .map(|part| {
            let bad =
                || Error::magnet(format!("`so={value}`: `{part}` is not an index or a range"));
            let (a, b) = match part.split_once('-') {
                Some((a, b)) => (a, b),
                None => (part, part),
            };
            let a: usize = a.parse().map_err(|_| bad())?;
            let b: usize = b.parse().map_err(|_| bad())?;
            if a > b {
                return Err(bad());
            }
            Ok((a, b))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "c0fda1edafdbdbb96443424e0b3899af7159d10e";

    #[test]
    fn parses_every_parameter() {
        let uri = format!(
            "magnet:?xt=urn:btih:{HEX}&dn=My+File%20x&xl=425&tr=udp%3A%2F%2Fa%3A1&tr=http://b/ann\
             &ws=http%3A%2F%2Fw%2Ff&x.pe=10.0.0.1:6881&x.pe=[::1]:7000&so=0,2,4-6&foo=bar"
        );
        let m = Magnet::parse(&uri).unwrap();
        assert_eq!(m.info_hash.to_hex(), HEX);
        assert_eq!(m.name.as_deref(), Some("My File x"));
        assert_eq!(m.length, Some(425));
        assert_eq!(m.trackers, ["udp://a:1", "http://b/ann"]);
        assert_eq!(m.web_seeds, ["http://w/f"]);
        assert_eq!(m.peers, ["10.0.0.1:6881", "[::1]:7000"]);
        assert_eq!(m.select_only, [(0, 0), (2, 2), (4, 6)]);
    }

    #[test]
    fn base32_and_round_trip() {
        let hash = InfoHash::from_hex(HEX).unwrap();
        let m = Magnet::parse(&format!("magnet:?xt=urn:btih:{}", hash.to_base32())).unwrap();
        assert_eq!(m.info_hash, hash);
        let mut full = Magnet::new(hash);
        full.name = Some("a b&c=d/é".into());
        full.length = Some(7);
        full.trackers = vec!["udp://t:1/announce?x=1&y=2".into()];
        full.web_seeds = vec!["http://w/a b".into()];
        full.peers = vec!["[::1]:9".into()];
        full.select_only = vec![(1, 1), (3, 5)];
        let text = full.to_string();
        assert!(
            text.starts_with(&format!(
                "magnet:?xt=urn:btih:{HEX}&dn=a%20b%26c%3Dd%2F%C3%A9&xl=7\
                 &tr=udp%3A%2F%2Ft%3A1%2Fannounce%3Fx%3D1%26y%3D2&ws=http%3A%2F%2Fw%2Fa%20b"
            )),
            "{text}"
        );
        // As anacrolix's torrent-magnet writes a tracker.
        let mut ubuntu = Magnet::new(hash);
        ubuntu.trackers = vec!["http://torrent.ubuntu.com:6969/announce".into()];
        assert!(ubuntu
            .to_string()
            .ends_with("&tr=http%3A%2F%2Ftorrent.ubuntu.com%3A6969%2Fannounce"));
        assert_eq!(Magnet::parse(&text).unwrap(), full);
    }

    #[test]
    fn v2_and_hybrid_links() {
        let v2 = InfoHashV2::of_info_bytes(b"info");
        let text = format!("magnet:?xt=urn:btmh:1220{}&dn=x", v2.to_hex());
        let m = Magnet::parse(&text).unwrap();
        assert_eq!(m.info_hash_v2, Some(v2));
        assert!(!m.has_v1);
        assert_eq!(m.info_hash, v2.truncated());
        assert_eq!(m.to_string(), text);

        let v1 = InfoHash::from_hex(HEX).unwrap();
        let text = format!("magnet:?xt=urn:btih:{HEX}&xt=urn:btmh:1220{}", v2.to_hex());
        let m = Magnet::parse(&text).unwrap();
        assert_eq!(
            (m.info_hash, m.has_v1, m.info_hash_v2),
            (v1, true, Some(v2))
        );
        assert_eq!(m.to_string(), text);
    }

    #[test]
    fn bad_magnets_are_rejected_with_a_reason() {
        let cases = [
            ("http://x", "does not start with `magnet:?`"),
            ("magnet:?dn=x", "no `xt`"),
            ("magnet:?xt=urn:sha1:abc", "not a BitTorrent info-hash"),
            ("magnet:?xt=urn:btmh:1220abcd", "needs 64"),
            ("magnet:?xt=urn:btmh:1114abcd", "not a SHA-256 multihash"),
            ("magnet:?xt=urn:btih:abc", "needs 40"),
            ("magnet:?xt=urn:btih:zz", "needs 40"),
            ("magnet:?xt=urn:btih:c0fda1edafdbdbb96443424e0b3899af7159d10g", "non-hex"),
            ("magnet:?xt=urn:btih:c0fda1edafdbdbb96443424e0b3899af7159d10e&xl=-1", "not a length"),
            ("magnet:?xt=urn:btih:c0fda1edafdbdbb96443424e0b3899af7159d10e&dn=%4", "percent-escape"),
            ("magnet:?xt=urn:btih:c0fda1edafdbdbb96443424e0b3899af7159d10e&dn=%ff", "not UTF-8"),
            ("magnet:?xt=urn:btih:c0fda1edafdbdbb96443424e0b3899af7159d10e&x.pe=host", "host:port"),
            ("magnet:?xt=urn:btih:c0fda1edafdbdbb96443424e0b3899af7159d10e&x.pe=h:0", "host:port"),
            ("magnet:?xt=urn:btih:c0fda1edafdbdbb96443424e0b3899af7159d10e&so=3-1", "not an index"),
            ("magnet:?xt=urn:btih:c0fda1edafdbdbb96443424e0b3899af7159d10e&so=a", "not an index"),
            ("magnet:?xt=urn:btih:c0fda1edafdbdbb96443424e0b3899af7159d10e&novalue", "has no `=`"),
            (
                "magnet:?xt=urn:btih:c0fda1edafdbdbb96443424e0b3899af7159d10e&xt=urn:btih:0000000000000000000000000000000000000000",
                "two different",
            ),
        ];
        for (uri, why) in cases {
            let e = Magnet::parse(uri).unwrap_err().to_string();
            assert!(e.starts_with("invalid magnet link: "), "{uri}: {e}");
            assert!(e.contains(why), "{uri}: expected {why:?} in {e:?}");
        }
    }
}
