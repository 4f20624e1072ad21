//! The DHT task of a session: looks up the torrent's peers in the mainline DHT and announces
//! us, again and again, handing the peers found to the session as [`PeerSource::Dht`].
//!
//! A session gets one only with a DHT node ([`SessionConfig::dht`]) and only for a public
//! torrent: **private torrents never touch the DHT** (BEP 27), and this file is where that is
//! decided ([`dht_for`]).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use torrentkit_dht::{Dht, NodeId, SearchEvent};

use super::{Command, Progress, SessionConfig};
use crate::PeerSource;

/// How often a torrent is announced once the DHT answers (libtorrent's `dht_announce_interval`).
pub const DHT_ANNOUNCE_INTERVAL: Duration = Duration::from_secs(15 * 60);
/// How soon a download that found no peer looks again.
const RETRY_NO_PEERS: Duration = Duration::from_secs(60);
/// The first wait while the routing table is still empty (the node is joining); it doubles
/// up to [`RETRY_NO_PEERS`].
const RETRY_NOT_JOINED: Duration = Duration::from_millis(500);

/// The DHT node a session with `config` may use: none for a private torrent.
pub(super) fn dht_for(config: &SessionConfig) -> Option<Arc<Dht>> {
    config.dht.clone().filter(|_| !config.private)
}

/// The running lookups of one session; dropping it (or [`stop`](Task::stop)) ends them.
pub(super) struct Task(Option<tokio::task::JoinHandle<()>>);

impl Task {
    /// Starts looking up `info_hash` in `dht` (none: nothing) and announcing `listen_port`,
    /// with `implied_port` when the DHT's UDP port is that port (uTP shares it, and a NAT
    /// maps both alike).
    pub(super) fn spawn(
        dht: Option<Arc<Dht>>,
        info_hash: [u8; 20],
        listen_port: u16,
        progress: watch::Receiver<Progress>,
        commands: mpsc::UnboundedSender<Command>,
    ) -> Task {
        Task(
            dht.map(|dht| {
                tokio::spawn(run(dht, NodeId(info_hash), listen_port, progress, commands))
            }),
        )
    }

    /// Ends the lookups (the DHT forgets announces by itself after 30 minutes).
    pub(super) fn stop(mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
        }
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
        }
    }
}

async fn run(
    dht: Arc<Dht>,
    info_hash: NodeId,
    listen_port: u16,
    mut progress: watch::Receiver<Progress>,
    commands: mpsc::UnboundedSender<Command>,
) {
    let implied_port = dht.local_addr().port() == listen_port;
    let mut not_joined = RETRY_NOT_JOINED;
    loop {
        // No announces while paused: the swarm forgets us, as for trackers.
        if progress.borrow().paused && progress.wait_for(|p| !p.paused).await.is_err() {
            return;
        }
        let Ok(mut events) = dht.search(info_hash, Some((listen_port, implied_port))) else {
            return;
        };
        let (mut found, mut nodes) = (0usize, 0usize);
        while let Some(event) = events.recv().await {
            match event {
                SearchEvent::Peers(peers) => {
                    found += peers.len();
                    for peer in peers {
                        if commands
                            .send(Command::ConnectFrom(peer, PeerSource::Dht))
                            .is_err()
                        {
                            return;
                        }
                    }
                }
                SearchEvent::Done { nodes: n } => nodes = n,
                SearchEvent::Announced { acknowledged } => {
                    log::debug!("dht: announced to {acknowledged} nodes, {found} peers found");
                }
                _ => {}
            }
        }
        let wait = if nodes == 0 {
            let wait = not_joined;
            not_joined = (not_joined * 2).min(RETRY_NO_PEERS);
            wait
        } else if found == 0 && !progress.borrow().complete {
            RETRY_NO_PEERS
        } else {
            DHT_ANNOUNCE_INTERVAL
        };
        if nodes > 0 {
            not_joined = RETRY_NOT_JOINED;
        }
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TorrentConfig;

    /// BEP 27: a private torrent's session gets no DHT, whatever it was handed.
    #[tokio::test]
    async fn private_torrents_never_get_the_dht() {
        let dht = Dht::bind(
            "127.0.0.1:0".parse().unwrap(),
            torrentkit_dht::Config::default(),
        )
        .await
        .unwrap();
        let tc = TorrentConfig::new([1; 20], [2; 20], 100, 16_384, 0);
        let mut config = SessionConfig::new(tc, vec![[0; 20]]);
        config.dht = Some(Arc::new(dht));
        assert!(dht_for(&config).is_some());
        config.private = true;
        assert!(dht_for(&config).is_none());
    }
}
