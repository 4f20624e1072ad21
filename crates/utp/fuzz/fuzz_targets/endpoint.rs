//! Fuzz target `endpoint`: an endpoint with a live connection fed arbitrary datagrams.
//!
//! The input is split at each `0xff 0xff` pair into datagrams; each comes from one of two
//! addresses (the peer's, or a stranger's) after a few milliseconds, then the endpoint's
//! timers run and its output is drained. Nothing may panic, and the endpoint stays within its
//! connection and half-open bounds.

#![no_main]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use torrentkit_utp::{Config, Endpoint};

fuzz_target!(|data: &[u8]| {
    let now = Instant::now();
    let config = Config { max_half_open: 8, max_connections: 16, ..Config::default() };
    let mut e = Endpoint::new(config, now);
    let peer = SocketAddr::from(([192, 0, 2, 1], 6881));
    let stranger = SocketAddr::from(([192, 0, 2, 2], 6881));
    let h = e.connect(peer, now).unwrap();
    e.write(h, &[0x55; 5000]).unwrap();
    let mut out = Vec::new();
    let mut t = now;
    for (i, d) in data.split(|&b| b == 0xff).enumerate() {
        t += Duration::from_millis(7);
        let from = if d.first().is_some_and(|b| b & 0x08 != 0) { stranger } else { peer };
        e.handle_datagram(from, d, t);
        if i % 3 == 0 {
            t += Duration::from_millis(600);
            e.handle_timeout(t);
        }
        out.clear();
        while e.poll_transmit(t, &mut out).is_some() {}
        while e.poll_event().is_some() {}
        let _ = e.read(h, &mut [0u8; 4096]);
        let s = e.stats();
        assert!(s.connections <= 16 && s.half_open <= 8, "{s:?}");
    }
});
