//! `bt download MAGNET` (and `bt open MAGNET`): the metadata first, fetched from the link's
//! peers and trackers with the engine's [`fetch_metadata`] unless a previous run kept it, then
//! the download as for a `.torrent`. The metadata is kept as `.HASH.bt-metadata.torrent` in
//! the download directory, beside the resume file, so a restart (even after SIGKILL) does not
//! fetch it again; `--save-torrent` also writes it where the user asks.
//!
//! A v2-only link (`urn:btmh:` alone) works the same: its metadata is checked by SHA-256 and its
//! piece layers come from peers (BEP 52 hash requests) before the download; the kept torrent
//! carries them, so a restart fetches neither again.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use torrentkit_metainfo::{Magnet, Torrent};
use torrentkit_peer::session::{fetch_metadata, MagnetConfig, Progress};
use torrentkit_peer::PeerSource;

use super::transfer::{self, NetArgs};

/// Whether `source` is a magnet link rather than a path or URL.
pub(crate) fn is_magnet(source: &str) -> bool {
    source
        .get(..7)
        .is_some_and(|p| p.eq_ignore_ascii_case("magnet:"))
}

/// Where the metadata of `hash` is kept for the download into `dir`.
pub(crate) fn kept_path(dir: &Path, hash: &str) -> PathBuf {
    dir.join(format!(".{hash}.bt-metadata.torrent"))
}

/// The torrent of `link`: the one kept in `dir` by an earlier run, or fetched now (and kept).
/// Also returns the link's `x.pe` peers, resolved.
pub(crate) fn resolve(
    link: &str,
    dir: &Path,
    net: &NetArgs,
    max_metadata_size: u64,
    save_torrent: Option<&Path>,
) -> anyhow::Result<(Torrent, Vec<SocketAddr>)> {
    let magnet = Magnet::parse(link).context("reading the magnet link")?;
    let hex = magnet.info_hash.to_hex();
    let label = magnet.name.clone().unwrap_or_else(|| hex.clone());
    let (peer_id, seed) = transfer::identity();
    let mut mc = MagnetConfig::from_magnet(&magnet, peer_id.0, seed);
    for p in &magnet.peers {
        if !mc.peers.iter().any(|(a, _)| a.to_string() == *p) {
            eprintln!("bt: warning: {label}: x.pe={p} does not resolve; skipped");
        }
    }
    let hints: Vec<SocketAddr> = mc.peers.iter().map(|(a, _)| *a).collect();
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let kept = kept_path(dir, &hex);
    let torrent = match Torrent::read(&kept) {
        Ok(t) if t.info_hash() == magnet.info_hash => {
            eprintln!(
                "bt: {label}: metadata from {} (not fetched again)",
                kept.display()
            );
            t
        }
        _ => {
            mc.max_metadata_size = max_metadata_size;
            mc.encryption = net.encryption;
            mc.peers.extend(
                net.peer_addrs()?
                    .into_iter()
                    .map(|a| (a, PeerSource::Manual)),
            );
            if mc.peers.is_empty() && mc.trackers.is_empty() && net.no_dht {
                bail!("{label}: the magnet link names no tracker and no peer (x.pe), and --no-dht is given; give a peer with --peer HOST:PORT");
            }
            let t = fetch(&mut mc, &label, net, seed)?;
            t.write_atomic(&kept)
                .with_context(|| format!("keeping the metadata in {}", kept.display()))?;
            t
        }
    };
    if let Some(path) = save_torrent {
        torrent
            .write_atomic(path)
            .with_context(|| format!("--save-torrent {}", path.display()))?;
        eprintln!("bt: {label}: saved the torrent as {}", path.display());
    }
    // BEP 27: a private torrent's peers come from its trackers alone.
    let hints = if torrent.info().is_private() {
        Vec::new()
    } else {
        hints
    };
    Ok((torrent, hints))
}

/// Fetches the metadata, printing "fetching metadata" lines; Ctrl-C or SIGTERM gives up.
/// Unless `--no-dht`, a DHT node finds peers too; its table is saved when the fetch ends, so
/// the download that follows starts from it.
fn fetch(mc: &mut MagnetConfig, label: &str, net: &NetArgs, seed: u64) -> anyhow::Result<Torrent> {
    let interval = net.status_interval;
    let started = std::time::Instant::now();
    transfer::runtime()?.block_on(async {
        // A magnet link does not say whether the torrent is private: the DHT is used until the
        // metadata says so, as libtorrent does.
        let udp = net.start_udp(net.port, false, &[], seed).await;
        let dht = udp.dht();
        mc.dht = dht.map(|d| d.dht());
        // The metadata peers are dialled over the transports the download will use.
        mc.transport = net.transport;
        mc.utp = udp.utp();
        let result = fetch_with_progress(mc, label, interval, started).await;
        if let Some(d) = &dht {
            d.save().await;
        }
        result
    })
}

async fn fetch_with_progress(
    mc: &MagnetConfig,
    label: &str,
    interval: f64,
    started: std::time::Instant,
) -> anyhow::Result<Torrent> {
    {
        let (tx, mut rx) = tokio::sync::watch::channel(Progress::default());
        let fetch = fetch_metadata(mc, None, &tx);
        tokio::pin!(fetch);
        let signal =
            |kind| tokio::signal::unix::signal(kind).context("installing a signal handler");
        let mut sigint = signal(tokio::signal::unix::SignalKind::interrupt())?;
        let mut sigterm = signal(tokio::signal::unix::SignalKind::terminate())?;
        let mut tick = tokio::time::interval(Duration::from_secs_f64(interval.clamp(0.05, 3600.0)));
        loop {
            tokio::select! {
                r = &mut fetch => {
                    let t = r.with_context(|| format!("{label}: fetching the metadata"))?;
                    eprintln!(
                        "bt: {label}: metadata fetched ({} bytes) in {:.3}s",
                        t.info().raw().len(),
                        started.elapsed().as_secs_f64()
                    );
                    return Ok(t);
                }
                _ = sigint.recv() => bail!("{label}: interrupted while fetching the metadata"),
                _ = sigterm.recv() => bail!("{label}: interrupted while fetching the metadata"),
                _ = tick.tick() => {
                    let m = rx.borrow_and_update().metadata.unwrap_or_default();
                    eprintln!(
                        "bt: {label}: fetching metadata: {} peers asked, {} connected, {}/{} pieces",
                        m.peers_asked, m.connections, m.pieces, m.of
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magnets_are_told_from_paths() {
        assert!(is_magnet("magnet:?xt=urn:btih:00"));
        assert!(is_magnet("MAGNET:?xt"));
        assert!(!is_magnet("magnet.torrent"));
        assert!(!is_magnet("m"));
    }

    #[test]
    fn v2_only_links_are_taken_and_sourceless_links_refused_clearly() {
        let mut net = NetArgs::listening_on([127, 0, 0, 1].into(), 0);
        net.no_dht = true;
        let dir = tempfile::tempdir().unwrap();
        let hash = "a".repeat(64);
        // A v2-only link is no longer refused as such: it gets as far as needing a peer.
        let e = resolve(
            &format!("magnet:?xt=urn:btmh:1220{hash}"),
            dir.path(),
            &net,
            1 << 20,
            None,
        )
        .unwrap_err();
        assert!(
            format!("{e:#}").contains("names no tracker and no peer"),
            "{e:#}"
        );
        assert!(!format!("{e:#}").contains("v2-only"), "{e:#}");
        let e = resolve(
            &format!("magnet:?xt=urn:btih:{}", "0".repeat(40)),
            dir.path(),
            &net,
            1 << 20,
            None,
        )
        .unwrap_err();
        assert!(
            format!("{e:#}").contains("names no tracker and no peer"),
            "{e:#}"
        );
    }
}
