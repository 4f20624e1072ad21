//! The extended handshake of BEP 10: the dictionary each side sends as extension message 0.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use torrentkit_bencode::{decode_with, encode_to, DecodeOptions, Dict, Value};

use super::fields::{bencode_error, Fields};
use crate::error::{Error, Result};

const MESSAGE: &str = "extended handshake";

/// The extended handshake (BEP 10), with the fields BEP 9 and BEP 10 define.
///
/// Unknown keys are ignored when decoding, as BEP 10 asks. A known key with the wrong type or an
/// impossible value is an [`Error::InvalidField`] naming it.
///
/// ```
/// use torrentkit_wire::ExtendedHandshake;
/// let mut ours = ExtendedHandshake::default();
/// ours.extensions.insert(b"ut_metadata", 1);
/// ours.client = Some(b"torrentkit 0.1.0");
/// ours.metadata_size = Some(31235);
/// let payload = ours.to_payload();
/// assert_eq!(payload, b"d1:md11:ut_metadatai1ee13:metadata_sizei31235e1:v16:torrentkit 0.1.0e");
/// let theirs = ExtendedHandshake::decode(&payload)?;
/// assert_eq!(theirs.extension_id("ut_metadata"), Some(1));
/// assert_eq!(theirs, ours);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtendedHandshake<'a> {
    /// `m`: extension name to the message id the sender wants to receive it under.
    /// An id of 0 means the sender disables that extension.
    pub extensions: BTreeMap<&'a [u8], u8>,
    /// `v`: the client's name and version, for display (not always UTF-8).
    pub client: Option<&'a [u8]>,
    /// `p`: the TCP port the sender listens on.
    pub listen_port: Option<u16>,
    /// `reqq`: how many outstanding requests the sender queues without dropping any.
    pub request_queue: Option<u32>,
    /// `yourip`: the receiver's address as the sender sees it.
    pub your_ip: Option<IpAddr>,
    /// `ipv4`: the sender's own IPv4 address.
    pub ipv4: Option<Ipv4Addr>,
    /// `ipv6`: the sender's own IPv6 address.
    pub ipv6: Option<Ipv6Addr>,
    /// `metadata_size`: the size of the info dictionary in bytes (BEP 9).
    pub metadata_size: Option<u64>,
}

impl<'a> ExtendedHandshake<'a> {
    /// Decodes the payload of extension message 0 (after the id bytes). Dictionary keys out of
    /// order are accepted, since some clients send them.
    pub fn decode(payload: &'a [u8]) -> Result<Self> {
        let value =
            decode_with(payload, &DecodeOptions::lenient()).map_err(bencode_error(MESSAGE))?;
        let f = Fields::of(MESSAGE, &value)?;
        let mut extensions = BTreeMap::new();
        if let Some(m) = f.dict("m")? {
            for (name, id) in m.iter() {
                match id {
                    Value::Int(i @ 0..=255) => {
                        extensions.insert(name, *i as u8);
                    }
                    other => {
                        return Err(Error::InvalidField {
                            message: MESSAGE,
                            field: "m",
                            problem: format!(
                                "maps `{}` to {}, not a message id 0..=255",
                                String::from_utf8_lossy(name),
                                show(other)
                            ),
                        })
                    }
                }
            }
        }
        let your_ip = match f.bytes("yourip")? {
            None => None,
            Some(b) => Some(match b.len() {
                4 => IpAddr::from(<[u8; 4]>::try_from(b).unwrap_or_default()),
                16 => IpAddr::from(<[u8; 16]>::try_from(b).unwrap_or_default()),
                n => return Err(f.error("yourip", format!("is {n} bytes, not 4 or 16"))),
            }),
        };
        Ok(Self {
            extensions,
            client: f.bytes("v")?,
            listen_port: f.int("p", 0, 65535)?.map(|p| p as u16),
            request_queue: f.int("reqq", 0, i64::from(u32::MAX))?.map(|q| q as u32),
            your_ip,
            ipv4: f.array::<4>("ipv4")?.map(Ipv4Addr::from),
            ipv6: f.array::<16>("ipv6")?.map(Ipv6Addr::from),
            metadata_size: f.int("metadata_size", 0, i64::MAX)?.map(|s| s as u64),
        })
    }

    /// The message id the sender assigned to extension `name`, or `None` if it does not
    /// support it (absent, or disabled with id 0).
    pub fn extension_id(&self, name: &str) -> Option<u8> {
        self.extensions
            .get(name.as_bytes())
            .copied()
            .filter(|&id| id != 0)
    }

    /// Appends the bencoded dictionary (canonical key order) to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let your_ip = self.your_ip.map(|ip| match ip {
            IpAddr::V4(v4) => v4.octets().to_vec(),
            IpAddr::V6(v6) => v6.octets().to_vec(),
        });
        let ipv4 = self.ipv4.map(|ip| ip.octets());
        let ipv6 = self.ipv6.map(|ip| ip.octets());
        let mut dict = Dict::new();
        let m: Dict<'_> = self
            .extensions
            .iter()
            .map(|(name, id)| (*name, Value::Int(i64::from(*id))))
            .collect();
        dict.insert(b"m", Value::Dict(m));
        if let Some(v) = self.client {
            dict.insert(b"v", Value::Bytes(v));
        }
        if let Some(p) = self.listen_port {
            dict.insert(b"p", Value::Int(i64::from(p)));
        }
        if let Some(q) = self.request_queue {
            dict.insert(b"reqq", Value::Int(i64::from(q)));
        }
        if let Some(ip) = &your_ip {
            dict.insert(b"yourip", Value::Bytes(ip));
        }
        if let Some(ip) = &ipv4 {
            dict.insert(b"ipv4", Value::Bytes(ip));
        }
        if let Some(ip) = &ipv6 {
            dict.insert(b"ipv6", Value::Bytes(ip));
        }
        if let Some(size) = self.metadata_size {
            // Sizes above i64::MAX cannot be bencoded; no info dictionary is that large.
            dict.insert(
                b"metadata_size",
                Value::Int(i64::try_from(size).unwrap_or(i64::MAX)),
            );
        }
        encode_to(&Value::Dict(dict), out);
    }

    /// The bencoded dictionary as a new vector.
    pub fn to_payload(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

fn show(value: &Value<'_>) -> String {
    match value {
        Value::Int(i) => i.to_string(),
        other => format!("a {}", other.type_name()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_fields_round_trip() {
        let mut h = ExtendedHandshake {
            client: Some(b"qBittorrent/4.6.5"),
            listen_port: Some(6881),
            request_queue: Some(500),
            your_ip: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            ipv4: Some(Ipv4Addr::new(10, 0, 0, 1)),
            ipv6: Some(Ipv6Addr::LOCALHOST),
            metadata_size: Some(1 << 20),
            ..Default::default()
        };
        h.extensions.insert(b"ut_pex", 2);
        h.extensions.insert(b"lt_donthave", 0);
        let bytes = h.to_payload();
        assert_eq!(ExtendedHandshake::decode(&bytes).unwrap(), h);
        assert_eq!(h.extension_id("ut_pex"), Some(2));
        assert_eq!(h.extension_id("lt_donthave"), None);
        assert_eq!(h.extension_id("ut_metadata"), None);
    }

    #[test]
    fn unknown_keys_and_unsorted_keys_are_accepted() {
        let h = ExtendedHandshake::decode(b"d1:v3:abc1:md6:ut_pexi3ee11:upload_onlyi1ee").unwrap();
        assert_eq!(h.extension_id("ut_pex"), Some(3));
        assert_eq!(h.client, Some(&b"abc"[..]));
    }

    #[test]
    fn bad_fields_are_named() {
        let err = ExtendedHandshake::decode(b"d1:pi70000ee").unwrap_err();
        assert_eq!(
            err.to_string(),
            "wire: extended handshake: field `p` is 70000, outside 0..=65535"
        );
        let err = ExtendedHandshake::decode(b"d6:yourip3:abce").unwrap_err();
        assert_eq!(
            err.to_string(),
            "wire: extended handshake: field `yourip` is 3 bytes, not 4 or 16"
        );
        let err = ExtendedHandshake::decode(b"d1:md1:xi300eee").unwrap_err();
        assert_eq!(
            err.to_string(),
            "wire: extended handshake: field `m` maps `x` to 300, not a message id 0..=255"
        );
        let err = ExtendedHandshake::decode(b"li1ee").unwrap_err();
        assert!(err.to_string().contains("not a dictionary"), "{err}");
        let err = ExtendedHandshake::decode(b"d1:m").unwrap_err();
        assert!(matches!(err, Error::Bencode { .. }), "{err}");
    }
}
