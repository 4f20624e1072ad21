//! Running a tracker: [`serve`] and [`Tracker::serve`] put the HTTP router, the UDP service and
//! the timers (peer expiry, dfile saves, allowed-directory rescans) on a Tokio runtime. Part of the
//! serving shell: the clock is read here and passed to the core.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::config::{Config, UdpBind};
use crate::error::Error;
use crate::http::accept::{self, Limits};
use crate::http::router;
use crate::tracker::{Notice, Tracker};
use crate::udp;

/// How long in-flight HTTP requests get to finish after shutdown is asked for.
const DRAIN: Duration = Duration::from_secs(5);

/// Runs a tracker with `config` on `listener` (and UDP on the same port number unless configured
/// otherwise) until `shutdown` completes: loads the dfile first, saves it on the way out.
///
/// A corrupt dfile does not stop the tracker; it is moved aside and the tracker starts empty, as
/// [`Tracker::dfile_status`] and `/stats.json` report. Use [`Tracker::new`],
/// [`Tracker::load_dfile`] and [`Tracker::serve`] to see or log that yourself.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let tracker = Tracker::new(config, Instant::now());
    let t = tracker.clone();
    tokio::task::spawn_blocking(move || t.load_dfile())
        .await
        .map_err(|e| Error::Socket {
            action: "loading dfile",
            source: std::io::Error::other(e),
        })??;
    tracker.serve(listener, shutdown).await
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        Err(Error::Socket {
            action: "running a blocking task",
            source: std::io::Error::other(e),
        })
    })
}

impl Tracker {
    /// The UDP address this configuration asks for, next to an HTTP listener at `http`.
    fn udp_addr(&self, http: SocketAddr) -> Option<SocketAddr> {
        match self.config().udp {
            UdpBind::Off => None,
            UdpBind::SamePort => Some(http),
            UdpBind::Addr(a) => Some(a),
        }
    }

    /// Binds the UDP socket this configuration asks for, next to an HTTP listener at `http`,
    /// for a [`UdpService`](crate::UdpService) of your own ([`Tracker::serve`] binds one socket per core instead).
    pub async fn bind_udp(&self, http: SocketAddr) -> Result<Option<UdpSocket>, Error> {
        let Some(addr) = self.udp_addr(http) else {
            return Ok(None);
        };
        UdpSocket::bind(addr)
            .await
            .map(Some)
            .map_err(|source| Error::Socket {
                action: "binding the UDP tracker socket",
                source,
            })
    }

    /// Runs this tracker on `listener` (HTTP) and, per [`Config::udp`], a UDP socket, with the
    /// timers for expiry, dfile saves and rescans, until `shutdown` completes; then saves the
    /// dfile and flushes the access log. Does not load the dfile: call [`Tracker::load_dfile`]
    /// first.
    pub async fn serve(
        &self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), Error> {
        let http_addr = listener.local_addr().map_err(|source| Error::Socket {
            action: "reading the listener address",
            source,
        })?;
        if self.config().allowed_dir.is_some() {
            let t = self.clone();
            // Files already read (by a caller's own first scan) are not read or reported again.
            let report = blocking(move || t.rescan()).await?;
            for (path, reason) in report.errors {
                self.notify(Notice::BadTorrent { path, reason });
            }
        }
        let shared_udp = match (self.is_shared(), self.udp_addr(http_addr)) {
            (true, Some(addr)) => {
                Some(Arc::new(UdpSocket::bind(addr).await.map_err(|source| {
                    Error::Socket {
                        action: "binding the UDP tracker socket",
                        source,
                    }
                })?))
            }
            _ => None,
        };
        let udp = match self.udp_addr(http_addr) {
            Some(_) if self.is_shared() => Vec::new(),
            Some(addr) => {
                let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
                udp::batch::bind(addr, cores).map_err(|source| Error::Socket {
                    action: "binding the UDP tracker sockets",
                    source,
                })?
            }
            None => Vec::new(),
        };
        let udp_stop = Arc::new(AtomicBool::new(false));
        let udp_threads =
            udp::batch::spawn(self, udp, &udp_stop).map_err(|source| Error::Socket {
                action: "starting the UDP threads",
                source,
            })?;
        let (stop_tx, stop_rx) = watch::channel(false);
        let stopped = move || {
            let mut rx = stop_rx.clone();
            async move {
                let _ = rx.wait_for(|s| *s).await;
            }
        };
        let mut tasks = JoinSet::new();
        let cfg = self.config();
        let expire_every =
            (cfg.peer_timeout / 4).clamp(Duration::from_secs(1), Duration::from_secs(60));
        if let Some(socket) = shared_udp {
            tasks.spawn(udp::concurrent::run(self.clone(), socket, stopped()));
        }
        if self.is_shared() {
            // The sweep is a few round trips per 1,000 swarms; failures are counted and told
            // by the store calls themselves, and retried at the next period.
            let t = self.clone();
            let stop = stopped();
            tasks.spawn(async move {
                tokio::pin!(stop);
                let mut tick = tokio::time::interval(expire_every);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tokio::select! {
                        () = &mut stop => return,
                        _ = tick.tick() => { let _ = t.expire_shared(Instant::now()).await; }
                    }
                }
            });
        } else {
            self.every(&mut tasks, expire_every, stopped(), |t| {
                t.expire(Instant::now());
            });
        }
        if cfg.dfile.is_some() {
            self.every(&mut tasks, cfg.save_interval, stopped(), |t| {
                if let Err(e) = t.save_dfile() {
                    t.notify(Notice::SaveFailed(e));
                }
            });
        }
        if cfg.allowed_dir.is_some() {
            self.every(&mut tasks, cfg.rescan_interval, stopped(), |t| {
                match t.rescan() {
                    Ok(report) => {
                        for (path, reason) in report.errors {
                            t.notify(Notice::BadTorrent { path, reason });
                        }
                    }
                    Err(e) => t.notify(Notice::RescanFailed(e)),
                }
            });
        }

        let mut server = match cfg.tls.clone() {
            // HTTPS: connections are handshaken (each under a time limit) and served by tls.rs
            // with the same router. An accept error ends it, as it ends the plain loop.
            Some(tls) => {
                let app = router().with_state(self.clone());
                let stop = stopped();
                tokio::spawn(async move {
                    let _ = crate::tls::serve(listener, tls, app, stop).await;
                })
            }
            // HTTP: the tracker's own accept loop with its connection limits.
            None => tokio::spawn(self.clone().serve_http(listener, stopped())),
        };
        tokio::select! {
            () = shutdown => {}
            _ = &mut server => {}
        }
        let _ = stop_tx.send(true);
        let _ = tokio::time::timeout(DRAIN, &mut server).await;
        server.abort();
        tasks.shutdown().await;
        udp_stop.store(true, Ordering::Relaxed);
        let _ = tokio::task::spawn_blocking(move || {
            for t in udp_threads {
                let _ = t.join();
            }
        })
        .await;
        let t = self.clone();
        let saved = blocking(move || t.save_dfile()).await;
        if let Some(log) = self.access_log() {
            let log = log.clone();
            let _ = tokio::task::spawn_blocking(move || log.close()).await;
        }
        saved
    }

    /// Serves the HTTP routes on `listener` until `stop`, under the connection limits of the
    /// configuration and the open-file limit (raised to the hard limit first).
    async fn serve_http(
        self,
        listener: TcpListener,
        stop: impl Future<Output = ()> + Send + 'static,
    ) {
        let files = crate::open_files::raise_to_hard();
        let cfg = self.config();
        let limits = Limits {
            header_timeout: cfg.header_timeout,
            per_ip: cfg.max_connections_per_ip.max(1),
            budget: crate::open_files::connection_budget(files),
        };
        let app = router().with_state(self.clone());
        accept::serve_http(listener, app, self, limits, stop).await;
    }

    /// Runs `f` every `period` on a blocking thread until stopped. `f` reports its own failures
    /// as [`Notice`]s; they are retried at the next period (a full disk may clear up).
    fn every<F>(
        &self,
        tasks: &mut JoinSet<()>,
        period: Duration,
        stop: impl Future<Output = ()> + Send + 'static,
        f: F,
    ) where
        F: Fn(&Tracker) + Send + Sync + Copy + 'static,
    {
        let t = self.clone();
        let period = period.max(Duration::from_millis(100));
        tasks.spawn(async move {
            tokio::pin!(stop);
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = &mut stop => return,
                    _ = tick.tick() => {
                        let t = t.clone();
                        let _ = tokio::task::spawn_blocking(move || f(&t)).await;
                    }
                }
            }
        });
    }
}
