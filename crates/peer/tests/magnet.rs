//! Magnet downloads over loopback: a seed serves its metadata (BEP 9) to a session started from
//! the magnet link alone, which then downloads the data; and PEX between real sessions.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use torrentkit_metainfo::{Magnet, TorrentBuilder};
use torrentkit_peer::session::{MagnetConfig, Session, SessionConfig};
use torrentkit_peer::{Bitfield, PeerSource, Placement, Rng};

const LIMIT: Duration = Duration::from_secs(60);

/// A multi-file torrent of `files` files with random data in `dir/top`.
fn make(dir: &std::path::Path, files: usize) -> torrentkit_metainfo::Torrent {
    let top = dir.join("top");
    std::fs::create_dir_all(&top).unwrap();
    let mut rng = Rng::new(files as u64);
    for i in 0..files {
        let mut data = vec![0u8; 1_000 + i];
        rng.fill(&mut data);
        std::fs::write(top.join(format!("file-{i:05}.bin")), data).unwrap();
    }
    TorrentBuilder::new(&top)
        .piece_length(32_768)
        .build()
        .unwrap()
}

async fn seed(torrent: &torrentkit_metainfo::Torrent, dir: &std::path::Path) -> (Session, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let placement = Placement::in_dir(torrent, dir).unwrap();
    let mut sc = SessionConfig::from_torrent(torrent, [1; 20], 1);
    sc.seed = true;
    sc.listen_port = port;
    let n = torrent.info().piece_count() as u32;
    let s = Session::start(
        sc,
        Arc::new(placement.storage()),
        Bitfield::full(n),
        Some(listener),
    );
    (s, port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_started_from_a_magnet_fetches_the_metadata_then_the_data() {
    let src = tempfile::tempdir().unwrap();
    // Over 64 KiB of metadata: several ut_metadata pieces.
    let torrent = make(src.path(), 1600);
    assert!(torrent.info().raw().len() > 4 * 16_384);
    let (seed, port) = seed(&torrent, src.path()).await;
    let link = format!(
        "magnet:?xt=urn:btih:{}&x.pe=127.0.0.1:{port}",
        torrent.info_hash().to_hex()
    );
    let magnet = Magnet::parse(&link).unwrap();
    let mut mc = MagnetConfig::from_magnet(&magnet, [2; 20], 2);
    mc.listen_port = 1;
    assert_eq!(mc.peers[0].1, PeerSource::MagnetHint);
    let out = tempfile::tempdir().unwrap();
    let out_dir = out.path().to_owned();
    let (tx, mut got) = tokio::sync::mpsc::unbounded_channel();
    let session = Session::start_magnet(mc, None, move |t| {
        let _ = tx.send(t.clone());
        let placement = Placement::in_dir(t, &out_dir).unwrap();
        let sc = SessionConfig::from_torrent(t, [2; 20], 2);
        let n = t.info().piece_count() as u32;
        Ok((sc, Arc::new(placement.storage()), Bitfield::new(n)))
    });
    let mut progress = session.progress();
    // The metadata phase shows in the progress first.
    let saw_phase = tokio::time::timeout(LIMIT, progress.wait_for(|p| p.metadata.is_some()))
        .await
        .is_ok();
    assert!(saw_phase);
    tokio::time::timeout(LIMIT, session.wait_complete())
        .await
        .expect("download did not complete");
    let fetched = got.recv().await.unwrap();
    assert_eq!(fetched.info_hash(), torrent.info_hash());
    assert_eq!(fetched.info().raw(), torrent.info().raw());
    let p = session.progress().borrow().clone();
    assert!(p.complete && p.metadata.is_none());
    for name in ["file-00000.bin", "file-01599.bin"] {
        assert_eq!(
            std::fs::read(out.path().join("top").join(name)).unwrap(),
            std::fs::read(src.path().join("top").join(name)).unwrap()
        );
    }
    let summary = session.stop().await;
    assert!(summary.error.is_none(), "{:?}", summary.error);
    seed.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_too_small_metadata_bound_gets_nothing_and_drops_the_seed() {
    let src = tempfile::tempdir().unwrap();
    let torrent = make(src.path(), 50);
    let (seed, port) = seed(&torrent, src.path()).await;
    let magnet = Magnet::parse(&format!(
        "magnet:?xt=urn:btih:{}&x.pe=127.0.0.1:{port}",
        torrent.info_hash().to_hex()
    ))
    .unwrap();
    let mut mc = MagnetConfig::from_magnet(&magnet, [3; 20], 3);
    mc.max_metadata_size = 100;
    let (tx, rx) = tokio::sync::watch::channel(Default::default());
    let fetch = torrentkit_peer::session::fetch_metadata(&mc, None, &tx);
    let r = tokio::time::timeout(Duration::from_secs(3), fetch).await;
    assert!(r.is_err(), "nothing can be fetched under a 100-byte bound");
    let p: torrentkit_peer::session::Progress = rx.borrow().clone();
    let m = p.metadata.unwrap();
    assert_eq!((m.pieces, m.of, m.connections), (0, 0, 0), "{m:?}");
    seed.stop().await;
}
