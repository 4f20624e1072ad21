//! [`PeerId`]: generating ours in the Azureus style and recognising other clients' ids.

use std::fmt;

/// The two-letter Azureus-style client code of torrentkit.
pub const CLIENT_CODE: [u8; 2] = *b"TK";

/// A 20-byte peer id, as sent in the handshake and to trackers.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(pub [u8; 20]);

impl PeerId {
    /// Our peer id: `-TK` and four version characters (`0100` for 0.1.0), `-`, then the twelve
    /// bytes of `random`. The caller supplies the randomness (a fresh id per session), so the
    /// crate stays deterministic.
    ///
    /// ```
    /// use torrentkit_wire::PeerId;
    /// let id = PeerId::generate(*b"abcdefghijkl");
    /// assert_eq!(&id.0, b"-TK0100-abcdefghijkl");
    /// assert_eq!(id.client().unwrap().to_string(), "torrentkit 0.1.0");
    /// ```
    pub fn generate(random: [u8; 12]) -> Self {
        let version = [
            env!("CARGO_PKG_VERSION_MAJOR"),
            env!("CARGO_PKG_VERSION_MINOR"),
            env!("CARGO_PKG_VERSION_PATCH"),
        ]
        .map(|part| base36_char(part.parse().unwrap_or(0)));
        Self::azureus(
            CLIENT_CODE,
            [version[0], version[1], version[2], b'0'],
            random,
        )
    }

    /// An Azureus-style id: `-` `client` `version` `-` `random`.
    pub fn azureus(client: [u8; 2], version: [u8; 4], random: [u8; 12]) -> Self {
        let mut id = [0; 20];
        id[0] = b'-';
        id[1..3].copy_from_slice(&client);
        id[3..7].copy_from_slice(&version);
        id[7] = b'-';
        id[8..].copy_from_slice(&random);
        Self(id)
    }

    /// The client that made this id, with its version, for the common id styles
    /// (Azureus `-XXvvvv-`, aria2 `A2-1-36-0-`, mainline `M7-4-3--`), or `None`.
    ///
    /// ```
    /// use torrentkit_wire::PeerId;
    /// let id = PeerId(*b"-LT2080-0123456789ab");
    /// assert_eq!(id.client().unwrap().to_string(), "libtorrent (Rasterbar) 2.0.8");
    /// let id = PeerId(*b"A2-1-36-0-0123456789");
    /// assert_eq!(id.client().unwrap().to_string(), "aria2 1.36.0");
    /// ```
    pub fn client(&self) -> Option<Client> {
        azureus(&self.0)
            .or_else(|| aria2(&self.0))
            .or_else(|| mainline(&self.0))
    }
}

impl fmt::Debug for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PeerId({self})")
    }
}

/// Printable ASCII as is, other bytes as `\xNN`.
impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &b in &self.0 {
            if b.is_ascii_graphic() {
                write!(f, "{}", b as char)?;
            } else {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }
}

/// A client recognised from its peer id, by [`PeerId::client`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// The client's name, such as `"qBittorrent"`.
    pub name: &'static str,
    /// Its version as the id encodes it, such as `"4.6.5"`, when the id carries one.
    pub version: Option<String>,
}

impl fmt::Display for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)?;
        if let Some(v) = &self.version {
            write!(f, " {v}")?;
        }
        Ok(())
    }
}

/// Azureus-style client codes.
const AZUREUS_CLIENTS: &[(&[u8; 2], &str)] = &[
    (b"TK", "torrentkit"),
    (b"LT", "libtorrent (Rasterbar)"),
    (b"lt", "libTorrent (rakshasa)"),
    (b"qB", "qBittorrent"),
    (b"TR", "Transmission"),
    (b"UT", "\u{b5}Torrent"),
    (b"UM", "\u{b5}Torrent Mac"),
    (b"UW", "\u{b5}Torrent Web"),
    (b"DE", "Deluge"),
    (b"AZ", "Vuze"),
    (b"BI", "BiglyBT"),
    (b"BT", "BitTorrent"),
    (b"BC", "BitComet"),
    (b"KT", "KTorrent"),
    (b"PI", "PicoTorrent"),
    (b"FD", "Free Download Manager"),
    (b"WW", "WebTorrent"),
    (b"WD", "WebTorrent Desktop"),
    (b"XL", "Xunlei"),
    (b"SD", "Thunder"),
    (b"FX", "Flashget"),
];

fn azureus(id: &[u8; 20]) -> Option<Client> {
    if id[0] != b'-' || id[7] != b'-' {
        return None;
    }
    let code: [u8; 2] = [id[1], id[2]];
    let (_, name) = AZUREUS_CLIENTS.iter().find(|(c, _)| **c == code)?;
    let v = &id[3..7];
    if !v.iter().all(u8::is_ascii_alphanumeric) {
        return Some(Client {
            name,
            version: None,
        });
    }
    let digit = |c: u8| base36_value(c).unwrap_or(0);
    let version = if &code == b"TR" {
        // Transmission: 0.80-3.00 as `-TR300Z-` (major, two-digit minor); 4.x as `-TR405x-`.
        if v[0] < b'4' {
            format!("{}.{}{}", digit(v[0]), v[1] as char, v[2] as char)
        } else {
            format!("{}.{}.{}", digit(v[0]), digit(v[1]), digit(v[2]))
        }
    } else {
        let mut s = format!("{}.{}.{}", digit(v[0]), digit(v[1]), digit(v[2]));
        if v[3].is_ascii_digit() && v[3] != b'0' {
            s.push_str(&format!(".{}", digit(v[3])));
        }
        s
    };
    Some(Client {
        name,
        version: Some(version),
    })
}

/// aria2: `A2-` then `major-minor-patch-` then random bytes.
fn aria2(id: &[u8; 20]) -> Option<Client> {
    let rest = id.strip_prefix(b"A2-")?;
    Some(Client {
        name: "aria2",
        version: dashed_version(rest),
    })
}

/// Mainline (BitTorrent 4.x-6.x): `M` then `major-minor-patch-` then random bytes.
fn mainline(id: &[u8; 20]) -> Option<Client> {
    let rest = id.strip_prefix(b"M")?;
    let version = dashed_version(rest)?;
    Some(Client {
        name: "BitTorrent (mainline)",
        version: Some(version),
    })
}

/// Reads `1-36-0-` (three dash-terminated decimal numbers; mainline may end `7-4-3--`).
fn dashed_version(rest: &[u8]) -> Option<String> {
    let mut parts = Vec::with_capacity(3);
    let mut at = 0;
    for _ in 0..3 {
        let len = rest[at..].iter().take_while(|b| b.is_ascii_digit()).count();
        if len == 0 || len > 3 || rest.get(at + len) != Some(&b'-') {
            return None;
        }
        parts.push(std::str::from_utf8(&rest[at..at + len]).ok()?);
        at += len + 1;
    }
    Some(parts.join("."))
}

fn base36_char(v: u32) -> u8 {
    match v {
        0..=9 => b'0' + v as u8,
        10..=35 => b'A' + (v - 10) as u8,
        _ => b'Z',
    }
}

fn base36_value(c: u8) -> Option<u32> {
    match c {
        b'0'..=b'9' => Some(u32::from(c - b'0')),
        b'A'..=b'Z' => Some(u32::from(c - b'A') + 10),
        b'a'..=b'z' => Some(u32::from(c - b'a') + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(id: &[u8; 20]) -> Option<String> {
        PeerId(*id).client().map(|c| c.to_string())
    }

    #[test]
    fn common_clients_are_recognised() {
        let cases: [(&[u8; 20], &str); 9] = [
            (b"-qB4650-abcdefghijkl", "qBittorrent 4.6.5"),
            (b"-TR300Z-abcdefghijkl", "Transmission 3.00"),
            (b"-TR4050-abcdefghijkl", "Transmission 4.0.5"),
            (b"-UT355W-abcdefghijkl", "\u{b5}Torrent 3.5.5"),
            (b"-DE2110-abcdefghijkl", "Deluge 2.1.1"),
            (b"-lt0D80-abcdefghijkl", "libTorrent (rakshasa) 0.13.8"),
            (b"-LT20A0-abcdefghijkl", "libtorrent (Rasterbar) 2.0.10"),
            (b"A2-1-37-0-abcdefghij", "aria2 1.37.0"),
            (b"M7-4-3--abcdefghijkl", "BitTorrent (mainline) 7.4.3"),
        ];
        for (id, expected) in cases {
            assert_eq!(client(id).as_deref(), Some(expected));
        }
    }

    #[test]
    fn unknown_ids_are_none() {
        assert_eq!(client(b"-ZZ1000-abcdefghijkl"), None);
        assert_eq!(client(&[0; 20]), None);
        assert_eq!(client(b"Mxyz----------------"), None);
        assert_eq!(
            client(b"-TR\x00\x00\x00\x00-abcdefghijkl").as_deref(),
            Some("Transmission")
        );
    }

    #[test]
    fn ours_is_azureus_style_and_printable_where_it_can_be() {
        let id = PeerId::generate([0xff; 12]);
        assert!(id.0.starts_with(b"-TK0100-"));
        assert_eq!(id.to_string(), format!("-TK0100-{}", "\\xff".repeat(12)));
    }
}
