//! Downloads or seeds a `.torrent` with the session driver: a hand-driven check against other
//! clients, e.g. `cargo run -p torrentkit-peer --example fetch -- x.torrent DIR --peer 127.0.0.1:6881`.
//!
//! Usage: `fetch TORRENT DIR [--seed] [--port P] [--peer HOST:PORT]...`. DIR is the directory
//! that holds (or will hold) the torrent's file or top directory.

// An example program reports on stderr.
#![allow(clippy::print_stderr)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::net::TcpListener;
use torrentkit_metainfo::Torrent;
use torrentkit_peer::session::{recheck, Session, SessionConfig};
use torrentkit_peer::storage::{FileStorage, FileStorageConfig, Layout};
use torrentkit_peer::Rng;
use torrentkit_wire::PeerId;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut positional, mut peers, mut seed, mut port) = (Vec::new(), Vec::new(), false, 0u16);
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seed" => seed = true,
            "--port" => port = it.next().ok_or("--port needs a value")?.parse()?,
            "--peer" => peers.push(
                it.next()
                    .ok_or("--peer needs a value")?
                    .parse::<SocketAddr>()?,
            ),
            _ => positional.push(a),
        }
    }
    let [torrent_path, dir] = &positional[..] else {
        return Err("usage: fetch TORRENT DIR [--seed] [--port P] [--peer HOST:PORT]...".into());
    };
    let torrent = Torrent::read(torrent_path)?;
    let info = torrent.info();
    let layout = Layout::from_info(info)?;
    let storage = Arc::new(FileStorage::new(dir, layout, FileStorageConfig::default()));
    let started = Instant::now();
    let have = recheck(storage.as_ref(), info.pieces(), 2);
    eprintln!(
        "re-check: {}/{} pieces in {:?}",
        have.count(),
        have.len(),
        started.elapsed()
    );

    let mut random = [0u8; 12];
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos() as u64;
    Rng::new(nanos ^ u64::from(std::process::id())).fill(&mut random);
    let peer_id = PeerId::generate(random);
    let listener = TcpListener::bind(("0.0.0.0", port)).await?;
    let port = listener.local_addr()?.port();
    let mut sc = SessionConfig::from_torrent(&torrent, peer_id.0, nanos);
    sc.listen_port = port;
    sc.seed = seed;
    eprintln!("listening on port {port}");
    let session = Session::start(sc, storage, have, Some(listener));
    for p in peers {
        session.add_peer(p);
    }
    let mut progress = session.progress();
    let t0 = Instant::now();
    let report = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let p = progress.borrow_and_update().clone();
            eprintln!(
                "{:5.1}s {}/{} pieces, down {:.1} MB/s up {:.1} MB/s, peers {} seeds {}, {} hash failures",
                t0.elapsed().as_secs_f64(),
                p.have,
                p.pieces,
                p.download_rate as f64 / 1e6,
                p.upload_rate as f64 / 1e6,
                p.peers,
                p.seeds,
                p.hash_failures
            );
        }
    });
    let summary = if seed {
        tokio::signal::ctrl_c().await?;
        session.stop().await
    } else {
        session.join().await
    };
    report.abort();
    let secs = t0.elapsed().as_secs_f64();
    eprintln!(
        "done in {secs:.2}s: {} bytes down ({:.1} MB/s), {} up, complete: {}",
        summary.downloaded,
        summary.downloaded as f64 / secs / 1e6,
        summary.uploaded,
        summary.have.is_full()
    );
    match summary.error {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}
