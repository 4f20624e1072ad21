//! The integration tests of torrentkit-dht, one binary: the virtual network, simulations of
//! whole DHTs on it, single-node behaviour on bad input and floods, and the tokio driver.

#[cfg(feature = "tokio")]
mod driver;
mod net;
mod node;
mod simulation;
