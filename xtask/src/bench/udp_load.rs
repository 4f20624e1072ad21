//! A UDP tracker load generator (BEP 15): threads that each connect once, then keep a window of
//! random announces in flight and time every reply.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use torrentkit_tracker_proto::{
    action, reply_header, InfoHash, PeerId, UdpAnnounce, UdpRequest, UdpResponse, ANNOUNCE_LEN,
};

/// What to send.
#[derive(Clone, Debug)]
pub(crate) struct UdpLoad {
    /// Sending threads, one socket each.
    pub(crate) threads: usize,
    /// Announces in flight per thread.
    pub(crate) window: usize,
    /// How long to send.
    pub(crate) duration: Duration,
    /// The info-hashes to announce, drawn at random.
    pub(crate) pool: Arc<Vec<[u8; 20]>>,
    /// `num_want` of every announce.
    pub(crate) numwant: i32,
    /// 0: every announce is a new peer (a random peer id). Otherwise a fixed pool of this many
    /// peers, each with its own distinct id, key and port and bound to torrent `peer % pool`,
    /// announcing again and again, as aquatic's load generator does (it draws 2,000,000 peers
    /// over 1,000,000 torrents).
    pub(crate) peers: usize,
}

/// What came back.
#[derive(Debug, Default)]
pub(crate) struct UdpResult {
    /// Announce replies received.
    pub(crate) replies: u64,
    /// Error replies received (action 3).
    pub(crate) errors: u64,
    /// Requests given up on after a receive timeout.
    pub(crate) lost: u64,
    /// Wall time of the run.
    pub(crate) elapsed: Duration,
    /// Microseconds from send to reply, one per announce reply.
    pub(crate) latencies_us: Vec<u32>,
    /// The first error message seen, if any.
    pub(crate) first_error: Option<String>,
    /// With a peer pool: which of its peers announced at least once (a bit per peer).
    pub(crate) seen: Vec<u64>,
}

impl UdpResult {
    pub(crate) fn rate(&self) -> f64 {
        self.replies as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// xorshift64*: fast, seeded, good enough to pick hashes and ids.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// Distinct slots for send times; far more than any window, so transaction ids never alias.
const SLOTS: usize = 1 << 16;
const RECV_TIMEOUT: Duration = Duration::from_millis(200);

fn connect(socket: &UdpSocket, deadline: Instant) -> anyhow::Result<u64> {
    const TRANSACTION: u32 = 0xc0ff_ee00;
    let mut req = Vec::with_capacity(16);
    UdpRequest::Connect {
        transaction_id: TRANSACTION,
    }
    .write(&mut req);
    let mut buf = [0u8; 64];
    loop {
        socket.send(&req).context("sending a UDP connect")?;
        if let Ok(n) = socket.recv(&mut buf) {
            if let Ok(UdpResponse::Connect {
                transaction_id: TRANSACTION,
                connection_id,
            }) = UdpResponse::parse(&buf[..n], false)
            {
                return Ok(connection_id);
            }
        }
        if Instant::now() >= deadline {
            bail!("no UDP connect reply from the tracker");
        }
    }
}

fn worker(target: SocketAddr, load: &UdpLoad, seed: u64) -> anyhow::Result<UdpResult> {
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).context("binding a UDP socket")?;
    socket
        .connect(target)
        .context("connecting the UDP socket")?;
    socket.set_read_timeout(Some(RECV_TIMEOUT))?;
    let conn = connect(&socket, Instant::now() + Duration::from_secs(10))?;
    let mut rng = Rng(seed | 1);
    let mut sent_at = vec![Instant::now(); SLOTS];
    let mut result = UdpResult {
        seen: vec![0; load.peers.div_ceil(64)],
        ..UdpResult::default()
    };
    // One announce encoded by tracker-proto; each send then patches the fields that vary (the
    // transaction id, info-hash, peer id, left, key and port) at their BEP 15 offsets, so the
    // generator spends its time sending rather than encoding.
    let mut packet = Vec::with_capacity(ANNOUNCE_LEN);
    UdpRequest::Announce(UdpAnnounce {
        connection_id: conn,
        transaction_id: 0,
        info_hash: InfoHash([0; 20]),
        peer_id: PeerId([0; 20]),
        downloaded: 0,
        left: 0,
        uploaded: 0,
        event: 2, // started
        ip: 0,
        key: 0,
        num_want: load.numwant,
        port: 0,
    })
    .write(&mut packet);
    let mut buf = [0u8; 2048];
    let mut seq: u32 = 0;
    let mut outstanding = 0usize;
    let start = Instant::now();
    let end = start + load.duration;
    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        while outstanding < load.window {
            let r = rng.next();
            packet[12..16].copy_from_slice(&seq.to_be_bytes());
            if load.peers == 0 {
                let hash = &load.pool[(r % load.pool.len() as u64) as usize];
                packet[16..36].copy_from_slice(hash);
                for chunk in packet[36..56].chunks_mut(8) {
                    let bytes = rng.next().to_le_bytes();
                    chunk.copy_from_slice(&bytes[..chunk.len()]);
                }
                packet[88..92].copy_from_slice(&(r as u32).to_be_bytes()); // key
                packet[96..98].copy_from_slice(&(1025 + (r >> 20) as u16 % 60000).to_be_bytes());
            } else {
                let peer = (r % load.peers as u64) as usize;
                result.seen[peer / 64] |= 1 << (peer % 64);
                packet[16..36].copy_from_slice(&load.pool[peer % load.pool.len()]);
                // A distinct id per pool peer: its number, then a fixed tail.
                packet[36..44].copy_from_slice(&(peer as u64).to_le_bytes());
                packet[44..56].copy_from_slice(b"-bench-peer-");
                packet[88..92].copy_from_slice(&(peer as u32).to_be_bytes()); // key
                packet[96..98].copy_from_slice(&(1025 + (peer % 60000) as u16).to_be_bytes());
            }
            packet[64..72].copy_from_slice(&(r >> 44).to_be_bytes()); // left
            sent_at[seq as usize % SLOTS] = Instant::now();
            // A full socket buffer drops the packet; the receive timeout accounts for it.
            let _ = socket.send(&packet);
            seq = seq.wrapping_add(1);
            outstanding += 1;
        }
        match socket.recv(&mut buf) {
            Ok(n) if n >= 8 => {
                outstanding = outstanding.saturating_sub(1);
                let (action, tid) = reply_header(&buf[..n]).unwrap_or_default();
                match action {
                    action::ANNOUNCE => {
                        result.replies += 1;
                        let us = sent_at[tid as usize % SLOTS].elapsed().as_micros();
                        result
                            .latencies_us
                            .push(u32::try_from(us).unwrap_or(u32::MAX));
                    }
                    action::ERROR => {
                        result.errors += 1;
                        if result.first_error.is_none() {
                            result.first_error =
                                Some(String::from_utf8_lossy(&buf[8..n]).into_owned());
                        }
                    }
                    _ => {}
                }
            }
            Ok(_) => outstanding = outstanding.saturating_sub(1),
            Err(_) => {
                result.lost += outstanding as u64;
                outstanding = 0;
            }
        }
    }
    result.elapsed = start.elapsed();
    Ok(result)
}

/// Runs `load` against the UDP tracker at `target` and merges the threads' results.
pub(crate) fn run(target: SocketAddr, load: &UdpLoad) -> anyhow::Result<UdpResult> {
    let handles: Vec<_> = (0..load.threads)
        .map(|i| {
            let load = load.clone();
            let seed =
                0x9e37_79b9_7f4a_7c15u64.wrapping_mul(i as u64 + 1) ^ u64::from(std::process::id());
            std::thread::spawn(move || worker(target, &load, seed))
        })
        .collect();
    let mut total = UdpResult::default();
    for h in handles {
        let r = h
            .join()
            .map_err(|_| anyhow::anyhow!("a UDP load thread panicked"))??;
        total.replies += r.replies;
        total.errors += r.errors;
        total.lost += r.lost;
        total.elapsed = total.elapsed.max(r.elapsed);
        total.latencies_us.extend(r.latencies_us);
        total.first_error = total.first_error.or(r.first_error);
        if total.seen.is_empty() {
            total.seen = r.seen;
        } else {
            for (t, w) in total.seen.iter_mut().zip(&r.seen) {
                *t |= w;
            }
        }
    }
    total.latencies_us.sort_unstable();
    Ok(total)
}

/// The `p`-th percentile (0-100) of sorted microseconds, in milliseconds.
pub(crate) fn percentile_ms(sorted_us: &[u32], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return f64::NAN;
    }
    let i = ((p / 100.0) * (sorted_us.len() - 1) as f64).round() as usize;
    f64::from(sorted_us[i.min(sorted_us.len() - 1)]) / 1000.0
}
