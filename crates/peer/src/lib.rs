//! The BitTorrent peer engine.
//!
//! **Not implemented yet**: this crate reserves its name and place in the workspace and exports
//! nothing. See its README for what it will hold.
