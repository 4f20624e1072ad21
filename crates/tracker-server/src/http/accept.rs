//! The HTTP accept loop: [`serve_http`] serves the router on a listener so that slow or greedy
//! clients cannot lock others out. Part of the serving shell.
//!
//! - A client has [`Config::header_timeout`](crate::Config::header_timeout) to send a complete
//!   request head, from accept or from its previous reply (hyper's header read timer); idle
//!   keep-alive connections are bounded by the same timer.
//! - At most [`Config::max_connections_per_ip`](crate::Config::max_connections_per_ip) connections
//!   from one IP are open at once; further ones are closed as soon as they are accepted.
//! - Near the open-file limit (the connection budget of [`open_files`](crate::open_files)), idle
//!   keep-alive connections are closed first to make room; with none idle, the new connection is
//!   refused. An accept that fails for lack of descriptors does the same and retries shortly,
//!   rather than backing off for a second as axum's `serve` does.
//!
//! Every close is counted per [`CloseReason`] for `/metrics`.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;

use crate::stats::CloseReason;
use crate::tracker::Tracker;

/// Connection states, for choosing what to close near the open-file limit.
const NEW: u8 = 0;
const BUSY: u8 = 1;
const IDLE: u8 = 2;

/// How long to wait before accepting again after the accept itself failed (out of descriptors,
/// or a transient network error): short, so that room made by closing is used at once.
const ACCEPT_RETRY: Duration = Duration::from_millis(10);

/// One open connection as the registry sees it.
struct Entry {
    ip: IpAddr,
    state: Arc<AtomicU8>,
    /// Asks the connection to finish its current reply, if any, and close.
    close: Arc<Notify>,
}

/// Every open connection, and the count per client IP.
#[derive(Default)]
struct Registry {
    conns: HashMap<u64, Entry>,
    per_ip: HashMap<IpAddr, usize>,
    next: u64,
}

/// What [`Registry::admit`] decided for a new connection.
enum Admit {
    /// Open it, with this id, state and close signal.
    Open(u64, Arc<AtomicU8>, Arc<Notify>),
    /// Close it at once.
    Refuse(CloseReason),
}

impl Registry {
    /// Admits a connection from `ip` when under `per_ip` from that address and under `budget`
    /// connections in all; at the budget, asks idle keep-alive connections to close first.
    /// Returns what to do with it and how many idle ones were asked to close.
    fn admit(&mut self, ip: IpAddr, per_ip: usize, budget: usize) -> (Admit, usize) {
        if self.per_ip.get(&ip).copied().unwrap_or(0) >= per_ip {
            return (Admit::Refuse(CloseReason::PerAddressCap), 0);
        }
        let mut shed = 0;
        if self.conns.len() >= budget {
            shed = self.shed_idle(self.conns.len() + 1 - budget);
            if shed == 0 {
                return (Admit::Refuse(CloseReason::FileLimit), 0);
            }
        }
        let id = self.next;
        self.next += 1;
        let state = Arc::new(AtomicU8::new(NEW));
        let close = Arc::new(Notify::new());
        self.conns.insert(
            id,
            Entry {
                ip,
                state: state.clone(),
                close: close.clone(),
            },
        );
        *self.per_ip.entry(ip).or_insert(0) += 1;
        (Admit::Open(id, state, close), shed)
    }

    /// Asks up to `at_least` idle keep-alive connections (more when they are there, a sixteenth of
    /// the open ones, so that shedding is not redone for every accept) to close; returns how many.
    fn shed_idle(&mut self, at_least: usize) -> usize {
        let want = at_least.max(self.conns.len() / 16);
        let mut n = 0;
        for e in self.conns.values() {
            if n == want {
                break;
            }
            // Taking the state from IDLE to BUSY marks it as being closed, so it is not counted
            // twice, and a request arriving meanwhile is still answered (graceful close).
            if e.state
                .compare_exchange(IDLE, BUSY, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                e.close.notify_one();
                n += 1;
            }
        }
        n
    }

    fn remove(&mut self, id: u64) {
        if let Some(e) = self.conns.remove(&id) {
            if let Some(n) = self.per_ip.get_mut(&e.ip) {
                *n -= 1;
                if *n == 0 {
                    self.per_ip.remove(&e.ip);
                }
            }
        }
    }
}

/// The limits [`serve_http`] enforces.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub(crate) header_timeout: Duration,
    pub(crate) per_ip: usize,
    /// The most connections open at once (from the open-file limit).
    pub(crate) budget: usize,
}

fn is_out_of_files(e: &std::io::Error) -> bool {
    // EMFILE (process) and ENFILE (system): no descriptor for the accepted connection.
    matches!(e.raw_os_error(), Some(23 | 24))
}

/// Serves `app` on `listener` under `limits` until `stop` completes, then asks every connection
/// to finish its reply and close, and returns when they have (the caller bounds the wait).
pub(crate) async fn serve_http(
    listener: TcpListener,
    app: Router,
    tracker: Tracker,
    limits: Limits,
    stop: impl Future<Output = ()> + Send + 'static,
) {
    let registry = Arc::new(Mutex::new(Registry::default()));
    let (closing_tx, closing_rx) = watch::channel(false);
    let mut conns = JoinSet::new();
    tokio::pin!(stop);
    loop {
        let accepted = tokio::select! {
            () = &mut stop => break,
            r = listener.accept() => r,
            // Reap finished connection tasks so the set does not grow.
            Some(_) = conns.join_next(), if !conns.is_empty() => continue,
        };
        let (stream, remote) = match accepted {
            Ok(a) => a,
            Err(e) => {
                if is_out_of_files(&e) {
                    let mut reg = registry.lock().unwrap_or_else(|e| e.into_inner());
                    let shed = reg.shed_idle(1);
                    drop(reg);
                    for _ in 0..shed {
                        tracker
                            .inner
                            .counters
                            .closed(CloseReason::IdleNearFileLimit);
                    }
                }
                tokio::time::sleep(ACCEPT_RETRY).await;
                continue;
            }
        };
        let ip = crate::tracker::canonical(remote.ip());
        let (admit, shed) = registry.lock().unwrap_or_else(|e| e.into_inner()).admit(
            ip,
            limits.per_ip,
            limits.budget,
        );
        for _ in 0..shed {
            tracker
                .inner
                .counters
                .closed(CloseReason::IdleNearFileLimit);
        }
        let (id, state, close) = match admit {
            Admit::Open(id, state, close) => (id, state, close),
            Admit::Refuse(reason) => {
                tracker.inner.counters.closed(reason);
                drop(stream);
                continue;
            }
        };
        let conn = Conn {
            stream,
            remote,
            app: app.clone(),
            tracker: tracker.clone(),
            header_timeout: limits.header_timeout,
            state,
            close,
            closing: closing_rx.clone(),
        };
        let registry = registry.clone();
        conns.spawn(async move {
            conn.run().await;
            registry
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(id);
        });
    }
    drop(listener);
    let _ = closing_tx.send(true);
    while conns.join_next().await.is_some() {}
}

/// One accepted connection.
struct Conn {
    stream: TcpStream,
    remote: SocketAddr,
    app: Router,
    tracker: Tracker,
    header_timeout: Duration,
    state: Arc<AtomicU8>,
    close: Arc<Notify>,
    closing: watch::Receiver<bool>,
}

impl Conn {
    async fn run(self) {
        let Conn {
            stream,
            remote,
            app,
            tracker,
            header_timeout,
            state,
            close,
            mut closing,
        } = self;
        // Replies are one small write each: send them at once rather than wait on Nagle.
        let _ = stream.set_nodelay(true);
        let service_state = state.clone();
        let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
            let mut req = req.map(axum::body::Body::new);
            req.extensions_mut().insert(ConnectInfo(remote));
            service_state.store(BUSY, Ordering::Release);
            let state = service_state.clone();
            let app = app.clone();
            async move {
                let resp = tower::ServiceExt::oneshot(app, req).await;
                // The reply is handed to hyper to write; the connection is idle until the next
                // request head arrives.
                let _ = state.compare_exchange(BUSY, IDLE, Ordering::AcqRel, Ordering::Relaxed);
                resp
            }
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout);
        let conn = builder.serve_connection(TokioIo::new(stream), service);
        tokio::pin!(conn);
        let mut reason = None;
        let result = loop {
            tokio::select! {
                r = conn.as_mut() => break r,
                () = close.notified(), if reason.is_none() => {
                    reason = Some(CloseReason::IdleNearFileLimit);
                    conn.as_mut().graceful_shutdown();
                }
                _ = closing.wait_for(|c| *c), if reason.is_none() => {
                    reason = Some(CloseReason::Shutdown);
                    conn.as_mut().graceful_shutdown();
                }
            }
        };
        let reason = match (&result, reason) {
            // Shed connections were counted when they were chosen.
            (_, Some(CloseReason::IdleNearFileLimit)) => return,
            (_, Some(r)) => r,
            (Err(e), None) if e.is_timeout() => CloseReason::HeaderTimeout,
            (Err(e), None) if !e.is_incomplete_message() => CloseReason::Error,
            _ => CloseReason::Client,
        };
        tracker.inner.counters.closed(reason);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, n])
    }

    #[test]
    fn per_address_cap_and_budget() {
        let mut r = Registry::default();
        let mut ids = Vec::new();
        for _ in 0..3 {
            match r.admit(ip(3), 3, 5).0 {
                Admit::Open(id, ..) => ids.push(id),
                Admit::Refuse(_) => panic!("under the cap"),
            }
        }
        assert!(matches!(
            r.admit(ip(3), 3, 5).0,
            Admit::Refuse(CloseReason::PerAddressCap)
        ));
        let Admit::Open(_, s1, c1) = r.admit(ip(1), 3, 5).0 else {
            panic!("another address is admitted");
        };
        let Admit::Open(..) = r.admit(ip(2), 3, 5).0 else {
            panic!("within the budget");
        };
        // At the budget with nothing idle: refused.
        assert!(matches!(
            r.admit(ip(4), 3, 5).0,
            Admit::Refuse(CloseReason::FileLimit)
        ));
        // An idle keep-alive connection is asked to close to make room.
        s1.store(IDLE, Ordering::Release);
        let (admit, shed) = r.admit(ip(4), 3, 5);
        assert!(matches!(admit, Admit::Open(..)));
        assert_eq!(shed, 1);
        assert_eq!(s1.load(Ordering::Acquire), BUSY, "marked as being closed");
        let signalled = c1.notified();
        tokio::pin!(signalled);
        assert!(futures_ready(signalled.as_mut()), "the close was signalled");
        r.remove(ids[0]);
        assert!(matches!(r.admit(ip(3), 3, 9).0, Admit::Open(..)));
    }

    /// Polls a future once with a no-op waker.
    fn futures_ready(f: std::pin::Pin<&mut impl Future<Output = ()>>) -> bool {
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        f.poll(&mut cx).is_ready()
    }
}
