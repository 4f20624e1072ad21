//! `cargo xtask bench`: benchmarks against reference programs, measured in one run.

pub(crate) fn run(_args: &[String]) -> anyhow::Result<()> {
    anyhow::bail!("`cargo xtask bench` is not written yet")
}
