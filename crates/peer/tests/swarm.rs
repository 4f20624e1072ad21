//! Deterministic swarm simulations: whole torrents (`Torrent` state machines over
//! `MemoryStorage`) exchanging bytes over in-memory links with latency, loss (as TCP sees it:
//! a retransmission delay), per-node upload rates and seeded randomness, on a virtual clock.

// Each scenario prints its measured numbers (run with `--nocapture` to see them).
#![allow(clippy::print_stderr)]

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use torrentkit_peer::storage::{Layout, MemoryStorage, Storage};
use torrentkit_peer::{Action, Bitfield, ConnId, DiskJob, Rng, Torrent, TorrentConfig};

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
    /// Where it listens; its dials come from the same IP.
    addr: SocketAddr,
    /// The nodes it was told about at the start (and again at each re-announce).
    known: Vec<usize>,
    storage: MemoryStorage,
    upload_rate: f64,
    up_free: Instant,
    behaviour: Behaviour,
    /// The nodes this node banned, and when.
    banned: Vec<(usize, Instant)>,
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
    /// Every node names its known nodes to its torrent again this often, as a tracker's
    /// re-announces would (`None`: only at the start).
    reannounce: Option<Duration>,
    /// A node whose torrent allows this many connections (others keep the default).
    capped: Option<(usize, usize)>,
    /// The seed super-seeds (BEP 16).
    super_seed: bool,
    /// The seed refuses this many dials before it accepts one (it is still starting, say).
    seed_refuses: u32,
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
    /// Every dial a torrent asked for: who, to which node, when.
    dials: Vec<(usize, usize, Instant)>,
    /// Dials refused by the node dialled: who dialled, who refused, when.
    refused: Vec<(usize, usize, Instant)>,
    /// Per node, the most connections it had open at once, and the most addresses it kept
    /// waiting in its pool.
    most_connections: Vec<usize>,
    most_pooled: Vec<usize>,
    next_reannounce: Option<Instant>,
    /// Set once the start is wired up: from then on a dialled node is pumped at once (during
    /// the start every node is pumped once at the end, in order).
    started: bool,
}

fn node_addr(i: usize) -> SocketAddr {
    SocketAddr::new(
        IpAddr::V4(Ipv4Addr::new(10, 0, (i / 250) as u8, (i % 250) as u8 + 1)),
        6881,
    )
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
            tc.super_seed = seed && i == 0 && cfg.super_seed;
            if let Some((node, cap)) = cfg.capped {
                if node == i {
                    tc.max_connections = cap;
                }
            }
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
                addr: node_addr(i),
                known: Vec::new(),
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
            dials: Vec::new(),
            refused: Vec::new(),
            most_connections: vec![0; n],
            most_pooled: vec![0; n],
            next_reannounce: None,
            started: false,
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
        sim.started = true;
        sim.next_reannounce = sim.cfg.reannounce.map(|r| sim.start + r);
        sim
    }

    fn connected(&self, a: usize, b: usize) -> bool {
        self.links
            .iter()
            .any(|(&(na, _), &(nb, _))| na == a && nb == b)
    }

    /// At the start: tells node `a` about node `b` (unless they are linked already) and performs
    /// the dial it asks for.
    fn connect(&mut self, a: usize, b: usize) {
        if !self.nodes[a].known.contains(&b) {
            self.nodes[a].known.push(b);
        }
        if self.connected(a, b) {
            return;
        }
        let addr = self.nodes[b].addr;
        self.nodes[a].torrent.add_peer(addr);
        // Only the dial: bytes move when every node is pumped at the end of the start.
        while let Some(action) = self.nodes[a].torrent.poll_action() {
            match action {
                Action::Connect { conn, addr } => self.dial(a, conn, addr),
                other => panic!("at the start a torrent only dials: {other:?}"),
            }
        }
    }

    /// Node `a`'s torrent asked to dial `addr` on `conn`: the node there accepts or refuses
    /// (instantly: the sim has no TCP handshake delay).
    fn dial(&mut self, a: usize, conn: ConnId, addr: SocketAddr) {
        let Some(b) = self.nodes.iter().position(|n| n.addr == addr) else {
            self.nodes[a].torrent.handle_dial_failed(self.now, conn);
            return;
        };
        self.dials.push((a, b, self.now));
        if b == 0 && self.cfg.seed_refuses > 0 {
            self.cfg.seed_refuses -= 1;
            self.refused.push((a, b, self.now));
            self.nodes[a].torrent.handle_dial_failed(self.now, conn);
            return;
        }
        // The dial comes from a's IP and an ephemeral port.
        self.next_conn += 1;
        let from = SocketAddr::new(
            self.nodes[a].addr.ip(),
            1024 + (self.next_conn % 60000) as u16,
        );
        let Some(cb) = self.nodes[b].torrent.handle_incoming(self.now, from) else {
            self.refused.push((a, b, self.now));
            self.nodes[a].torrent.handle_dial_failed(self.now, conn);
            return;
        };
        if !self.nodes[a].torrent.handle_connected(self.now, conn) {
            self.nodes[b].torrent.remove_connection(cb);
            return;
        }
        self.links.insert((a, conn), (b, cb));
        self.links.insert((b, cb), (a, conn));
        let latency = Duration::from_millis(5 + self.rng.below(45));
        self.latency.insert((a, conn), latency);
        self.latency.insert((b, cb), latency);
        if self.started {
            self.pump(b);
        }
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
                    Action::Connect { conn, addr } => self.dial(i, conn, addr),
                    Action::Disk(DiskJob::Write {
                        piece,
                        offset,
                        data,
                    }) => node.storage.write(piece, offset, &data).unwrap(),
                    Action::Disk(DiskJob::Read { conn, request }) => {
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
                    Action::Disk(DiskJob::Verify { piece }) => {
                        // Stands in for the SHA-1 check: compare with the original content.
                        let got = node.storage.read_piece(piece).unwrap();
                        let start = piece as usize * self.cfg.piece_length as usize;
                        let ok = got == self.data[start..start + got.len()];
                        if !ok {
                            node.verified_failures += 1;
                        }
                        node.torrent.handle_verified(now, piece, ok);
                    }
                    Action::Disk(DiskJob::Flush) => node.storage.flush().unwrap(),
                    Action::Close { conn, .. } => self.close(i, conn),
                    Action::Ban { conn } => {
                        // Note whom the connection led to, before the close forgets it.
                        let to = self.links.get(&(i, conn)).map_or(usize::MAX, |&(o, _)| o);
                        self.nodes[i].banned.push((to, now));
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
                let t = &self.nodes[i].torrent;
                self.most_connections[i] = self.most_connections[i].max(t.connections().count());
                self.most_pooled[i] = self.most_pooled[i].max(t.pool_len());
                self.nodes[i].timeout = t.poll_timeout();
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
        while self.leechers_done() < self.cfg.leechers && self.step() {}
        self.now - self.start
    }

    /// Runs for `span` of virtual time (or until nothing is left to happen).
    fn run_for(&mut self, span: Duration) {
        let until = self.now + span;
        while self.now < until && self.step() {}
    }

    /// Moves the clock to the next delivery, timer or re-announce and handles everything due
    /// then; false when nothing is left to happen.
    fn step(&mut self) -> bool {
        let next_delivery = self.queue.keys().next().map(|k| k.0);
        let next_timer = self.nodes.iter().filter_map(|n| n.timeout).min();
        let Some(next) = [next_delivery, next_timer, self.next_reannounce]
            .into_iter()
            .flatten()
            .min()
        else {
            return false;
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
                    .handle_bytes(self.now, conn, bytes.into());
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
        if self.next_reannounce.is_some_and(|t| t <= self.now) {
            self.next_reannounce = self.cfg.reannounce.map(|r| self.now + r);
            for i in 0..self.nodes.len() {
                for k in 0..self.nodes[i].known.len() {
                    let addr = self.nodes[self.nodes[i].known[k]].addr;
                    self.nodes[i].torrent.add_peer(addr);
                }
                self.pump(i);
            }
        }
        true
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
        reannounce: None,
        capped: None,
        super_seed: false,
        seed_refuses: 0,
    }
}

/// The acceptance scenario: 50 peers and one seed finish a 64 MiB torrent, every copy
/// is exact, and the seed uploads at most 1.1 times the file size (it hands out distinct
/// pieces; the downloaders trade the rest).
#[test]
fn fifty_peers_and_one_seed_finish_64_mib_with_the_seed_uploading_at_most_1_1x() {
    fifty_peers(false, 1.1);
}

/// The same with a super-seeding seed (BEP 16): at most 1.05 times the file.
#[test]
fn fifty_peers_and_a_super_seed_finish_64_mib_with_the_seed_uploading_at_most_1_05x() {
    fifty_peers(true, 1.05);
}

fn fifty_peers(super_seed: bool, max_ratio: f64) {
    let size = 64 << 20;
    let mut cfg = base(size, 50, 1);
    cfg.super_seed = super_seed;
    let mut sim = Sim::new(cfg);
    let took = sim.run();
    for i in 1..=50 {
        assert_eq!(
            sim.nodes[i].verified_failures, 0,
            "peer {i} got a corrupt piece"
        );
    }
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
        "50 peers, 64 MiB, super-seed {super_seed}: {took:?} virtual, seed uploaded {seed_up} bytes = {ratio:.3}x the file"
    );
    assert!(ratio <= max_ratio, "{report}");
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
        .flat_map(|n| n.banned.iter().map(|&(b, _)| b))
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

/// A banned peer stays banned: with every node naming its peers to its torrent again every
/// 5 s (as re-announces do), no node that banned the corrupt peer dials it again, and the
/// corrupt peer's own dials to them are refused.
#[test]
fn a_banned_peer_is_never_dialled_again_and_its_dials_are_refused() {
    let mut cfg = base(8 << 20, 8, 2);
    cfg.bad = vec![Behaviour::Corrupt];
    cfg.fanout = 4;
    cfg.reannounce = Some(Duration::from_secs(5));
    let mut sim = Sim::new(cfg);
    let bad = sim.nodes.len() - 1;
    // The corrupt node learns of every leecher, so it dials them after each re-announce.
    for i in 1..=8 {
        sim.nodes[bad].known.push(i);
    }
    sim.run();
    for i in 1..=8 {
        assert_eq!(sim.nodes[i].storage.contents(), sim.data, "peer {i}");
    }
    let bans: Vec<(usize, Instant)> = (1..=8)
        .filter_map(|i| {
            let at = sim.nodes[i].banned.iter().find(|b| b.0 == bad)?.1;
            Some((i, at))
        })
        .collect();
    assert!(bans.len() >= 6, "most peers it fed banned it: {bans:?}");
    let mut refused = 0;
    for &(i, at) in &bans {
        assert!(sim.nodes[i].torrent.is_banned(sim.nodes[bad].addr.ip()));
        let redials: Vec<_> = sim
            .dials
            .iter()
            .filter(|&&(from, to, when)| from == i && to == bad && when > at)
            .collect();
        assert!(
            redials.is_empty(),
            "node {i} banned it at {:?} and dialled it again: {redials:?}",
            at - sim.start
        );
        refused += sim
            .refused
            .iter()
            .filter(|&&(from, to, when)| from == bad && to == i && when > at)
            .count();
        assert!(
            !sim.connected(i, bad) && !sim.connected(bad, i),
            "node {i} is still linked to the peer it banned"
        );
    }
    eprintln!(
        "ban: {} peers banned it, they refused {refused} of its dials",
        bans.len()
    );
    assert!(
        refused > 0,
        "the corrupt peer's dials after the bans were refused"
    );
}

/// A node allowed three connections never has more, keeps the other peers it hears of
/// waiting, refuses peers that dial it at the cap, and still completes.
#[test]
fn the_connection_cap_holds_in_a_swarm() {
    let mut cfg = base(4 << 20, 8, 4);
    cfg.fanout = 6;
    cfg.capped = Some((1, 3));
    cfg.reannounce = Some(Duration::from_secs(5));
    let mut sim = Sim::new(cfg);
    sim.run();
    for i in 1..=8 {
        assert_eq!(sim.nodes[i].storage.contents(), sim.data, "peer {i}");
    }
    let refused = sim.refused.iter().filter(|r| r.1 == 1).count();
    eprintln!(
        "cap 3: at most {} connections, {} addresses waiting, {refused} dials refused",
        sim.most_connections[1], sim.most_pooled[1]
    );
    assert_eq!(sim.most_connections[1], 3, "the cap is used and holds");
    assert!(
        sim.most_connections[2..=8].iter().any(|&n| n > 3),
        "the others are not capped: {:?}",
        sim.most_connections
    );
    assert!(
        sim.most_pooled[1] > 0,
        "peers beyond the cap wait in the pool"
    );
    assert!(refused > 0, "peers that dialled it at the cap were refused");
}

/// Pausing a node closes every connection at once and it receives nothing; peers that dial it
/// meanwhile are refused; resuming dials the peers it had dialled, and it completes.
#[test]
fn pause_drops_every_connection_and_resume_dials_them_again() {
    let mut cfg = base(8 << 20, 6, 5);
    cfg.fanout = 3;
    cfg.seed_rate = 500_000.0;
    cfg.reannounce = Some(Duration::from_secs(5));
    let mut sim = Sim::new(cfg);
    sim.run_for(Duration::from_secs(3));
    let node = 1;
    let have_before = sim.nodes[node].torrent.have().count();
    assert!(
        have_before > 0 && !sim.nodes[node].torrent.is_complete(),
        "{have_before} pieces at the pause"
    );
    let t = &sim.nodes[node].torrent;
    let mut dialled: Vec<usize> = t
        .connections()
        .filter(|&c| t.is_outgoing(c) == Some(true))
        .filter_map(|c| sim.links.get(&(node, c)).map(|&(o, _)| o))
        .collect();
    dialled.sort_unstable();
    assert!(!dialled.is_empty());

    sim.nodes[node].torrent.pause();
    sim.pump(node);
    assert_eq!(sim.nodes[node].torrent.connections().count(), 0);
    assert!(
        !sim.links.keys().any(|&(n, _)| n == node),
        "every link of the paused node is closed"
    );
    let paused_at = sim.now;
    sim.run_for(Duration::from_secs(20));
    assert_eq!(
        sim.nodes[node].torrent.have().count(),
        have_before,
        "nothing arrives while paused"
    );
    assert!(
        sim.refused
            .iter()
            .any(|&(_, to, when)| to == node && when > paused_at),
        "peers that dialled the paused node were refused"
    );
    assert!(
        !sim.dials
            .iter()
            .any(|&(from, _, when)| from == node && when > paused_at),
        "the paused node dialled nobody"
    );

    let resumed_at = sim.now;
    sim.nodes[node].torrent.resume();
    sim.pump(node);
    let mut redialled: Vec<usize> = sim
        .dials
        .iter()
        .filter(|&&(from, _, when)| from == node && when >= resumed_at)
        .map(|&(_, to, _)| to)
        .collect();
    redialled.sort_unstable();
    redialled.dedup();
    for peer in &dialled {
        assert!(
            redialled.contains(peer),
            "node {peer}, dialled before the pause, was not dialled on resume: {redialled:?}"
        );
    }
    sim.run();
    assert_eq!(sim.nodes[node].storage.contents(), sim.data);
}

/// A peer that refuses the first 3 dials (nobody re-announces it) is dialled again with
/// exponential backoff, 10 s, 20 s, 40 s after the failures, and then reached.
#[test]
fn a_peer_refusing_the_first_three_dials_is_reached_through_backoff() {
    let mut cfg = base(1 << 20, 1, 7);
    cfg.seed_refuses = 3;
    let mut sim = Sim::new(cfg);
    let took = sim.run();
    assert!(sim.nodes[1].torrent.is_complete());
    assert_eq!(sim.nodes[1].storage.contents(), sim.data);
    let at: Vec<u64> = sim
        .dials
        .iter()
        .filter(|&&(a, b, _)| a == 1 && b == 0)
        .map(|&(_, _, t)| (t - sim.start).as_secs())
        .collect();
    assert_eq!(
        at,
        vec![0, 10, 30, 70],
        "dials of the seed, seconds after the start"
    );
    assert_eq!(sim.refused.len(), 3);
    assert!(took >= Duration::from_secs(70), "{took:?}");
}

/// Peer exchange (BEP 11): 19 leechers introduced to the seed only learn of each other through
/// the seed's and each other's ut_pex messages, dial each other (source `pex`), and the swarm
/// completes with the seed uploading well under one copy per leecher.
#[test]
fn pex_spreads_a_20_peer_swarm_from_a_single_introduction() {
    let mut cfg = base(8 << 20, 19, 11);
    cfg.fanout = 0;
    cfg.seed_rate = 400_000.0;
    cfg.loss = 0.0;
    let mut sim = Sim::new(cfg);
    // Before any PEX message, each leecher knows the seed alone.
    for i in 1..=19 {
        assert_eq!(
            sim.nodes[i].known,
            [0],
            "leecher {i} was introduced to the seed only"
        );
    }
    sim.run_for(Duration::from_secs(30));
    let mut by_pex = 0;
    for i in 1..=19 {
        let t = &sim.nodes[i].torrent;
        if t.connections()
            .any(|c| t.peer_source(c) == Some(torrentkit_peer::PeerSource::Pex))
        {
            by_pex += 1;
        }
    }
    assert!(
        by_pex >= 15,
        "only {by_pex} of 19 leechers dialled a peer learnt by PEX"
    );
    let took = sim.run();
    let mut met = vec![std::collections::BTreeSet::new(); 20];
    for &(a, b, _) in &sim.dials {
        if a != 0 && b != 0 {
            met[a].insert(b);
            met[b].insert(a);
        }
    }
    for (i, others) in met.iter().enumerate().skip(1) {
        assert_eq!(
            sim.nodes[i].storage.contents(),
            sim.data,
            "peer {i} has a bad copy"
        );
        assert!(
            others.len() >= 5,
            "leecher {i} met only {others:?} through PEX"
        );
    }
    let ratio = sim.piece_bytes_sent[0] as f64 / (8u64 << 20) as f64;
    assert!(
        ratio < 10.0,
        "the seed uploaded {ratio:.1} copies: the leechers did not trade"
    );
    eprintln!("PEX swarm of 20: {took:?} virtual, seed uploaded {ratio:.2}x the file");
}
