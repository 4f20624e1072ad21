//! BitTorrent metainfo (.torrent) files and magnet links.
//!
//! **Not implemented yet**: this crate reserves its name and place in the workspace and exports
//! nothing. See its README for what it will hold.
