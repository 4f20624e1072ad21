//! A virtual network and clock for deterministic simulations: datagrams between in-memory
//! nodes with per-datagram latency and loss, all randomness from one seed.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use torrentkit_dht::{Config, Event, LookupId, Node};

struct Datagram {
    at: Instant,
    seq: u64,
    to: usize,
    from: SocketAddr,
    bytes: Vec<u8>,
}

impl PartialEq for Datagram {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Datagram {}
impl PartialOrd for Datagram {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Datagram {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// N nodes on a simulated network.
pub(crate) struct Net {
    pub(crate) nodes: Vec<Option<Node>>,
    pub(crate) addrs: Vec<SocketAddr>,
    by_addr: HashMap<SocketAddr, usize>,
    queue: BinaryHeap<Reverse<Datagram>>,
    timers: BinaryHeap<Reverse<(Instant, usize)>>,
    next_timer: Vec<Option<Instant>>,
    pub(crate) now: Instant,
    rng: fastrand::Rng,
    seq: u64,
    /// Probability that a datagram is lost.
    pub(crate) loss: f64,
    pub(crate) events: Vec<(usize, Event)>,
    pub(crate) delivered: u64,
    pub(crate) lost: u64,
}

/// A public (BEP 42 applies) address for node `i`.
pub(crate) fn address(i: usize) -> SocketAddr {
    let ip = Ipv4Addr::new(20 + (i >> 16) as u8, (i >> 8) as u8, i as u8, 7);
    SocketAddr::new(IpAddr::V4(ip), 6881)
}

impl Net {
    pub(crate) fn new(seed: u64, loss: f64) -> Self {
        Net {
            nodes: Vec::new(),
            addrs: Vec::new(),
            by_addr: HashMap::new(),
            queue: BinaryHeap::new(),
            timers: BinaryHeap::new(),
            next_timer: Vec::new(),
            now: Instant::now(),
            rng: fastrand::Rng::with_seed(seed),
            seq: 0,
            loss,
            events: Vec::new(),
            delivered: 0,
            lost: 0,
        }
    }

    /// Adds a node whose id fits BEP 42 for its address; returns its index.
    pub(crate) fn add(&mut self, tweak: impl FnOnce(&mut Config)) -> usize {
        let i = self.nodes.len();
        let addr = address(i);
        let mut config = Config::default();
        config.seed = self.rng.u64(..);
        config.external_ip = Some(addr.ip());
        tweak(&mut config);
        self.nodes.push(Some(Node::new(config, self.now)));
        self.addrs.push(addr);
        self.by_addr.insert(addr, i);
        self.next_timer.push(None);
        self.flush(i);
        i
    }

    pub(crate) fn node(&mut self, i: usize) -> &mut Node {
        self.nodes[i].as_mut().expect("node has left")
    }

    pub(crate) fn live(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.nodes.len()).filter(|i| self.nodes[*i].is_some())
    }

    /// Node `i` leaves without a word: datagrams to it are lost from now on.
    pub(crate) fn remove(&mut self, i: usize) {
        self.nodes[i] = None;
    }

    /// Runs a command on node `i`, then moves what it produced onto the network.
    pub(crate) fn with<T>(&mut self, i: usize, f: impl FnOnce(&mut Node, Instant) -> T) -> T {
        let now = self.now;
        let out = f(self.node(i), now);
        self.flush(i);
        out
    }

    fn flush(&mut self, i: usize) {
        let Some(node) = self.nodes[i].as_mut() else {
            return;
        };
        let from = self.addrs[i];
        let mut sends = Vec::new();
        while let Some(t) = node.poll_transmit() {
            sends.push(t);
        }
        while let Some(event) = node.poll_event() {
            self.events.push((i, event));
        }
        let timeout = node.poll_timeout();
        for t in sends {
            if self.rng.f64() < self.loss {
                self.lost += 1;
                continue;
            }
            let Some(&to) = self.by_addr.get(&t.destination) else {
                continue;
            };
            let latency = Duration::from_millis(self.rng.u64(10..=80));
            self.seq += 1;
            self.queue.push(Reverse(Datagram {
                at: self.now + latency,
                seq: self.seq,
                to,
                from,
                bytes: t.contents,
            }));
        }
        if let Some(at) = timeout {
            if self.next_timer[i] != Some(at) {
                self.next_timer[i] = Some(at);
                self.timers.push(Reverse((at, i)));
            }
        }
    }

    /// Delivers datagrams and fires timers in time order until `until`.
    pub(crate) fn run_until(&mut self, until: Instant) {
        self.run_while(until, |_| true);
        self.now = self.now.max(until);
    }

    /// Like [`run_until`], also stopping as soon as `keep_going` says no (checked after each
    /// step).
    pub(crate) fn run_while(&mut self, until: Instant, mut keep_going: impl FnMut(&Net) -> bool) {
        loop {
            let next_datagram = self.queue.peek().map(|d| d.0.at);
            let next_timer = self.timers.peek().map(|t| t.0 .0);
            let at = match (next_datagram, next_timer) {
                (None, None) => break,
                (Some(d), None) => d,
                (None, Some(t)) => t,
                (Some(d), Some(t)) => d.min(t),
            };
            if at > until {
                break;
            }
            self.now = self.now.max(at);
            if next_datagram == Some(at) {
                let Reverse(d) = self.queue.pop().expect("peeked");
                if let Some(node) = self.nodes[d.to].as_mut() {
                    node.handle_datagram(d.from, &d.bytes, self.now);
                    self.delivered += 1;
                    self.flush(d.to);
                }
            } else {
                let Reverse((at, i)) = self.timers.pop().expect("peeked");
                if self.next_timer[i] != Some(at) {
                    continue;
                }
                self.next_timer[i] = None;
                if let Some(node) = self.nodes[i].as_mut() {
                    node.handle_timeout(self.now);
                    self.flush(i);
                }
            }
            if !keep_going(self) {
                break;
            }
        }
    }

    /// Runs until node `i` reports the end of `lookup` (or a minute passes); removes and
    /// returns that event.
    pub(crate) fn wait_for(&mut self, i: usize, lookup: LookupId, announce: bool) -> Option<Event> {
        let deadline = self.now + Duration::from_secs(60);
        let matches = |(n, e): &(usize, Event)| {
            *n == i
                && match e {
                    Event::LookupDone(r) => !announce && r.lookup == lookup,
                    Event::AnnounceDone { lookup: l, .. } => announce && *l == lookup,
                    _ => false,
                }
        };
        self.run_while(deadline, |net| !net.events.iter().any(matches));
        let at = self.events.iter().position(matches)?;
        Some(self.events.remove(at).1)
    }
}
