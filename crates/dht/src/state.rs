//! A node's saved state: its id and its routing table's nodes, as a small bencoded file that a
//! driver writes on exit and hands back to [`Node::restore`](crate::Node::restore) at the next
//! start, so the node rejoins the DHT without bootstrap routers.
//!
//! The format is libtorrent's `dht state` shape: `d2:id20:...5:nodes<26 n>:...6:nodes6<38 n>:...e`
//! (compact nodes, BEP 5 and BEP 32). Decoding is strict and bounded: at most
//! [`MAX_SAVED_NODES`] nodes are read, whatever the file says.

use std::fmt;

use torrentkit_bencode::{decode, encode, Dict, Value};

use crate::compact::{parse_nodes, put_node, NodeInfo, NODE_V4_LEN, NODE_V6_LEN};
use crate::id::NodeId;

/// The most nodes a saved state holds (and that [`SavedState::decode`] reads): a full routing
/// table of 160 buckets of 8, twice over for both families, is far less in practice.
pub const MAX_SAVED_NODES: usize = 2_000;

/// What a node saves to rejoin the DHT later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedState {
    /// The node's id, kept so its routing table keeps its shape.
    pub id: NodeId,
    /// The routing table's nodes (IPv4 and IPv6 mixed).
    pub nodes: Vec<NodeInfo>,
}

/// Why a saved state could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StateError {
    /// The bytes are not a bencoded dictionary.
    NotADictionary,
    /// The `id` key is missing or not 20 bytes.
    BadId,
    /// The `nodes` or `nodes6` key is not a whole number of compact nodes.
    BadNodes {
        /// Which key.
        key: &'static str,
    },
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateError::NotADictionary => f.write_str("dht state: not a bencoded dictionary"),
            StateError::BadId => f.write_str("dht state: `id` is missing or not 20 bytes"),
            StateError::BadNodes { key } => {
                write!(f, "dht state: `{key}` is not a list of compact nodes")
            }
        }
    }
}

impl std::error::Error for StateError {}

impl SavedState {
    /// The bencoded form.
    pub fn encode(&self) -> Vec<u8> {
        let (mut v4, mut v6) = (Vec::new(), Vec::new());
        for node in self.nodes.iter().take(MAX_SAVED_NODES) {
            put_node(
                node,
                if node.addr.is_ipv4() {
                    &mut v4
                } else {
                    &mut v6
                },
            );
        }
        let mut top = Dict::new();
        top.insert(b"id", Value::Bytes(&self.id.0));
        top.insert(b"nodes", Value::Bytes(&v4));
        if !v6.is_empty() {
            top.insert(b"nodes6", Value::Bytes(&v6));
        }
        encode(&Value::Dict(top))
    }

    /// Reads what [`encode`](SavedState::encode) wrote; nodes past [`MAX_SAVED_NODES`] are
    /// ignored.
    pub fn decode(bytes: &[u8]) -> Result<SavedState, StateError> {
        let value = decode(bytes).map_err(|_| StateError::NotADictionary)?;
        let dict = value.as_dict().ok_or(StateError::NotADictionary)?;
        let id = dict
            .get(b"id")
            .and_then(Value::as_bytes)
            .and_then(NodeId::from_slice)
            .ok_or(StateError::BadId)?;
        let mut nodes = Vec::new();
        for (key, v6, len) in [("nodes", false, NODE_V4_LEN), ("nodes6", true, NODE_V6_LEN)] {
            let Some(value) = dict.get(key.as_bytes()) else {
                continue;
            };
            let bytes = value.as_bytes().ok_or(StateError::BadNodes { key })?;
            let room = MAX_SAVED_NODES.saturating_sub(nodes.len()) * len;
            let bytes = &bytes[..bytes.len().min(room)];
            nodes.extend(parse_nodes(bytes, v6).ok_or(StateError::BadNodes { key })?);
        }
        Ok(SavedState { id, nodes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_both_families() {
        let state = SavedState {
            id: NodeId([7; 20]),
            nodes: vec![
                NodeInfo {
                    id: NodeId([1; 20]),
                    addr: "127.0.0.1:6881".parse().unwrap(),
                },
                NodeInfo {
                    id: NodeId([2; 20]),
                    addr: "[::1]:6882".parse().unwrap(),
                },
            ],
        };
        assert_eq!(SavedState::decode(&state.encode()), Ok(state));
    }

    #[test]
    fn bad_files_are_named_errors() {
        assert_eq!(
            SavedState::decode(b"garbage"),
            Err(StateError::NotADictionary)
        );
        assert_eq!(SavedState::decode(b"d2:id3:abce"), Err(StateError::BadId));
        let bad = b"d2:id20:aaaaaaaaaaaaaaaaaaaa5:nodes3:abce";
        assert_eq!(
            SavedState::decode(bad),
            Err(StateError::BadNodes { key: "nodes" })
        );
    }
}
