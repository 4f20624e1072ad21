//! The serde structs every crate decodes into and encodes from: a borrowed and an owned shape of
//! the same two documents, fields declared in sorted key order as a bencode user would write them.

use std::fmt::Debug;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

/// A document's owned struct, tied to the borrowed struct of the same shape.
pub trait Document: DeserializeOwned + Serialize + PartialEq + Debug {
    /// The same fields, borrowing byte strings and strings from the input.
    type Borrowed<'a>: Deserialize<'a> + Serialize;
}

impl Document for TorrentOwned {
    type Borrowed<'a> = Torrent<'a>;
}

impl Document for ReplyOwned {
    type Borrowed<'a> = Reply<'a>;
}

/// A multi-file `.torrent` whose strings borrow from the input.
#[derive(Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct Torrent<'a> {
    /// The primary tracker.
    pub announce: &'a str,
    /// Tiers of trackers (BEP 12).
    #[serde(rename = "announce-list", borrow)]
    pub announce_list: Vec<Vec<&'a str>>,
    /// Free text.
    pub comment: &'a str,
    /// The program that made the file.
    #[serde(rename = "created by")]
    pub created_by: &'a str,
    /// Seconds since the Unix epoch.
    #[serde(rename = "creation date")]
    pub creation_date: i64,
    /// The info dictionary.
    #[serde(borrow)]
    pub info: Info<'a>,
}

/// The info dictionary of a multi-file torrent, borrowed.
#[derive(Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct Info<'a> {
    /// The files, in order.
    #[serde(borrow)]
    pub files: Vec<File<'a>>,
    /// The name of the top directory.
    pub name: &'a str,
    /// Bytes per piece.
    #[serde(rename = "piece length")]
    pub piece_length: u64,
    /// The SHA-1 of every piece, concatenated.
    #[serde(with = "serde_bytes")]
    pub pieces: &'a [u8],
}

/// One file of a multi-file torrent, borrowed.
#[derive(Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct File<'a> {
    /// Its size in bytes.
    pub length: u64,
    /// Its path components.
    #[serde(borrow)]
    pub path: Vec<&'a str>,
}

/// [`Torrent`] with owned fields.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct TorrentOwned {
    /// The primary tracker.
    pub announce: String,
    /// Tiers of trackers (BEP 12).
    #[serde(rename = "announce-list")]
    pub announce_list: Vec<Vec<String>>,
    /// Free text.
    pub comment: String,
    /// The program that made the file.
    #[serde(rename = "created by")]
    pub created_by: String,
    /// Seconds since the Unix epoch.
    #[serde(rename = "creation date")]
    pub creation_date: i64,
    /// The info dictionary.
    pub info: InfoOwned,
}

/// [`Info`] with owned fields.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct InfoOwned {
    /// The files, in order.
    pub files: Vec<FileOwned>,
    /// The name of the top directory.
    pub name: String,
    /// Bytes per piece.
    #[serde(rename = "piece length")]
    pub piece_length: u64,
    /// The SHA-1 of every piece, concatenated.
    pub pieces: ByteBuf,
}

/// [`File`] with owned fields.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct FileOwned {
    /// Its size in bytes.
    pub length: u64,
    /// Its path components.
    pub path: Vec<String>,
}

/// A tracker announce reply with peers in dictionary form (BEP 3), borrowed.
#[derive(Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct Reply<'a> {
    /// Seeders.
    pub complete: i64,
    /// Leechers.
    pub incomplete: i64,
    /// Seconds until the next announce.
    pub interval: i64,
    /// The peers.
    #[serde(borrow)]
    pub peers: Vec<Peer<'a>>,
}

/// One peer of a [`Reply`], borrowed.
#[derive(Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct Peer<'a> {
    /// An IPv4 or IPv6 address as text.
    pub ip: &'a str,
    /// The 20-byte peer id, not necessarily UTF-8.
    #[serde(rename = "peer id", with = "serde_bytes")]
    pub peer_id: &'a [u8],
    /// The TCP port.
    pub port: u16,
}

/// [`Reply`] with owned fields.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct ReplyOwned {
    /// Seeders.
    pub complete: i64,
    /// Leechers.
    pub incomplete: i64,
    /// Seconds until the next announce.
    pub interval: i64,
    /// The peers.
    pub peers: Vec<PeerOwned>,
}

/// [`Peer`] with owned fields.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct PeerOwned {
    /// An IPv4 or IPv6 address as text.
    pub ip: String,
    /// The 20-byte peer id, not necessarily UTF-8.
    #[serde(rename = "peer id")]
    pub peer_id: ByteBuf,
    /// The TCP port.
    pub port: u16,
}
