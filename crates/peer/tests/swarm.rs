//! Deterministic swarm simulations: whole torrents (`Torrent` state machines over
//! `MemoryStorage`) exchanging bytes over in-memory links with latency, loss (as TCP sees it:
//! a retransmission delay), per-node upload rates and seeded randomness, on a virtual clock.

// Each scenario prints its measured numbers (run with `--nocapture` to see them).
#![allow(clippy::print_stderr)]

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use torrentkit_peer::storage::{Layout, MemoryStorage, Storage};
use torrentkit_peer::{Action, Bitfield, ConnId, Rng, Torrent, TorrentConfig};

const HASH: [u8; 20] = [0x5a; 20];

/// How a simulated node behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    Honest,
    /// Serves garbage instead of the real blocks.
    Corrupt,
    /// Stops sending anything at `silent_after` (but keeps its connections).
    GoesSilent,
}

struct Node {
    torrent: Torrent,
    storage: MemoryStorage,
    upload_rate: f64,
    up_free: Instant,
    behaviour: Behaviour,
    /// The nodes this node banned.
    banned: Vec<usize>,
    verified_failures: u32,
    /// `torrent.poll_timeout()`, refreshed whenever the node is touched.
    timeout: Option<Instant>,
}

struct SimConfig {
    size: u64,
    piece_length: u32,
    leechers: usize,
    /// Connections each leecher opens to other leechers.
    fanout: usize,
    seed_rate: f64,
    peer_rate: f64,
    bad_rate: f64,
    /// Extra nodes that claim to be seeds but misbehave.
    bad: Vec<Behaviour>,
    silent_after: Duration,
    loss: f64,
    seed: u64,
    limit: Duration,
}

struct Sim {
    nodes: Vec<Node>,
    data: Vec<u8>,
    /// (node, conn) -> (node, conn) for each live connection end.
    links: HashMap<(usize, ConnId), (usize, ConnId)>,
    latency: HashMap<(usize, ConnId), Duration>,
    last_delivery: HashMap<(usize, ConnId), Instant>,
    queue: BTreeMap<(Instant, u64), (usize, ConnId, Vec<u8>)>,
    seq: u64,
    rng: Rng,
    start: Instant,
    now: Instant,
    cfg: SimConfig,
    next_conn: u64,
    /// Bytes each node sent as piece payload, counted at the sender.
    piece_bytes_sent: Vec<u64>,
    /// Nodes that saw a connection to a misbehaving node become snubbed.
    saw_snub: std::collections::BTreeSet<usize>,
}

impl Sim {
    fn new(cfg: SimConfig) -> Sim {
        let mut rng = Rng::new(cfg.seed);
        let mut data = vec![0u8; cfg.size as usize];
        rng.fill(&mut data);
        let layout = Layout::new([(["sim.bin"], cfg.size)], cfg.piece_length).unwrap();
        let pieces = layout.piece_count();
        let start = Instant::now();
        let mut nodes = Vec::new();
        let make = |i: usize, seed: bool, rate: f64, behaviour: Behaviour| {
            let mut peer_id = [0u8; 20];
            peer_id[..8].copy_from_slice(&(i as u64 + 1).to_be_bytes());
            let mut tc = TorrentConfig::new(
                HASH,
                peer_id,
                cfg.size,
                cfg.piece_length,
                cfg.seed.wrapping_add(i as u64 * 7919),
            );
            tc.connection.listen_port = Some(6881);
            let have = if seed {
                Bitfield::full(pieces)
            } else {
                Bitfield::new(pieces)
            };
            let storage = if seed {
                MemoryStorage::with_data(layout.clone(), data.clone()).unwrap()
            } else {
                MemoryStorage::new(layout.clone())
            };
            Node {
                torrent: Torrent::new(tc, &have),
                storage,
                upload_rate: rate,
                up_free: start,
                behaviour,
                banned: Vec::new(),
                verified_failures: 0,
                timeout: None,
            }
        };
        nodes.push(make(0, true, cfg.seed_rate, Behaviour::Honest));
        for i in 1..=cfg.leechers {
            nodes.push(make(i, false, cfg.peer_rate, Behaviour::Honest));
        }
        for (k, b) in cfg.bad.iter().enumerate() {
            nodes.push(make(cfg.leechers + 1 + k, true, cfg.bad_rate, *b));
        }
        let n = nodes.len();
        let mut sim = Sim {
            nodes,
            data,
            links: HashMap::new(),
            latency: HashMap::new(),
            last_delivery: HashMap::new(),
            queue: BTreeMap::new(),
            seq: 0,
            rng,
            start,
            now: start,
            cfg,
            next_conn: 0,
            piece_bytes_sent: vec![0; n],
            saw_snub: std::collections::BTreeSet::new(),
        };
        // Every leecher connects to the seed, to every bad node, and to `fanout` other leechers.
        let bad: Vec<usize> = (sim.cfg.leechers + 1..n).collect();
        for i in 1..=sim.cfg.leechers {
            sim.connect(i, 0);
            for &b in &bad {
                sim.connect(i, b);
            }
            for _ in 0..sim.cfg.fanout {
                let j = 1 + sim.rng.index(sim.cfg.leechers);
                if j != i {
                    sim.connect(i, j);
                }
            }
        }
        for i in 0..n {
            sim.pump(i);
        }
        sim
    }

    fn connected(&self, a: usize, b: usize) -> bool {
        self.links
            .iter()
            .any(|(&(na, _), &(nb, _))| na == a && nb == b)
    }

    fn connect(&mut self, a: usize, b: usize) {
        if self.connected(a, b) {
            return;
        }
        let (ca, cb) = (ConnId(self.next_conn), ConnId(self.next_conn + 1));
        self.next_conn += 2;
        self.nodes[a].torrent.add_connection(self.now, ca);
        self.nodes[b].torrent.add_connection(self.now, cb);
        self.links.insert((a, ca), (b, cb));
        self.links.insert((b, cb), (a, ca));
        let latency = Duration::from_millis(5 + self.rng.below(45));
        self.latency.insert((a, ca), latency);
        self.latency.insert((b, cb), latency);
    }

    fn close(&mut self, node: usize, conn: ConnId) {
        if let Some((other, oc)) = self.links.remove(&(node, conn)) {
            self.links.remove(&(other, oc));
            self.nodes[other].torrent.remove_connection(oc);
            self.pump(other);
        }
    }

    /// Performs a node's actions and moves its outgoing bytes onto the links.
    fn pump(&mut self, i: usize) {
        loop {
            let mut busy = false;
            while let Some(action) = self.nodes[i].torrent.poll_action() {
                busy = true;
                let now = self.now;
                let node = &mut self.nodes[i];
                match action {
                    Action::Write {
                        piece,
                        offset,
                        data,
                    } => node.storage.write(piece, offset, &data).unwrap(),
                    Action::Read { conn, request } => {
                        let mut buf = vec![0u8; request.len as usize];
                        node.storage
                            .read(request.piece, request.offset, &mut buf)
                            .unwrap();
                        if node.behaviour == Behaviour::Corrupt {
                            for b in &mut buf {
                                *b = !*b;
                            }
                        }
                        self.piece_bytes_sent[i] += u64::from(request.len);
                        node.torrent.handle_read(now, conn, request, Some(&buf));
                    }
                    Action::Verify { piece } => {
                        // Stands in for the SHA-1 check: compare with the original content.
                        let got = node.storage.read_piece(piece).unwrap();
                        let start = piece as usize * self.cfg.piece_length as usize;
                        let ok = got == self.data[start..start + got.len()];
                        if !ok {
                            node.verified_failures += 1;
                        }
                        node.torrent.handle_verified(now, piece, ok);
                    }
                    Action::Close { conn, .. } => self.close(i, conn),
                    Action::Ban { conn } => {
                        // Note whom the connection led to, before the close forgets it.
                        let to = self.links.get(&(i, conn)).map_or(usize::MAX, |&(o, _)| o);
                        self.nodes[i].banned.push(to);
                    }
                    _ => {}
                }
            }
            let conns: Vec<ConnId> = self.nodes[i].torrent.connections().collect();
            for c in conns {
                while let Some(bytes) = self.nodes[i].torrent.poll_transmit(c) {
                    busy = true;
                    self.send(i, c, bytes);
                }
            }
            if !busy {
                self.nodes[i].timeout = self.nodes[i].torrent.poll_timeout();
                return;
            }
        }
    }

    fn send(&mut self, i: usize, conn: ConnId, bytes: Vec<u8>) {
        let node = &mut self.nodes[i];
        if node.behaviour == Behaviour::GoesSilent && self.now >= self.start + self.cfg.silent_after
        {
            return;
        }
        let Some(&(other, oc)) = self.links.get(&(i, conn)) else {
            return;
        };
        let begin = node.up_free.max(self.now);
        node.up_free = begin + Duration::from_secs_f64(bytes.len() as f64 / node.upload_rate);
        let mut at = node.up_free + self.latency[&(i, conn)];
        if self.rng.below(1_000_000) < (self.cfg.loss * 1e6) as u64 {
            at += Duration::from_millis(200); // a lost segment: TCP retransmits after an RTO
        }
        let last = self.last_delivery.entry((i, conn)).or_insert(at);
        at = at.max(*last); // a stream: no reordering within a connection
        *last = at;
        self.seq += 1;
        self.queue.insert((at, self.seq), (other, oc, bytes));
    }

    fn leechers_done(&self) -> usize {
        (1..=self.cfg.leechers)
            .filter(|&i| self.nodes[i].torrent.is_complete())
            .count()
    }

    /// Runs until every leecher is complete or the virtual time limit passes; returns the
    /// virtual time taken.
    fn run(&mut self) -> Duration {
        while self.leechers_done() < self.cfg.leechers {
            let next_delivery = self.queue.keys().next().map(|k| k.0);
            let next_timer = self.nodes.iter().filter_map(|n| n.timeout).min();
            let Some(next) = [next_delivery, next_timer].into_iter().flatten().min() else {
                break;
            };
            self.now = self.now.max(next);
            assert!(
                self.now - self.start < self.cfg.limit,
                "not done after {:?}: {}/{} complete",
                self.cfg.limit,
                self.leechers_done(),
                self.cfg.leechers
            );
            while let Some((&key, _)) = self.queue.iter().next() {
                if key.0 > self.now {
                    break;
                }
                let (node, conn, bytes) = self.queue.remove(&key).unwrap();
                if self.links.contains_key(&(node, conn)) {
                    self.nodes[node]
                        .torrent
                        .handle_bytes(self.now, conn, &bytes);
                    self.pump(node);
                }
            }
            for i in 0..self.nodes.len() {
                if self.nodes[i].timeout.is_some_and(|t| t <= self.now) {
                    self.nodes[i].torrent.handle_timeout(self.now);
                    self.pump(i);
                    let t = &self.nodes[i].torrent;
                    let snubbed_by_bad = t.connections().any(|c| {
                        self.links
                            .get(&(i, c))
                            .is_some_and(|&(o, _)| self.nodes[o].behaviour != Behaviour::Honest)
                            && t.connection(c).is_some_and(|c| c.is_snubbed())
                    });
                    if snubbed_by_bad {
                        self.saw_snub.insert(i);
                    }
                }
            }
        }
        self.now - self.start
    }
}

fn base(size: u64, leechers: usize, seed: u64) -> SimConfig {
    SimConfig {
        size,
        piece_length: 256 * 1024,
        leechers,
        fanout: 12,
        seed_rate: 1_000_000.0,
        peer_rate: 1_000_000.0,
        bad_rate: 1_000_000.0,
        bad: Vec::new(),
        silent_after: Duration::MAX,
        loss: 0.01,
        seed,
        limit: Duration::from_secs(3600),
    }
}

/// The acceptance scenario: 50 peers and one seed finish a 64 MiB torrent, every copy
/// is exact, and the seed uploads at most twice the file size.
#[test]
fn fifty_peers_and_one_seed_finish_64_mib_with_the_seed_uploading_at_most_2x() {
    let size = 64 << 20;
    let mut sim = Sim::new(base(size, 50, 1));
    let took = sim.run();
    for i in 1..=50 {
        assert_eq!(
            sim.nodes[i].storage.contents(),
            sim.data,
            "peer {i} has a bad copy"
        );
    }
    let seed_up = sim.piece_bytes_sent[0];
    let ratio = seed_up as f64 / size as f64;
    let report = format!(
        "50 peers, 64 MiB: {took:?} virtual, seed uploaded {seed_up} bytes = {ratio:.2}x the file"
    );
    assert!(ratio <= 2.0, "{report}");
    assert!(
        ratio >= 1.0,
        "the seed must have sent every piece at least once: {report}"
    );
    // Visible with --nocapture; the numbers go into the report.
    eprintln!("{report}");
}

/// A peer that serves corrupt blocks is banned by those it fed, and everyone still completes.
#[test]
fn a_peer_sending_corrupt_blocks_is_banned_and_the_download_completes() {
    let mut cfg = base(8 << 20, 8, 2);
    cfg.bad = vec![Behaviour::Corrupt];
    cfg.fanout = 4;
    let mut sim = Sim::new(cfg);
    sim.run();
    let bad = sim.nodes.len() - 1;
    for i in 1..=8 {
        assert_eq!(sim.nodes[i].storage.contents(), sim.data, "peer {i}");
    }
    let failures: u32 = sim.nodes[1..=8].iter().map(|n| n.verified_failures).sum();
    let banned: Vec<usize> = sim.nodes[1..=8]
        .iter()
        .flat_map(|n| n.banned.iter().copied())
        .collect();
    eprintln!(
        "corrupt peer: {failures} failed hash checks, banned by {} peers",
        banned.len()
    );
    assert!(
        failures > 0,
        "the corrupt peer's data was caught by hash checks"
    );
    assert!(banned.len() >= 6, "most peers it fed banned it: {banned:?}");
    assert!(
        banned.iter().all(|&b| b == bad),
        "only the corrupt peer is banned, never an honest one: {banned:?}"
    );
    assert!(
        !sim.links.keys().any(|&(n, _)| n == bad),
        "nobody is still connected to the corrupt peer"
    );
}

/// A peer that stops answering has its requests timed out and re-issued to others.
#[test]
fn a_peer_that_stops_answering_is_timed_out_and_its_requests_reissued() {
    // Slow honest peers and a fast node that everyone loads with requests, then goes silent.
    let mut cfg = base(8 << 20, 8, 3);
    cfg.bad = vec![Behaviour::GoesSilent];
    cfg.silent_after = Duration::from_secs(5);
    cfg.seed_rate = 100_000.0;
    cfg.peer_rate = 100_000.0;
    cfg.bad_rate = 2_000_000.0;
    cfg.fanout = 4;
    let mut sim = Sim::new(cfg);
    let took = sim.run();
    for i in 1..=8 {
        assert_eq!(sim.nodes[i].storage.contents(), sim.data, "peer {i}");
    }
    let silent = sim.nodes.len() - 1;
    eprintln!(
        "silent peer: served {} bytes, {} peers timed it out, done in {took:?}",
        sim.piece_bytes_sent[silent],
        sim.saw_snub.len()
    );
    assert!(
        sim.piece_bytes_sent[silent] > 0,
        "it served before going silent"
    );
    assert!(
        sim.saw_snub.len() >= 4,
        "its peers timed out their requests: {:?}",
        sim.saw_snub
    );
    // The stalled requests went to the others: nobody waited for the 180 s idle timeout.
    assert!(
        took > Duration::from_secs(35) && took < Duration::from_secs(180),
        "{took:?}"
    );
}
