//! What a connection reports to its torrent ([`ConnEvent`]).

use bytes::Bytes;
use torrentkit_wire::{HashRequest, PeerId, PexMessage};

use super::CloseReason;
#[cfg(doc)]
use super::Connection;
use crate::{Bitfield, BlockRequest};

/// What a [`Connection`] reports to the torrent.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnEvent {
    /// The handshake completed.
    Connected {
        /// The peer's id.
        peer_id: PeerId,
        /// Both sides support the fast extension (BEP 6).
        fast: bool,
        /// Both sides support the extension protocol (BEP 10).
        extensions: bool,
    },
    /// The peer's extension handshake.
    ExtensionHandshake {
        /// Its client name (`v`).
        client: Option<String>,
        /// Its request queue size (`reqq`).
        reqq: Option<u32>,
        /// Its listen port (`p`).
        listen_port: Option<u16>,
    },
    /// What the peer's extension handshake says of BEP 9 and 11 (right after
    /// [`ConnEvent::ExtensionHandshake`]).
    Extensions {
        /// It takes ut_metadata.
        ut_metadata: bool,
        /// It takes ut_pex.
        ut_pex: bool,
        /// The size of the `info` dictionary it has (`metadata_size`).
        metadata_size: Option<u64>,
    },
    /// A metadata piece arrived (ut_metadata `data`); its length matches `total_size`.
    MetadataPiece {
        /// The piece.
        piece: u32,
        /// The whole metadata's size as the peer gives it.
        total_size: u64,
        /// The bytes, a slice of the received buffer.
        data: Bytes,
    },
    /// The peer rejected our request for this metadata piece.
    MetadataRejected(u32),
    /// A ut_pex message (not yet bounded: the torrent takes what it wants of it).
    Pex(PexMessage),
    /// An extension message was malformed or unknown and dropped; the text says why.
    ExtensionIgnored(String),
    /// The peer's bitfield.
    Bitfield(Bitfield),
    /// The peer has every piece (BEP 6).
    HaveAll,
    /// The peer has no piece (BEP 6).
    HaveNone,
    /// The peer completed a piece.
    Have(u32),
    /// The peer became interested (`true`) or not.
    PeerInterested(bool),
    /// The peer choked us.
    Choked,
    /// The peer unchoked us: requests may go out ([`Connection::request_slots`]).
    Unchoked,
    /// A block arrived. Hand it to the picker and write it through.
    Block {
        /// Piece index.
        piece: u32,
        /// Offset in the piece.
        offset: u32,
        /// The data: a slice of the buffer given to
        /// [`Connection::handle_bytes`](super::Connection::handle_bytes), not a copy.
        data: Bytes,
        /// Whether we had requested it (false: late, after a cancel or timeout).
        requested: bool,
    },
    /// The peer rejected one of our requests (BEP 6): give it back to the picker.
    Rejected(BlockRequest),
    /// These requests will not be answered (the peer choked us without the fast extension, or
    /// they timed out): give them back to the picker.
    Released(Vec<BlockRequest>),
    /// The peer stopped sending blocks; it now gets one request at a time.
    Snubbed,
    /// The peer wants this block: read it and pass it to [`Connection::send_block`].
    ReadBlock(BlockRequest),
    /// The peer lets us request this piece while choked (BEP 6).
    AllowedFast(u32),
    /// The peer suggests this piece (BEP 6).
    Suggest(u32),
    /// The peer's DHT node listens on this UDP port (a BEP 5 `port` message).
    DhtPort(u16),
    /// The peer asks for hashes of a file's Merkle tree (BEP 52): answer with
    /// [`Connection::send_hashes`] or [`Connection::send_hash_reject`].
    HashRequest(HashRequest),
    /// Hashes the peer sent (BEP 52), as the wire gave them: `length` base hashes then
    /// [`HashRequest::uncle_count`] uncles. Not yet checked against anything.
    Hashes {
        /// The request they answer (as the peer echoes it).
        request: HashRequest,
        /// The base hashes, then the uncles, nearest first.
        hashes: Vec<[u8; 32]>,
    },
    /// The peer refused a hash request of ours (BEP 52 `hash reject`).
    HashRejected(HashRequest),
    /// The connection is closed; drop the socket.
    Closed(CloseReason),
}
