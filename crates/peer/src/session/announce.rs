//! The announce task: runs the [`Announcer`] schedule against real trackers and hands the
//! peers it learns to the session.

use std::time::Instant;

use tokio::sync::{mpsc, watch};
use torrentkit_metainfo::InfoHash;
use torrentkit_wire::PeerId;

use super::{Command, Progress, SessionConfig};
use crate::tracker::{AnnounceRequest, Announcer, TrackerClient};

/// The announce task of a session (none without trackers), stopped with [`Task::stop`].
pub(super) struct Task {
    stop: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Task {
    /// Starts announcing `config`'s trackers; the peers they name go to `commands`.
    pub(super) fn spawn(
        config: SessionConfig,
        progress: watch::Receiver<Progress>,
        commands: mpsc::UnboundedSender<Command>,
    ) -> Task {
        let (stop, stop_rx) = watch::channel(false);
        let task = (!config.trackers.is_empty())
            .then(|| tokio::spawn(run(config, progress, commands, stop_rx)));
        Task { stop, task }
    }

    /// Ends it: the `stopped` announce gets a few seconds, never more.
    pub(super) async fn stop(self) {
        let _ = self.stop.send(true);
        if let Some(mut task) = self.task {
            if tokio::time::timeout(std::time::Duration::from_secs(5), &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
    }
}

pub(super) async fn run(
    config: SessionConfig,
    mut progress: watch::Receiver<Progress>,
    commands: mpsc::UnboundedSender<Command>,
    mut stop: watch::Receiver<bool>,
) {
    let seed = config.torrent.seed;
    let mut was_complete = progress.borrow().complete;
    // One announcer per active stretch: a pause ends it with `stopped` (the swarm forgets us,
    // as libtorrent does), a resume begins a new one with `started`.
    for round in 0u64.. {
        let ended = announce_until_stopped(
            &config,
            seed ^ round.wrapping_mul(0x9E37_79B9),
            &mut progress,
            &commands,
            &mut stop,
            &mut was_complete,
        )
        .await;
        if ended {
            return;
        }
        // Paused: wait for a resume, or for the end.
        loop {
            tokio::select! {
                _ = stop.changed() => return,
                changed = progress.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    if !progress.borrow().paused {
                        break;
                    }
                }
            }
            if *stop.borrow() {
                return;
            }
        }
    }
}

/// Announces from `started` to `stopped`; true when the session ends (false: it was paused).
async fn announce_until_stopped(
    config: &SessionConfig,
    seed: u64,
    progress: &mut watch::Receiver<Progress>,
    commands: &mpsc::UnboundedSender<Command>,
    stop: &mut watch::Receiver<bool>,
    was_complete: &mut bool,
) -> bool {
    let mut announcer = Announcer::new(
        config.trackers.clone(),
        config.announcer.clone(),
        seed ^ 0xA11,
    );
    /// How long a `stopped` announce may take.
    const STOPPED_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);
    let mut client = TrackerClient::new(config.tracker_client.clone(), seed ^ 0xC11);
    let mut request = AnnounceRequest::new(
        InfoHash(config.torrent.info_hash),
        PeerId(config.torrent.peer_id),
        config.listen_port,
        config.torrent.total_length,
    );
    request.key = Some((config.torrent.seed as u32) ^ 0x5A5A_5A5A);
    request.numwant = Some(50);
    request.ip = config.announce_ip;
    (request.supportcrypto, request.requirecrypto) = config.encryption.announces();
    let mut stopping = false;
    let mut ending = false;
    loop {
        let now = Instant::now();
        if *stop.borrow() && !ending {
            ending = true;
            if !stopping {
                stopping = true;
                announcer.stop(now);
            }
        }
        if progress.borrow().paused && !stopping {
            stopping = true;
            announcer.stop(now);
        }
        let complete = progress.borrow().complete;
        if complete && !*was_complete {
            announcer.completed(now);
        }
        *was_complete = complete;
        if announcer.is_done() {
            return ending;
        }
        if let Some(job) = announcer.poll_announce(now) {
            {
                let p = progress.borrow();
                request.uploaded = p.uploaded;
                request.downloaded = p.downloaded;
                request.left = Some(p.bytes_left);
            }
            request.event = job.event;
            request.tracker_id = job.tracker_id;
            // The goodbye does not wait out BEP 15's long retransmissions.
            let reply = if stopping {
                tokio::time::timeout(STOPPED_TIMEOUT, client.announce(&job.url, &request))
                    .await
                    .unwrap_or(Err(crate::tracker::TrackerError::Timeout))
            } else {
                client.announce(&job.url, &request).await
            };
            match reply {
                Ok(resp) => {
                    announcer.handle_success(Instant::now(), &resp);
                    if !stopping {
                        for peer in resp.peers {
                            let _ = commands
                                .send(Command::ConnectFrom(peer, crate::PeerSource::Tracker));
                        }
                    }
                }
                Err(_) => announcer.handle_failure(Instant::now()),
            }
            continue;
        }
        let wake = announcer.poll_timeout().map(tokio::time::Instant::from_std);
        tokio::select! {
            _ = stop.changed(), if !ending => {}
            changed = progress.changed() => {
                if changed.is_err() && !ending {
                    // The session is gone: say goodbye.
                    ending = true;
                    if !stopping {
                        stopping = true;
                        announcer.stop(Instant::now());
                    }
                }
            }
            () = async {
                match wake {
                    Some(w) => tokio::time::sleep_until(w).await,
                    None => std::future::pending().await,
                }
            } => {}
        }
    }
}
