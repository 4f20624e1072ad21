//! The tokio side of web seeds: each [`WebFetch`] the torrent hands out runs as a task on the
//! workspace's HTTP client (one pooled client per session), and its result comes back to the
//! driver loop as a [`WebDone`].

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::http::{self, Client};
use crate::webseed::fetch::{fetch, Target};
use crate::webseed::{WebFetch, WebSeedConfig, WebSeedKind};
use crate::Torrent;

/// A finished fetch.
pub(super) struct WebDone {
    pub(super) job: WebFetch,
    pub(super) result: Result<Bytes, String>,
}

/// Starts the fetches of one session's web seeds.
pub(super) struct WebRunner {
    client: Client,
    target: Arc<Target>,
    tx: mpsc::UnboundedSender<WebDone>,
}

impl WebRunner {
    /// Adds `config`'s seeds to `torrent`; `None` when there are none (or no layout).
    pub(super) fn new(
        config: &WebSeedConfig,
        info_hash: [u8; 20],
        torrent: &mut Torrent,
    ) -> Option<(WebRunner, mpsc::UnboundedReceiver<WebDone>)> {
        let layout = config.layout.clone()?;
        if config.urls.is_empty() && config.http_seeds.is_empty() {
            return None;
        }
        // The process's client configuration (roots, --ca-cert), with a pool of its own.
        let client = Client::new(&http::current_config()).ok()?;
        for url in &config.urls {
            torrent.add_web_seed(url.clone(), WebSeedKind::Url);
        }
        for url in &config.http_seeds {
            torrent.add_web_seed(url.clone(), WebSeedKind::Http);
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let target = Arc::new(Target {
            layout,
            multi_file: config.multi_file,
            info_hash,
        });
        Some((WebRunner { client, target, tx }, rx))
    }

    /// Starts every fetch the torrent has for its web seeds now.
    pub(super) fn start(&self, torrent: &mut Torrent) {
        while let Some(job) = torrent.poll_web_fetch(std::time::Instant::now()) {
            let (client, target, tx) = (self.client.clone(), self.target.clone(), self.tx.clone());
            tokio::spawn(async move {
                let result = fetch(&client, &target, &job).await;
                let _ = tx.send(WebDone { job, result });
            });
        }
    }
}

/// Hands a finished fetch to the torrent.
pub(super) fn finish(torrent: &mut Torrent, done: WebDone) {
    let now = std::time::Instant::now();
    let WebDone { job, result } = done;
    match result {
        Ok(data) => torrent.handle_web_data(now, job.seed, job.piece, job.offset, data),
        Err(why) => torrent.handle_web_failed(now, job.seed, job.piece, why),
    }
}
