//! Simulations of the bad-block hunt of v2 torrents, on a virtual clock in the style of
//! `swarm.rs`: one downloader (`Torrent` over `MemoryStorage`) and seeds linked by in-memory
//! streams with latency and per-node upload rates. Seeds may serve spoiled blocks, and answer
//! the downloader's BEP 52 hash requests honestly, with forged leaves, with a reject, or not at
//! all. The seeds' answers are the simulation's: it takes `hash request`s out of the
//! downloader's stream and puts its answer into the seed's, as the Verify stand-in of
//! `swarm.rs` stands in for SHA-1.

// Each scenario prints its measured numbers (run with `--nocapture` to see them).
#![allow(clippy::print_stderr)]

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use torrentkit_metainfo::merkle::{self, Hash256};
use torrentkit_peer::storage::{Layout, MemoryStorage, Storage};
use torrentkit_peer::{
    Action, Bitfield, ConnId, DiskJob, MerklePieces, Rng, Torrent, TorrentConfig, HUNT_WAIT,
};
use torrentkit_wire::{HashMessage, HashRequest};

const HASH: [u8; 20] = [0x2b; 20];
const BLOCK: usize = 16 * 1024;
const PIECE: u32 = 256 * 1024;
const SIZE: u64 = 4 << 20;

/// How a seed answers a hash request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Leaves {
    /// The true leaves.
    Honest,
    /// Leaves of the data it serves (spoiled blocks included): they do not hash to the piece's
    /// trusted hash when it spoiled a block of the piece; otherwise they look honest.
    FromItsData,
    /// A `hash reject`.
    Reject,
    /// Nothing at all.
    Silent,
}

#[derive(Debug, Clone)]
struct SeedSpec {
    /// (piece, block) it serves garbage for.
    spoiled: Vec<(u32, u32)>,
    leaves: Leaves,
}

fn honest() -> SeedSpec {
    SeedSpec {
        spoiled: Vec::new(),
        leaves: Leaves::Honest,
    }
}

struct Node {
    torrent: Torrent,
    addr: SocketAddr,
    storage: MemoryStorage,
    spec: SeedSpec,
    up_free: Instant,
    timeout: Option<Instant>,
}

/// What the downloader reported.
#[derive(Debug, Default)]
struct Seen {
    /// (seed, piece, offset) of each bad block named.
    bad_blocks: Vec<(usize, u32, u32)>,
    /// (seed, piece) of each forged-leaves strike.
    forged: Vec<(usize, u32)>,
    banned: Vec<usize>,
    /// Hash requests the downloader sent: (seed, request).
    asked: Vec<(usize, HashRequest, Instant)>,
    failed_checks: u32,
    /// The downloader's closes: (seed, reason, when).
    closed: Vec<(usize, String, Duration)>,
}

struct Sim {
    nodes: Vec<Node>,
    data: Vec<u8>,
    leaves: Vec<Hash256>,
    links: HashMap<(usize, ConnId), (usize, ConnId)>,
    last_delivery: HashMap<(usize, ConnId), Instant>,
    /// The downloader's outgoing bytes on each link not yet cut into whole messages.
    pending: HashMap<ConnId, (bool, Vec<u8>)>,
    queue: BTreeMap<(Instant, u64), (usize, ConnId, Vec<u8>)>,
    seq: u64,
    start: Instant,
    now: Instant,
    seen: Seen,
    next_port: u16,
}

fn addr(i: usize) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 1, 0, i as u8 + 1)), 6881)
}

impl Sim {
    /// A downloader (node 0) and `seeds`; `v2`: the downloader knows the Merkle tree.
    fn new(seeds: Vec<SeedSpec>, v2: bool, max_strikes: u32) -> Sim {
        let mut rng = Rng::new(21);
        let mut data = vec![0u8; SIZE as usize];
        rng.fill(&mut data);
        let leaves: Vec<Hash256> = data.chunks(BLOCK).map(merkle::leaf).collect();
        let layout = Layout::new([(["v2.bin"], SIZE)], PIECE).unwrap();
        let pieces = layout.piece_count();
        let start = Instant::now();
        let merkle = Arc::new(MerklePieces::single_file(&leaves, SIZE, PIECE));
        let make = |i: usize, spec: SeedSpec| {
            let mut peer_id = [0u8; 20];
            peer_id[..8].copy_from_slice(&(i as u64 + 1).to_be_bytes());
            let mut tc = TorrentConfig::new(HASH, peer_id, SIZE, PIECE, 7 + i as u64);
            tc.connection.listen_port = Some(6881);
            tc.max_strikes = max_strikes;
            let seed = i > 0;
            if v2 {
                tc.merkle = Some(merkle.clone());
            }
            let (have, storage) = if seed {
                let s = MemoryStorage::with_data(layout.clone(), data.clone()).unwrap();
                (Bitfield::full(pieces), s)
            } else {
                (Bitfield::new(pieces), MemoryStorage::new(layout.clone()))
            };
            Node {
                torrent: Torrent::new(tc, &have),
                addr: addr(i),
                storage,
                spec,
                up_free: start,
                timeout: None,
            }
        };
        let mut nodes = vec![make(0, honest())];
        for (k, s) in seeds.into_iter().enumerate() {
            nodes.push(make(k + 1, s));
        }
        let mut sim = Sim {
            nodes,
            data,
            leaves,
            links: HashMap::new(),
            last_delivery: HashMap::new(),
            pending: HashMap::new(),
            queue: BTreeMap::new(),
            seq: 0,
            start,
            now: start,
            seen: Seen::default(),
            next_port: 40000,
        };
        for i in 1..sim.nodes.len() {
            let a = sim.nodes[i].addr;
            sim.nodes[0].torrent.add_peer(a);
        }
        for i in 0..sim.nodes.len() {
            sim.pump(i);
        }
        sim
    }

    fn node_at(&self, a: SocketAddr) -> Option<usize> {
        self.nodes.iter().position(|n| n.addr == a)
    }

    fn dial(&mut self, a: usize, conn: ConnId, to: SocketAddr) {
        let Some(b) = self.node_at(to) else {
            self.nodes[a].torrent.handle_dial_failed(self.now, conn);
            return;
        };
        self.next_port += 1;
        let from = SocketAddr::new(self.nodes[a].addr.ip(), self.next_port);
        let Some(cb) = self.nodes[b].torrent.handle_incoming(self.now, from) else {
            self.nodes[a].torrent.handle_dial_failed(self.now, conn);
            return;
        };
        if !self.nodes[a].torrent.handle_connected(self.now, conn) {
            self.nodes[b].torrent.remove_connection(cb);
            return;
        }
        self.links.insert((a, conn), (b, cb));
        self.links.insert((b, cb), (a, conn));
        self.pump(b);
    }

    fn close(&mut self, node: usize, conn: ConnId) {
        if let Some((other, oc)) = self.links.remove(&(node, conn)) {
            self.links.remove(&(other, oc));
            self.nodes[other].torrent.remove_connection(oc);
            self.pump(other);
        }
    }

    /// The seed on the other end of the downloader's `conn`.
    fn seed_of(&self, conn: ConnId) -> usize {
        self.links.get(&(0, conn)).map_or(usize::MAX, |&(o, _)| o)
    }

    fn pump(&mut self, i: usize) {
        loop {
            let mut busy = false;
            while let Some(action) = self.nodes[i].torrent.poll_action() {
                busy = true;
                let now = self.now;
                match action {
                    Action::Connect { conn, addr } => self.dial(i, conn, addr),
                    Action::Disk(DiskJob::Write {
                        piece,
                        offset,
                        data,
                    }) => self.nodes[i].storage.write(piece, offset, &data).unwrap(),
                    Action::Disk(DiskJob::Read { conn, request }) => {
                        let node = &mut self.nodes[i];
                        let mut buf = vec![0u8; request.len as usize];
                        node.storage
                            .read(request.piece, request.offset, &mut buf)
                            .unwrap();
                        let block = request.offset / BLOCK as u32;
                        if node.spec.spoiled.contains(&(request.piece, block)) {
                            buf[100] ^= 0xff;
                        }
                        node.torrent.handle_read(now, conn, request, Some(&buf));
                    }
                    Action::Disk(DiskJob::Verify { piece }) => {
                        // Stands in for the hash check: compare with the original content.
                        let got = self.nodes[i].storage.read_piece(piece).unwrap();
                        let at = piece as usize * PIECE as usize;
                        let ok = got == self.data[at..at + got.len()];
                        if !ok {
                            self.seen.failed_checks += 1;
                        }
                        self.nodes[i].torrent.handle_verified(now, piece, ok);
                    }
                    Action::Disk(DiskJob::PieceLeaves { piece, len }) => {
                        let got = self.nodes[i].storage.read_piece(piece).unwrap();
                        let hashes = got[..len as usize]
                            .chunks(BLOCK)
                            .map(merkle::leaf)
                            .collect();
                        self.nodes[i]
                            .torrent
                            .handle_piece_leaves(now, piece, Some(hashes));
                    }
                    Action::Disk(DiskJob::Flush) => {}
                    Action::Close { conn, reason } => {
                        if i == 0 {
                            let s = self.seed_of(conn);
                            self.seen
                                .closed
                                .push((s, format!("{reason}"), now - self.start));
                        }
                        self.close(i, conn);
                    }
                    Action::Ban { conn } => {
                        let s = self.seed_of(conn);
                        self.seen.banned.push(s);
                    }
                    Action::BadBlock {
                        addr,
                        piece,
                        offset,
                        ..
                    } => {
                        let s = addr.and_then(|a| self.node_at(a)).unwrap_or(usize::MAX);
                        self.seen.bad_blocks.push((s, piece, offset));
                    }
                    Action::ForgedHashes { conn, piece } => {
                        let s = self.seed_of(conn);
                        self.seen.forged.push((s, piece));
                    }
                    _ => {}
                }
            }
            let conns: Vec<ConnId> = self.nodes[i].torrent.connections().collect();
            for c in conns {
                while let Some(bytes) = self.nodes[i].torrent.poll_transmit(c) {
                    busy = true;
                    if i == 0 {
                        self.relay_downloader(c, bytes);
                    } else {
                        self.send(i, c, bytes);
                    }
                }
            }
            if !busy {
                self.nodes[i].timeout = self.nodes[i].torrent.poll_timeout();
                return;
            }
        }
    }

    /// The downloader's bytes on `conn`: cut into whole messages, hash requests answered by
    /// the simulation for the seed, the rest sent on.
    fn relay_downloader(&mut self, conn: ConnId, bytes: Vec<u8>) {
        let (shook, buf) = self.pending.entry(conn).or_default();
        buf.extend_from_slice(&bytes);
        let mut out = Vec::new();
        let mut requests = Vec::new();
        if !*shook {
            if buf.len() < 68 {
                return;
            }
            out.extend(buf.drain(..68));
            *shook = true;
        }
        loop {
            if buf.len() < 4 {
                break;
            }
            let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
            if buf.len() < 4 + len {
                break;
            }
            let frame: Vec<u8> = buf.drain(..4 + len).collect();
            if len > 0 && frame[4] == 21 {
                match HashMessage::decode(21, &frame[5..]) {
                    Some(Ok(HashMessage::Request(r))) => requests.push(r),
                    other => panic!("a bad hash request: {other:?}"),
                }
            } else {
                out.extend_from_slice(&frame);
            }
        }
        if !out.is_empty() {
            self.send(0, conn, out);
        }
        let seed = self.seed_of(conn);
        for r in requests {
            self.seen.asked.push((seed, r, self.now));
            self.answer(seed, r);
        }
    }

    /// Seed `seed` answers hash request `r` as its spec says.
    fn answer(&mut self, seed: usize, r: HashRequest) {
        let Some(sc) = self
            .links
            .iter()
            .find(|(&(n, _), &(o, _))| n == seed && o == 0)
            .map(|(&(_, c), _)| c)
        else {
            return;
        };
        assert_eq!(r.base_layer, 0, "the downloader asks for leaves");
        assert_eq!(r.uncle_count(), 0, "the trusted piece hash is the proof");
        let spec = self.nodes[seed].spec.clone();
        let leaf = |i: u32| -> Hash256 {
            let Some(&good) = self.leaves.get(i as usize) else {
                return [0; 32];
            };
            let piece = i * BLOCK as u32 / PIECE;
            let block = i % (PIECE / BLOCK as u32);
            if spec.leaves == Leaves::FromItsData && spec.spoiled.contains(&(piece, block)) {
                let mut b = self.data[i as usize * BLOCK..(i as usize + 1) * BLOCK].to_vec();
                b[100] ^= 0xff;
                return merkle::leaf(&b);
            }
            good
        };
        let msg = match spec.leaves {
            Leaves::Silent => return,
            Leaves::Reject => HashMessage::Reject(r),
            Leaves::Honest | Leaves::FromItsData => HashMessage::Hashes {
                request: r,
                hashes: (r.index..r.index + r.length).map(leaf).collect(),
            },
        };
        let mut bytes = Vec::new();
        msg.encode(&mut bytes);
        self.send(seed, sc, bytes);
    }

    fn send(&mut self, i: usize, conn: ConnId, bytes: Vec<u8>) {
        let Some(&(other, oc)) = self.links.get(&(i, conn)) else {
            return;
        };
        // 2 MB/s up per node, 20 ms each way.
        let node = &mut self.nodes[i];
        let begin = node.up_free.max(self.now);
        node.up_free = begin + Duration::from_secs_f64(bytes.len() as f64 / 2e6);
        let at = node.up_free + Duration::from_millis(20);
        let last = self.last_delivery.entry((i, conn)).or_insert(at);
        let at = at.max(*last);
        *last = at;
        self.seq += 1;
        self.queue.insert((at, self.seq), (other, oc, bytes));
    }

    fn run(&mut self) -> Duration {
        while !self.nodes[0].torrent.is_complete() {
            let next = [
                self.queue.keys().next().map(|k| k.0),
                self.nodes.iter().filter_map(|n| n.timeout).min(),
            ]
            .into_iter()
            .flatten()
            .min()
            .expect("the simulation stalled");
            self.now = self.now.max(next);
            assert!(
                self.now - self.start < Duration::from_secs(600),
                "not done after 600 s"
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
                }
            }
        }
        self.now - self.start
    }

    fn downloaded(&self) -> u64 {
        self.nodes[0].torrent.transferred().0
    }

    /// Bytes fetched, how many of them were duplicates (endgame requests of one block to
    /// several peers, the torrent's `wasted`), and the most that the torrent plus one block
    /// per bad block may take without them.
    fn fetched_against(&self, bad: usize) -> (u64, u64, u64) {
        let bad = bad as u64 * BLOCK as u64;
        (
            self.downloaded(),
            self.nodes[0].torrent.wasted(),
            SIZE + bad,
        )
    }

    fn assert_intact(&self) {
        assert!(
            self.nodes[0].storage.contents() == self.data,
            "the downloader's copy differs"
        );
    }
}

/// Every (piece, block) a seed spoils: block `b` of each piece in `pieces`.
fn spoil(pieces: impl IntoIterator<Item = u32>, block: u32) -> Vec<(u32, u32)> {
    pieces.into_iter().map(|p| (p, block)).collect()
}

#[test]
fn honest_seeds_only_no_hash_request_and_no_waste() {
    let mut sim = Sim::new(vec![honest(), honest(), honest()], true, 2);
    let took = sim.run();
    sim.assert_intact();
    assert_eq!(sim.seen.failed_checks, 0);
    assert!(sim.seen.asked.is_empty(), "{:?}", sim.seen.asked);
    assert!(sim.seen.bad_blocks.is_empty() && sim.seen.banned.is_empty());
    eprintln!("honest: {took:?}, {} bytes for {SIZE}", sim.downloaded());
}

#[test]
fn a_liars_bad_block_is_named_and_only_that_block_fetched_again() {
    // The liar spoils block 3 of every piece; it never answers hash requests.
    let liar = SeedSpec {
        spoiled: spoil(0..16, 3),
        leaves: Leaves::Silent,
    };
    // Strikes high enough that the liar stays, so every spoiled block it sent is seen.
    let mut sim = Sim::new(vec![liar, honest(), honest()], true, 1000);
    let took = sim.run();
    sim.assert_intact();
    let bad = &sim.seen.bad_blocks;
    assert!(!bad.is_empty(), "the liar sent no spoiled block");
    for &(seed, piece, offset) in bad {
        assert_eq!(
            seed, 1,
            "only the liar is named: {bad:?} {:?}",
            sim.seen.closed
        );
        assert_eq!(offset, 3 * BLOCK as u32, "piece {piece}: the spoiled block");
    }
    // Every failed check was explained block by block (none fell back to a whole piece).
    assert_eq!(bad.len() as u32, sim.seen.failed_checks);
    let (d, dupes, most) = sim.fetched_against(bad.len());
    eprintln!(
        "one liar: {took:?}, {} bad blocks, {d} bytes for {SIZE}, {dupes} of them endgame \
         duplicates (at most {most} without them)",
        bad.len()
    );
    assert!(
        d - dupes <= most,
        "{d} bytes fetched, {dupes} duplicates, more than {most}"
    );
}

#[test]
fn a_liar_that_forges_its_leaves_is_struck_for_them() {
    // The liar spoils block 5 of every piece and answers with leaves of its own data; the
    // honest seed refuses hash requests, so after the wait the liar itself is asked.
    let liar = SeedSpec {
        spoiled: spoil(0..16, 5),
        leaves: Leaves::FromItsData,
    };
    let refuser = SeedSpec {
        spoiled: Vec::new(),
        leaves: Leaves::Reject,
    };
    let mut sim = Sim::new(vec![liar, refuser], true, 1000);
    let took = sim.run();
    sim.assert_intact();
    assert!(sim.seen.failed_checks > 0);
    let forged = &sim.seen.forged;
    assert!(!forged.is_empty(), "no forged leaves caught");
    assert!(forged.iter().all(|&(s, _)| s == 1), "{forged:?}");
    // The liar was asked only after the wait for another peer.
    for &(s, r, at) in &sim.seen.asked {
        if s == 1 {
            let piece = r.index / (PIECE / BLOCK as u32);
            assert!(
                at - sim.start >= HUNT_WAIT,
                "piece {piece}: the sender was asked at once"
            );
        }
    }
    eprintln!(
        "forging liar: {took:?}, {} forged replies, {} failed checks",
        forged.len(),
        sim.seen.failed_checks
    );
}

#[test]
fn no_leaves_from_anyone_falls_back_to_the_whole_piece() {
    let liar = SeedSpec {
        spoiled: spoil(0..16, 0),
        leaves: Leaves::Silent,
    };
    let silent = SeedSpec {
        spoiled: Vec::new(),
        leaves: Leaves::Silent,
    };
    let mut sim = Sim::new(vec![liar, silent], true, 2);
    let took = sim.run();
    sim.assert_intact();
    assert!(
        sim.seen.failed_checks > 0,
        "the liar's spoiled pieces were never fetched from it"
    );
    assert!(sim.seen.bad_blocks.is_empty());
    assert!(
        !sim.seen.asked.is_empty(),
        "the leaves were never asked for"
    );
    // The whole piece came again, after the asks timed out.
    assert!(sim.downloaded() >= SIZE + u64::from(PIECE));
    assert!(took >= HUNT_WAIT);
    eprintln!(
        "nobody answers: {took:?}, {} failed checks, {} asks, {} bytes",
        sim.seen.failed_checks,
        sim.seen.asked.len(),
        sim.downloaded()
    );
}

#[test]
fn bad_blocks_from_two_senders_are_each_charged_to_their_sender() {
    let a = SeedSpec {
        spoiled: spoil(0..16, 1),
        leaves: Leaves::Silent,
    };
    let b = SeedSpec {
        spoiled: spoil(0..16, 10),
        leaves: Leaves::Silent,
    };
    let mut sim = Sim::new(vec![a, b, honest()], true, 1000);
    let took = sim.run();
    sim.assert_intact();
    let bad = &sim.seen.bad_blocks;
    for &(seed, piece, offset) in bad {
        let want = if seed == 1 { 1 } else { 10 };
        assert!(seed == 1 || seed == 2, "{bad:?}");
        assert_eq!(
            offset,
            want * BLOCK as u32,
            "piece {piece} from seed {seed}"
        );
    }
    assert!(bad.iter().any(|b| b.0 == 1) && bad.iter().any(|b| b.0 == 2));
    // Some piece had bad blocks from both at once.
    let both = (0..16).any(|p| {
        bad.iter().any(|b| b.0 == 1 && b.1 == p) && bad.iter().any(|b| b.0 == 2 && b.1 == p)
    });
    let (d, dupes, most) = sim.fetched_against(bad.len());
    eprintln!(
        "two liars: {took:?}, {} bad blocks (a piece with both: {both}), {} failed checks, \
         {d} bytes, {dupes} of them endgame duplicates (at most {most} without them)",
        bad.len(),
        sim.seen.failed_checks
    );
    assert!(d - dupes <= most, "{d} - {dupes} > {most}");
}

#[test]
fn a_v1_torrent_is_unaffected() {
    let liar = SeedSpec {
        spoiled: spoil(0..16, 3),
        leaves: Leaves::Honest,
    };
    let mut sim = Sim::new(vec![liar, honest()], false, 2);
    let took = sim.run();
    sim.assert_intact();
    assert!(sim.seen.failed_checks > 0);
    assert!(sim.seen.asked.is_empty(), "a v1 torrent sent hash requests");
    assert!(sim.seen.bad_blocks.is_empty());
    // The old rule: a lone sender of a failed piece is struck, and twice is a ban.
    assert_eq!(sim.seen.banned, [1]);
    eprintln!(
        "v1: {took:?}, {} failed checks, {} bytes",
        sim.seen.failed_checks,
        sim.downloaded()
    );
}
