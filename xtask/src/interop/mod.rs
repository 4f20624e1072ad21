//! `cargo xtask interop`: cases that prove torrentkit against real BitTorrent programs.

pub(crate) fn run(_args: &[String]) -> anyhow::Result<()> {
    anyhow::bail!("`cargo xtask interop` is not written yet")
}
