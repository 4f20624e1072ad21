//! `bt`: the torrentkit command line.
fn main() {}
