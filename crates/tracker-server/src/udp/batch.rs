//! The UDP tracker as [`serve`](crate::serve) runs it: one blocking thread per core, each with its
//! own `SO_REUSEPORT` socket on the tracker's address (the kernel spreads clients over them by
//! address), receiving up to [`quinn_udp::BATCH_SIZE`] packets per `recvmmsg` and sending the
//! replies with one `sendmmsg`. Each packet is answered by the sans-IO
//! [`Tracker::handle_udp`]; the swarms are already sharded by info-hash, so threads rarely wait on
//! each other. Part of the serving shell.
//!
//! Why not the Tokio loop of [`UdpService`](super::UdpService): profiled with `perf`, at load
//! nearly 80% of its time was in system calls, a quarter of that in `epoll_wait` and the futex
//! wake-ups of idle runtime workers rather than in the packets' own `recvfrom`/`sendto`.

use std::io::{IoSlice, IoSliceMut};
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustix::net::{
    AddressFamily, MMsgHdr, SendAncillaryBuffer, SendFlags, SocketAddrAny, SocketType,
};

use crate::tracker::Tracker;

/// The largest packet read, as in the Tokio service.
const MAX_PACKET: usize = 2048;
/// How often a thread waiting for packets looks at the stop flag.
const STOP_POLL: Duration = Duration::from_millis(100);

/// Binds `n` sockets with `SO_REUSEPORT` on `addr` (all on the port the first one got, when
/// `addr` has port 0).
pub(crate) fn bind(addr: SocketAddr, n: usize) -> std::io::Result<Vec<UdpSocket>> {
    let mut sockets = Vec::with_capacity(n);
    let mut at = addr;
    for _ in 0..n.max(1) {
        let family = if at.is_ipv4() {
            AddressFamily::INET
        } else {
            AddressFamily::INET6
        };
        let fd = rustix::net::socket(family, SocketType::DGRAM, None)?;
        rustix::net::sockopt::set_socket_reuseport(&fd, true)?;
        if at.is_ipv6() {
            // As std binds: an IPv6 wildcard also takes IPv4 (the kernel default).
            let _ = rustix::net::sockopt::set_ipv6_v6only(&fd, false);
        }
        rustix::net::bind(&fd, &at)?;
        let socket = UdpSocket::from(fd);
        at = socket.local_addr()?;
        socket.set_nonblocking(true)?;
        sockets.push(socket);
    }
    Ok(sockets)
}

/// Answers packets on `socket` (non-blocking, as [`bind`] makes it) until `stop` is set
/// (checked at least every 100 ms).
pub(crate) fn run(tracker: &Tracker, socket: &UdpSocket, stop: &AtomicBool) {
    let state = match quinn_udp::UdpSocketState::new(socket.into()) {
        Ok(s) => s,
        Err(_) => return run_plain(tracker, socket, stop),
    };
    let batch = quinn_udp::BATCH_SIZE;
    let mut storage = vec![[0u8; MAX_PACKET]; batch];
    // The receive slices borrow `storage` for the loop's lifetime; packets are read through them.
    let mut bufs: Vec<IoSliceMut<'_>> = storage.iter_mut().map(|b| IoSliceMut::new(b)).collect();
    let mut meta = vec![quinn_udp::RecvMeta::default(); batch];
    // Replies, one buffer each, reused; with their destinations.
    let mut replies: Vec<Vec<u8>> = (0..batch).map(|_| Vec::with_capacity(MAX_PACKET)).collect();
    let mut dests: Vec<SocketAddrAny> = Vec::with_capacity(batch);
    let mut lens: Vec<usize> = Vec::with_capacity(batch);
    while !stop.load(Ordering::Relaxed) {
        // The socket is non-blocking: a blocking `recvmmsg` would wait for a whole batch.
        let n = match state.recv(socket.into(), &mut bufs, &mut meta) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                wait_readable(socket);
                continue;
            }
            // An ICMP error reported for an earlier send.
            Err(_) => continue,
        };
        let now = Instant::now();
        let id_secs = tracker.id_secs(now);
        dests.clear();
        lens.clear();
        let mut used = 0;
        for (buf, m) in bufs.iter().zip(&meta).take(n) {
            // With GRO a buffer may hold several datagrams of `stride` bytes each.
            let stride = m.stride.max(1);
            for packet in buf[..m.len].chunks(stride) {
                if used == replies.len() {
                    replies.push(Vec::with_capacity(MAX_PACKET));
                }
                if tracker.handle_udp_at(packet, m.addr, now, id_secs, &mut replies[used]) {
                    dests.push(SocketAddrAny::from(m.addr));
                    used += 1;
                }
            }
        }
        send_all(socket, &replies[..used], &dests);
    }
}

/// Waits until `socket` has a packet, or [`STOP_POLL`] has passed.
fn wait_readable(socket: &UdpSocket) {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    let timeout = Timespec {
        tv_sec: 0,
        tv_nsec: STOP_POLL.as_nanos() as _,
    };
    let _ = poll(&mut [PollFd::new(socket, PollFlags::IN)], Some(&timeout));
}

/// Sends each reply to its destination, as many per `sendmmsg` as the kernel takes. Failed sends
/// (a full buffer, an unreachable client) are dropped: the client retries, as BEP 15 says.
fn send_all(socket: &UdpSocket, replies: &[Vec<u8>], dests: &[SocketAddrAny]) {
    let iovs: Vec<[IoSlice<'_>; 1]> = replies.iter().map(|r| [IoSlice::new(r)]).collect();
    let mut controls: Vec<SendAncillaryBuffer<'_, '_, '_>> = (0..replies.len())
        .map(|_| SendAncillaryBuffer::default())
        .collect();
    let mut hdrs: Vec<MMsgHdr<'_>> = iovs
        .iter()
        .zip(dests)
        .zip(controls.iter_mut())
        .map(|((iov, dest), control)| MMsgHdr::new_with_addr(dest, iov, control))
        .collect();
    let mut from = 0;
    while from < hdrs.len() {
        match rustix::net::sendmmsg(socket, &mut hdrs[from..], SendFlags::empty()) {
            Ok(0) => break,
            Ok(sent) => from += sent,
            // The message at `from` failed: skip it and go on with the rest.
            Err(_) => from += 1,
        }
    }
}

/// One packet at a time, where the socket cannot be set up for batching.
fn run_plain(tracker: &Tracker, socket: &UdpSocket, stop: &AtomicBool) {
    let mut buf = vec![0u8; MAX_PACKET];
    let mut out = Vec::with_capacity(MAX_PACKET);
    while !stop.load(Ordering::Relaxed) {
        let Ok((len, from)) = socket.recv_from(&mut buf) else {
            wait_readable(socket);
            continue;
        };
        let now = Instant::now();
        if tracker.handle_udp_at(&buf[..len], from, now, tracker.id_secs(now), &mut out) {
            let _ = socket.send_to(&out, from);
        }
    }
}

/// Runs one thread per socket until `stop` is set; returns their handles.
pub(crate) fn spawn(
    tracker: &Tracker,
    sockets: Vec<UdpSocket>,
    stop: &Arc<AtomicBool>,
) -> std::io::Result<Vec<std::thread::JoinHandle<()>>> {
    sockets
        .into_iter()
        .enumerate()
        .map(|(i, socket)| {
            let tracker = tracker.clone();
            let stop = stop.clone();
            std::thread::Builder::new()
                .name(format!("bt-udp-{i}"))
                .spawn(move || run(&tracker, &socket, &stop))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use torrentkit_tracker_proto::{UdpRequest, UdpResponse};

    #[test]
    fn reuseport_sockets_answer_in_batches_and_stop() {
        let tracker = Tracker::new(Config::default(), Instant::now());
        let sockets = bind("127.0.0.1:0".parse().unwrap(), 2).unwrap();
        let addr = sockets[0].local_addr().unwrap();
        assert_eq!(sockets[1].local_addr().unwrap(), addr, "one port for all");
        let stop = Arc::new(AtomicBool::new(false));
        let threads = spawn(&tracker, sockets, &stop).unwrap();
        // Several clients, several packets each sent at once: every one is answered.
        let clients: Vec<UdpSocket> = (0..4)
            .map(|_| {
                let c = UdpSocket::bind("127.0.0.1:0").unwrap();
                c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                c
            })
            .collect();
        for (i, c) in clients.iter().enumerate() {
            for t in 0..8u32 {
                let mut req = Vec::new();
                UdpRequest::Connect {
                    transaction_id: i as u32 * 100 + t,
                }
                .write(&mut req);
                c.send_to(&req, addr).unwrap();
            }
        }
        for (i, c) in clients.iter().enumerate() {
            let mut got = Vec::new();
            let mut buf = [0u8; 64];
            for _ in 0..8 {
                let n = c.recv(&mut buf).expect("every connect is answered");
                match UdpResponse::parse(&buf[..n], false).unwrap() {
                    UdpResponse::Connect { transaction_id, .. } => got.push(transaction_id),
                    other => panic!("expected a connect reply, got {other:?}"),
                }
            }
            got.sort_unstable();
            let want: Vec<u32> = (0..8).map(|t| i as u32 * 100 + t).collect();
            assert_eq!(got, want);
        }
        stop.store(true, Ordering::Relaxed);
        for t in threads {
            t.join().unwrap();
        }
    }
}
