//! The build system: `cargo xtask ci | interop | bench`.
fn main() {}
