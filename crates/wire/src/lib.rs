//! The BitTorrent peer wire protocol as a sans-IO codec.
//!
//! **Not implemented yet**: this crate reserves its name and place in the workspace and exports
//! nothing. See its README for what it will hold.
