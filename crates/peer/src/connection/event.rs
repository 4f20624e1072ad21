//! What a connection reports to its torrent ([`ConnEvent`]) and why it closed ([`CloseReason`]).

use std::fmt;

use torrentkit_wire::PeerId;

use crate::{Bitfield, BlockRequest};

/// Why a connection closed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// The peer's handshake names another torrent.
    InfoHashMismatch,
    /// The peer is ourselves (same peer id).
    SelfConnection,
    /// The peer broke the protocol; the text says how.
    Protocol(String),
    /// A timer ran out; the text says which.
    Timeout(&'static str),
    /// We closed it ([`Connection::close`]).
    Local,
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::InfoHashMismatch => f.write_str("peer handshake is for another torrent"),
            CloseReason::SelfConnection => f.write_str("connected to ourselves"),
            CloseReason::Protocol(m) => write!(f, "protocol error: {m}"),
            CloseReason::Timeout(what) => write!(f, "timed out: {what}"),
            CloseReason::Local => f.write_str("closed locally"),
        }
    }
}

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
        /// The data.
        data: Vec<u8>,
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
    /// The connection is closed; drop the socket.
    Closed(CloseReason),
}
