//! What a [`Torrent`] asks its driver to do ([`Action`]), storage work among it ([`DiskJob`]).

use std::net::SocketAddr;

use bytes::Bytes;

#[cfg(doc)]
use super::Torrent;
use crate::connection::CloseReason;
use crate::{BlockRequest, ConnId};

/// What a [`Torrent`] asks its driver to do.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// Dial this peer, then report with [`Torrent::handle_connected`] or
    /// [`Torrent::handle_connect_failed`].
    Connect {
        /// The connection's id, if the dial succeeds.
        conn: ConnId,
        /// The peer's address.
        addr: SocketAddr,
    },
    /// Storage work, performed in the order given.
    Disk(DiskJob),
    /// Close the connection's socket; the torrent has forgotten it.
    Close {
        /// The connection.
        conn: ConnId,
        /// Why.
        reason: CloseReason,
    },
    /// The peer sent bad data too often and its address is banned (the torrent refuses and
    /// never dials it again); a [`Action::Close`] for the connection follows.
    Ban {
        /// The connection.
        conn: ConnId,
    },
    /// A message of the peer's was dropped (a malformed or unknown extension message, a PEX
    /// message over its bounds): nothing to do but say why, which the driver logs.
    Ignored {
        /// The connection.
        conn: ConnId,
        /// What was dropped and why.
        why: String,
    },
    /// A peer named its DHT node (BEP 5 `port`): add it to the DHT's routing table. Only
    /// given when the torrent runs a DHT ([`ConnectionConfig::dht_port`](crate::ConnectionConfig::dht_port)).
    DhtNode(SocketAddr),
    /// A block of a failed piece was found bad against the Merkle tree (v2 and hybrid
    /// torrents): its sender is struck and only that block is fetched again; the driver logs it.
    BadBlock {
        /// Who sent it.
        conn: ConnId,
        /// Its address, as it was when the piece failed (the peer may be gone since).
        addr: Option<SocketAddr>,
        /// The piece.
        piece: u32,
        /// The block's offset in the piece.
        offset: u32,
    },
    /// A peer's leaf hashes for a failed piece did not hash to the trusted piece hash: it is
    /// struck (forged leaves); the driver logs it.
    ForgedHashes {
        /// Who sent them.
        conn: ConnId,
        /// The piece asked about.
        piece: u32,
    },
    /// A piece passed its hash check.
    PieceVerified(u32),
    /// Every piece is verified: the download is complete (a [`DiskJob::Flush`] came just
    /// before).
    Completed,
}

/// Storage work a [`Torrent`] asks for ([`Action::Disk`]); a disk thread takes these as they
/// are and performs them in order.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DiskJob {
    /// Write a received block to storage (in order: before any later `Verify` of its piece).
    Write {
        /// Piece index.
        piece: u32,
        /// Offset in the piece.
        offset: u32,
        /// The block, sharing the buffer it was received in.
        data: Bytes,
    },
    /// Read a block for a peer and pass it to [`Torrent::handle_read`].
    Read {
        /// The peer.
        conn: ConnId,
        /// The block.
        request: BlockRequest,
    },
    /// Hash a completed piece (off the network threads) and report with
    /// [`Torrent::handle_verified`].
    Verify {
        /// Piece index.
        piece: u32,
    },
    /// Read the first `len` bytes of a failed piece (its file data) and report the SHA-256 of
    /// each 16 KiB block with [`Torrent::handle_piece_leaves`] (in order: after its writes).
    PieceLeaves {
        /// Piece index.
        piece: u32,
        /// Bytes of file data in the piece.
        len: u32,
    },
    /// Read these pieces' file data and SHA-256 each 16 KiB block (the last one of a file may be
    /// short), then pass the hashes, one list per piece, to [`Torrent::handle_block_hashes`]:
    /// the leaf hashes a peer's BEP 52 hash request asked for.
    HashBlocks {
        /// The peer.
        conn: ConnId,
        /// Its request, handed back.
        request: torrentkit_wire::HashRequest,
        /// Each piece and the bytes of file data in it.
        pieces: Vec<(u32, u32)>,
    },
    /// Make everything written so far durable (the download just completed; a driver also
    /// sends one before it reports its verified pieces).
    Flush,
}
