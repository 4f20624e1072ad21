//! Inputs and per-crate operations shared by the benchmarks in `benches/`, kept in a library so
//! that the checks run before measuring (and by `cargo test`) exercise exactly what is measured.

pub mod bencode;
pub mod clock;
pub mod wire;
