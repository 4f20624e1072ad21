//! A virtual network and clock for endpoints: per-direction links with propagation delay,
//! jitter (which reorders), loss, duplication, an MTU and a bottleneck rate with a drop-tail
//! queue; seeded, so every run replays exactly.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use torrentkit_utp::{Config, Endpoint};

/// One direction of a link.
#[derive(Debug, Clone)]
pub(crate) struct Link {
    pub(crate) delay: Duration,
    /// Each datagram is delayed by up to this much more, at random: datagrams overtake.
    pub(crate) jitter: Duration,
    pub(crate) loss: f64,
    pub(crate) duplicate: f64,
    pub(crate) mtu: usize,
    /// Bytes per second through the bottleneck (0: unlimited).
    pub(crate) rate: u64,
    /// Bytes the bottleneck queue holds; more are dropped.
    pub(crate) buffer: usize,
}

impl Default for Link {
    fn default() -> Link {
        Link {
            delay: Duration::from_millis(10),
            jitter: Duration::ZERO,
            loss: 0.0,
            duplicate: 0.0,
            mtu: 1500,
            rate: 0,
            buffer: usize::MAX,
        }
    }
}

struct LinkState {
    link: Link,
    busy_until: Instant,
    /// Sum and count of the time datagrams waited in the bottleneck queue, from `measure_from`.
    queued_sum: Duration,
    queued_n: u64,
    dropped: u64,
}

/// A datagram on the wire: delivery time, a tie-breaking order, from, to, bytes.
type InFlight = (Instant, u64, usize, usize, Vec<u8>);

pub(crate) struct Net {
    pub(crate) now: Instant,
    pub(crate) start: Instant,
    pub(crate) ends: Vec<Endpoint>,
    pub(crate) addrs: Vec<SocketAddr>,
    /// links[from][to]
    links: Vec<Vec<LinkState>>,
    queue: BinaryHeap<Reverse<InFlight>>,
    order: u64,
    rng: fastrand::Rng,
    buf: Vec<u8>,
    pub(crate) measure_from: Instant,
}

impl Net {
    /// `n` endpoints with `config`, every link `link`.
    pub(crate) fn new(n: usize, config: Config, link: Link, seed: u64) -> Net {
        let start = Instant::now();
        let ends = (0..n)
            .map(|i| {
                Endpoint::new(
                    Config {
                        seed: seed + i as u64,
                        ..config.clone()
                    },
                    start,
                )
            })
            .collect();
        let addrs = (0..n)
            .map(|i| SocketAddr::from(([10, 0, 0, i as u8 + 1], 6881)))
            .collect();
        let links = (0..n)
            .map(|_| {
                (0..n)
                    .map(|_| LinkState {
                        link: link.clone(),
                        busy_until: start,
                        queued_sum: Duration::ZERO,
                        queued_n: 0,
                        dropped: 0,
                    })
                    .collect()
            })
            .collect();
        Net {
            now: start,
            start,
            ends,
            addrs,
            links,
            queue: BinaryHeap::new(),
            order: 0,
            rng: fastrand::Rng::with_seed(seed),
            buf: Vec::new(),
            measure_from: start,
        }
    }

    /// The mean time datagrams from `a` to `b` waited in the bottleneck queue, since
    /// `measure_from`.
    pub(crate) fn mean_queueing(&self, a: usize, b: usize) -> Duration {
        let l = &self.links[a][b];
        l.queued_sum / l.queued_n.max(1) as u32
    }

    /// Datagrams from `a` to `b` dropped by the queue.
    pub(crate) fn queue_drops(&self, a: usize, b: usize) -> u64 {
        self.links[a][b].dropped
    }

    fn index(&self, addr: SocketAddr) -> usize {
        self.addrs
            .iter()
            .position(|a| *a == addr)
            .expect("datagram to a known address")
    }

    /// Moves every datagram the endpoints have to send onto the links.
    fn flush(&mut self) {
        for from in 0..self.ends.len() {
            loop {
                self.buf.clear();
                let Some(t) = self.ends[from].poll_transmit(self.now, &mut self.buf) else {
                    break;
                };
                let to = self.index(t.destination);
                let now = self.now;
                let measure = now >= self.measure_from;
                let state = &mut self.links[from][to];
                let link = &state.link;
                if t.len > link.mtu || self.rng.f64() < link.loss {
                    continue;
                }
                let copies = if self.rng.f64() < link.duplicate {
                    2
                } else {
                    1
                };
                let mut at = now;
                if link.rate > 0 {
                    let begin = state.busy_until.max(now);
                    let waiting = begin - now;
                    let queued_bytes = (waiting.as_secs_f64() * link.rate as f64) as usize;
                    if queued_bytes + t.len > link.buffer {
                        state.dropped += 1;
                        continue;
                    }
                    if measure {
                        state.queued_sum += waiting;
                        state.queued_n += 1;
                    }
                    state.busy_until =
                        begin + Duration::from_secs_f64(t.len as f64 / link.rate as f64);
                    at = state.busy_until;
                }
                let jitter = link.jitter;
                let delay = link.delay;
                for _ in 0..copies {
                    let extra = if jitter.is_zero() {
                        Duration::ZERO
                    } else {
                        Duration::from_nanos(self.rng.u64(..jitter.as_nanos() as u64))
                    };
                    self.order += 1;
                    self.queue.push(Reverse((
                        at + delay + extra,
                        self.order,
                        from,
                        to,
                        self.buf.clone(),
                    )));
                }
            }
        }
    }

    /// Advances the clock to the next delivery or timeout (at most `limit`) and handles it.
    /// Returns false when nothing is left to happen before `limit`.
    pub(crate) fn step(&mut self, limit: Instant) -> bool {
        self.flush();
        let next_delivery = self.queue.peek().map(|Reverse((t, ..))| *t);
        let next_timeout = self.ends.iter().filter_map(Endpoint::poll_timeout).min();
        let Some(next) = [next_delivery, next_timeout].into_iter().flatten().min() else {
            return false;
        };
        if next > limit {
            self.now = limit;
            return false;
        }
        self.now = self.now.max(next);
        while let Some(Reverse((t, ..))) = self.queue.peek() {
            if *t > self.now {
                break;
            }
            let Reverse((_, _, from, to, bytes)) = self.queue.pop().unwrap();
            let from_addr = self.addrs[from];
            self.ends[to].handle_datagram(from_addr, &bytes, self.now);
        }
        for e in &mut self.ends {
            if e.poll_timeout().is_some_and(|t| t <= self.now) {
                e.handle_timeout(self.now);
            }
        }
        self.flush();
        true
    }
}
