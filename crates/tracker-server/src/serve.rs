//! Running a tracker: [`serve`] and [`Tracker::serve`] put the HTTP router, the UDP service and
//! the timers (peer expiry, dfile saves, allowed-directory rescans) on a Tokio runtime. Part of the
//! serving shell: the clock is read here and passed to the core.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::serve::ListenerExt as _;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::config::{Config, UdpBind};
use crate::error::Error;
use crate::http::router;
use crate::tracker::{Notice, Tracker};
use crate::udp::UdpService;

/// How long in-flight HTTP requests get to finish after shutdown is asked for.
const DRAIN: Duration = Duration::from_secs(5);
/// UDP receive loops sharing the socket.
const UDP_LOOPS: usize = 2;

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
    /// Binds the UDP socket this configuration asks for, next to an HTTP listener at `http`.
    pub async fn bind_udp(&self, http: SocketAddr) -> Result<Option<UdpSocket>, Error> {
        let addr = match self.config().udp {
            UdpBind::Off => return Ok(None),
            UdpBind::SamePort => http,
            UdpBind::Addr(a) => a,
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
        let udp = self.bind_udp(http_addr).await?.map(Arc::new);
        let (stop_tx, stop_rx) = watch::channel(false);
        let stopped = move || {
            let mut rx = stop_rx.clone();
            async move {
                let _ = rx.wait_for(|s| *s).await;
            }
        };
        let mut tasks = JoinSet::new();
        if let Some(socket) = udp {
            for _ in 0..UDP_LOOPS {
                let service = UdpService::new(self.clone());
                let socket = socket.clone();
                let stop = stopped();
                tasks.spawn(async move { service.run(socket, stop).await });
            }
        }
        let cfg = self.config();
        let expire_every =
            (cfg.peer_timeout / 4).clamp(Duration::from_secs(1), Duration::from_secs(60));
        self.every(&mut tasks, expire_every, stopped(), |t| {
            t.expire(Instant::now());
        });
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

        let mut server = if let Some(tls) = cfg.tls.clone() {
            // HTTPS: connections are handshaken and served by tls.rs; the router is the same.
            let app = router().with_state(self.clone());
            tokio::spawn(crate::tls::serve(listener, tls, app, stopped()))
        } else {
            // Replies are one small write each: send them at once rather than wait on Nagle.
            let listener = listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            let app = router()
                .with_state(self.clone())
                .into_make_service_with_connect_info::<SocketAddr>();
            let server = axum::serve(listener, app).with_graceful_shutdown(stopped());
            tokio::spawn(async move { server.await })
        };
        tokio::select! {
            () = shutdown => {}
            _ = &mut server => {}
        }
        let _ = stop_tx.send(true);
        let _ = tokio::time::timeout(DRAIN, &mut server).await;
        server.abort();
        tasks.shutdown().await;
        let t = self.clone();
        let saved = blocking(move || t.save_dfile()).await;
        if let Some(log) = self.access_log() {
            let log = log.clone();
            let _ = tokio::task::spawn_blocking(move || log.close()).await;
        }
        saved
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
