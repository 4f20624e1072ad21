//! The test harness of the connection tests: two [`Connection`]s joined by an in-memory link
//! on a virtual clock, each delivery cut in two to exercise reassembly.

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{ConnEvent, Connection, ConnectionConfig};

/// Two connections joined by an in-memory link, on a virtual clock.
pub(super) struct Pair {
    pub(super) a: Connection,
    pub(super) b: Connection,
    pub(super) now: Instant,
    pub(super) ev_a: Vec<ConnEvent>,
    pub(super) ev_b: Vec<ConnEvent>,
    pub(super) bytes_ab: usize,
}

impl Pair {
    pub(super) fn new(a: ConnectionConfig, b: ConnectionConfig) -> Self {
        let now = Instant::now();
        let mut p = Pair {
            a: Connection::new(a, now),
            b: Connection::new(b, now),
            now,
            ev_a: Vec::new(),
            ev_b: Vec::new(),
            bytes_ab: 0,
        };
        p.drive();
        p
    }

    fn step(&mut self) -> bool {
        let mut moved = false;
        if let Some(bytes) = self.a.poll_transmit() {
            self.bytes_ab += bytes.len();
            // Deliver in two parts to exercise reassembly.
            let mut x = Bytes::from(bytes);
            let y = x.split_off(x.len() / 2);
            self.b.handle_bytes(self.now, x);
            self.b.handle_bytes(self.now, y);
            moved = true;
        }
        if let Some(bytes) = self.b.poll_transmit() {
            self.a.handle_bytes(self.now, bytes.into());
            moved = true;
        }
        while let Some(e) = self.a.poll_event() {
            self.ev_a.push(e);
            moved = true;
        }
        while let Some(e) = self.b.poll_event() {
            self.ev_b.push(e);
            moved = true;
        }
        moved
    }

    pub(super) fn drive(&mut self) {
        for _ in 0..10_000 {
            if !self.step() {
                return;
            }
        }
        panic!("link never went quiet");
    }

    pub(super) fn advance(&mut self, by: Duration) {
        self.now += by;
        self.a.handle_timeout(self.now);
        self.b.handle_timeout(self.now);
        self.drive();
    }
}
