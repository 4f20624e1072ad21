//! The BEP 52 hash messages: `hash request` (21), `hashes` (22) and `hash reject` (23), which
//! v2 peers use to fetch piece layers and Merkle proofs. They travel as
//! [`Message::Unknown`](crate::Message::Unknown) frames; [`HashMessage::decode`] reads their
//! payload, with every count bounded before it is used, and [`HashMessage::verify`] checks the
//! hashes of a `hashes` message against a file's `pieces root`.
//!
//! `proof layers` is counted as libtorrent counts it (the reference implementation): from the
//! base layer, so a reply carries `proof_layers + 1 - log2(length)` uncle hashes, or none when
//! that is not positive ([`HashRequest::uncle_count`]). Reading it as "one uncle per proof
//! layer" makes every libtorrent reply look one hash short or long.

use torrentkit_metainfo::merkle::{self, Hash256};

use crate::error::{Error, Result};
use crate::message::id;

/// The most hashes one request may ask for (libtorrent asks for at most 512).
pub const MAX_HASH_REQUEST: u32 = 8192;
/// The most proof layers: a tree of 2^62 bytes in 16 KiB leaves has 48 levels.
pub const MAX_PROOF_LAYERS: u32 = 64;

/// What a hash request names: which hashes of which file's tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HashRequest {
    /// The file's `pieces root`.
    pub pieces_root: Hash256,
    /// The layer the hashes are in (0: the 16 KiB leaves).
    pub base_layer: u32,
    /// The index of the first hash in that layer (a multiple of `length`).
    pub index: u32,
    /// How many hashes (a power of two).
    pub length: u32,
    /// How many layers above the base layer the proof covers, counted as libtorrent counts
    /// them: the reply's uncles are [`uncle_count`](Self::uncle_count) hashes.
    pub proof_layers: u32,
}

/// One BEP 52 hash message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HashMessage {
    /// `hash request` (21).
    Request(HashRequest),
    /// `hashes` (22): the request answered, the `length` hashes then the uncles, nearest first.
    Hashes {
        /// The request this answers.
        request: HashRequest,
        /// `length` base hashes followed by the proof's uncle hashes.
        hashes: Vec<Hash256>,
    },
    /// `hash reject` (23): the request refused.
    Reject(HashRequest),
}

const HEADER: usize = 32 + 4 * 4;

impl HashRequest {
    /// How many uncle hashes a `hashes` reply to this request carries after its `length` base
    /// hashes: `proof_layers + 1 - log2(length)`, or 0 when that is not positive. The base hashes
    /// themselves hash up `log2(length)` layers; the uncles take the proof from there to the
    /// node `max(proof_layers + 1, log2(length))` layers above the base.
    pub fn uncle_count(&self) -> u32 {
        let base_levels = self.length.max(1).ilog2();
        (self.proof_layers + 1).saturating_sub(base_levels)
    }

    /// How many layers above the base layer a reply's proof reaches: the node it hashes up to
    /// is this many layers up (the `pieces root` when it equals the tree's height over the base).
    pub fn proof_height(&self) -> u32 {
        self.length.max(1).ilog2() + self.uncle_count()
    }

    fn read(message: &'static str, p: &[u8]) -> Result<HashRequest> {
        if p.len() < HEADER {
            return Err(Error::InvalidField {
                message,
                field: "header",
                problem: format!("{} bytes, at least {HEADER} needed", p.len()),
            });
        }
        let u = |at: usize| u32::from_be_bytes([p[at], p[at + 1], p[at + 2], p[at + 3]]);
        let mut pieces_root = [0u8; 32];
        pieces_root.copy_from_slice(&p[..32]);
        let r = HashRequest {
            pieces_root,
            base_layer: u(32),
            index: u(36),
            length: u(40),
            proof_layers: u(44),
        };
        let bad = |field, problem: String| Error::InvalidField {
            message,
            field,
            problem,
        };
        if r.length == 0 || r.length > MAX_HASH_REQUEST || !r.length.is_power_of_two() {
            return Err(bad(
                "length",
                format!(
                    "{} is not a power of two up to {MAX_HASH_REQUEST}",
                    r.length
                ),
            ));
        }
        if r.index % r.length != 0 {
            return Err(bad(
                "index",
                format!("{} is not a multiple of the length {}", r.index, r.length),
            ));
        }
        if r.proof_layers > MAX_PROOF_LAYERS || r.base_layer > MAX_PROOF_LAYERS {
            return Err(bad(
                "proof layers",
                format!(
                    "base layer {} or proof layers {} above {MAX_PROOF_LAYERS}",
                    r.base_layer, r.proof_layers
                ),
            ));
        }
        Ok(r)
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.pieces_root);
        for v in [self.base_layer, self.index, self.length, self.proof_layers] {
            out.extend_from_slice(&v.to_be_bytes());
        }
    }
}

impl HashMessage {
    /// Reads the payload (after the id byte) of message `msg_id`; `None` when the id is not
    /// one of BEP 52's.
    pub fn decode(msg_id: u8, payload: &[u8]) -> Option<Result<HashMessage>> {
        Some(match msg_id {
            id::HASH_REQUEST => Self::exact("hash request", payload).map(HashMessage::Request),
            id::HASH_REJECT => Self::exact("hash reject", payload).map(HashMessage::Reject),
            id::HASHES => Self::hashes(payload),
            _ => return None,
        })
    }

    fn exact(message: &'static str, payload: &[u8]) -> Result<HashRequest> {
        let r = HashRequest::read(message, payload)?;
        if payload.len() != HEADER {
            return Err(Error::InvalidField {
                message,
                field: "length",
                problem: format!("{} bytes, {HEADER} expected", payload.len()),
            });
        }
        Ok(r)
    }

    fn hashes(payload: &[u8]) -> Result<HashMessage> {
        let request = HashRequest::read("hashes", payload)?;
        let rest = &payload[HEADER..];
        // Exactly the base hashes and the uncles the request implies: the count comes from the
        // header's own bounded fields, checked before anything is allocated.
        let want = (request.length as usize + request.uncle_count() as usize) * 32;
        if rest.len() != want {
            return Err(Error::InvalidField {
                message: "hashes",
                field: "hashes",
                problem: format!(
                    "{} bytes of hashes, {} hashes and {} uncles ({want} bytes) expected",
                    rest.len(),
                    request.length,
                    request.uncle_count()
                ),
            });
        }
        let hashes = rest
            .chunks_exact(32)
            .map(|c| {
                let mut h = [0u8; 32];
                h.copy_from_slice(c);
                h
            })
            .collect();
        Ok(HashMessage::Hashes { request, hashes })
    }

    /// The message id.
    pub fn id(&self) -> u8 {
        match self {
            HashMessage::Request(_) => id::HASH_REQUEST,
            HashMessage::Hashes { .. } => id::HASHES,
            HashMessage::Reject(_) => id::HASH_REJECT,
        }
    }

    /// Appends the whole message (length prefix, id, payload) to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let (request, hashes) = match self {
            HashMessage::Request(r) | HashMessage::Reject(r) => (r, &[][..]),
            HashMessage::Hashes { request, hashes } => (request, hashes.as_slice()),
        };
        let len = 1 + HEADER + hashes.len() * 32;
        out.extend_from_slice(&(len as u32).to_be_bytes());
        out.push(self.id());
        request.write(out);
        for h in hashes {
            out.extend_from_slice(h);
        }
    }

    /// For a `hashes` message, the node its base hashes and uncles hash up to: its position in
    /// its layer ([`HashRequest::proof_height`] layers above the base) and its hash. `None` for
    /// other messages and for a hash count other than `length` plus
    /// [`HashRequest::uncle_count`].
    pub fn to_root(&self) -> Option<(u64, Hash256)> {
        let HashMessage::Hashes { request, hashes } = self else {
            return None;
        };
        let n = request.length as usize;
        if hashes.len() != n + request.uncle_count() as usize || n == 0 {
            return None;
        }
        let (base, uncles) = hashes.split_at(n);
        let mut layer: Vec<Hash256> = base.to_vec();
        while layer.len() > 1 {
            layer = merkle::layer_above(&layer);
        }
        let mut h = layer[0];
        let mut position = u64::from(request.index / request.length);
        for u in uncles {
            h = if position % 2 == 0 {
                merkle::parent(&h, u)
            } else {
                merkle::parent(u, &h)
            };
            position /= 2;
        }
        Some((position, h))
    }

    /// For a `hashes` message, true when its base hashes and uncles hash up to the file's
    /// `pieces root` (which the request names); false for other messages, for a proof that
    /// stops short of the root, and for hashes that do not match.
    pub fn verify(&self) -> bool {
        let HashMessage::Hashes { request, .. } = self else {
            return false;
        };
        self.to_root() == Some((0, request.pieces_root))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> (Vec<Hash256>, Hash256) {
        let leaves: Vec<Hash256> = (0..8u8).map(|i| merkle::leaf(&[i])).collect();
        let root = merkle::file_root(&leaves);
        (leaves, root)
    }

    #[test]
    fn hashes_round_trip_and_verify_against_the_root() {
        let (l, root) = tree();
        // Two of eight leaves: the pair hashes up one layer, two uncles take it to the root
        // three layers up, so libtorrent asks for proof_layers 2 (2 + 1 - log2 2 = 2 uncles).
        let request = HashRequest {
            pieces_root: root,
            base_layer: 0,
            index: 2,
            length: 2,
            proof_layers: 2,
        };
        let uncles = [
            merkle::parent(&l[0], &l[1]),
            merkle::parent(&merkle::parent(&l[4], &l[5]), &merkle::parent(&l[6], &l[7])),
        ];
        let good = HashMessage::Hashes {
            request,
            hashes: vec![l[2], l[3], uncles[0], uncles[1]],
        };
        assert!(good.verify());
        let mut wire = Vec::new();
        good.encode(&mut wire);
        assert_eq!(wire.len(), 4 + 1 + HEADER + 4 * 32);
        assert_eq!(wire[4], id::HASHES);
        assert_eq!(
            HashMessage::decode(wire[4], &wire[5..]).unwrap().unwrap(),
            good
        );
        // A bad leaf is caught.
        let bad = HashMessage::Hashes {
            request,
            hashes: vec![l[2], l[2], uncles[0], uncles[1]],
        };
        assert!(!bad.verify());
        // A proof short of the root cannot be checked against it.
        let short = HashMessage::Hashes {
            request,
            hashes: vec![l[2], l[3], uncles[0]],
        };
        assert!(!short.verify());
    }

    #[test]
    fn proof_layers_count_from_the_base_layer_as_libtorrent_counts_them() {
        let (l, root) = tree();
        let r = |length, proof_layers| HashRequest {
            pieces_root: root,
            base_layer: 0,
            index: 4,
            length,
            proof_layers,
        };
        // libtorrent's piece-layer requests: 512 hashes with proof_layers 9 carry one uncle
        // (not nine); a whole layer of 4 with proof_layers 1 carries none.
        assert_eq!(r(512, 9).uncle_count(), 1);
        assert_eq!(r(4, 1).uncle_count(), 0);
        assert_eq!(r(4, 2).uncle_count(), 1);
        assert_eq!(r(2, 2).uncle_count(), 2);
        assert_eq!(r(1, 0).uncle_count(), 1);
        assert_eq!(r(4, 2).proof_height(), 3);
        // The second half of eight leaves with proof_layers 2: four hashes and one uncle.
        let left = merkle::parent(&merkle::parent(&l[0], &l[1]), &merkle::parent(&l[2], &l[3]));
        let reply = HashMessage::Hashes {
            request: r(4, 2),
            hashes: vec![l[4], l[5], l[6], l[7], left],
        };
        assert!(reply.verify());
        let mut wire = Vec::new();
        reply.encode(&mut wire);
        assert_eq!(HashMessage::decode(22, &wire[5..]).unwrap().unwrap(), reply);
        // Two uncles (one per proof layer, the old reading) is a malformed reply.
        let mut long = wire[5..].to_vec();
        long.extend_from_slice(&[0u8; 32]);
        let e = HashMessage::decode(22, &long).unwrap().unwrap_err();
        assert!(e.to_string().contains("4 hashes and 1 uncles"), "{e}");
        // proof_layers 1 stops at the half's own root: it hashes up, but not to the file's.
        let half = HashMessage::Hashes {
            request: r(4, 1),
            hashes: vec![l[4], l[5], l[6], l[7]],
        };
        assert!(!half.verify());
        let right = merkle::parent(&merkle::parent(&l[4], &l[5]), &merkle::parent(&l[6], &l[7]));
        assert_eq!(half.to_root(), Some((1, right)));
    }

    #[test]
    fn counts_are_bounded_before_use() {
        let r = HashRequest {
            pieces_root: [1; 32],
            base_layer: 0,
            index: 0,
            length: 4,
            proof_layers: 1,
        };
        let mut wire = Vec::new();
        HashMessage::Request(r).encode(&mut wire);
        assert_eq!(
            HashMessage::decode(21, &wire[5..]).unwrap().unwrap(),
            HashMessage::Request(r)
        );
        let e = HashMessage::decode(21, &wire[5..20]).unwrap().unwrap_err();
        assert!(e.to_string().contains("at least 48"), "{e}");
        let mut big = wire[5..].to_vec();
        big[40..44].copy_from_slice(&u32::MAX.to_be_bytes());
        let e = HashMessage::decode(21, &big).unwrap().unwrap_err();
        assert!(e.to_string().contains("power of two"), "{e}");
        // More hashes than the base plus the uncles the request implies (none here).
        let mut hashes = wire[5..].to_vec();
        hashes.extend_from_slice(&[0u8; 32 * 6]);
        let e = HashMessage::decode(22, &hashes).unwrap().unwrap_err();
        assert!(e.to_string().contains("4 hashes and 0 uncles"), "{e}");
        assert!(HashMessage::decode(7, &[]).is_none());
    }
}
