//! BEP 52 magnets over loopback: a bt seed of a v2-only torrent gives a session started from its
//! `urn:btmh:` link the metadata (checked by SHA-256) and then the piece layers (hash
//! requests, proofs checked against each file's root), after which the data downloads as from
//! a `.torrent`; a hybrid link downloads too; and the seed's answers to leaf-hash requests carry
//! proofs that hash up to the file's root.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use torrentkit_metainfo::merkle;
use torrentkit_metainfo::{Magnet, MetaVersion, Torrent, TorrentBuilder};
use torrentkit_peer::session::{MagnetConfig, Session, SessionConfig};
use torrentkit_peer::{Bitfield, ConnEvent, Connection, ConnectionConfig, Placement, Rng};
use torrentkit_wire::{HashMessage, HashRequest};

const LIMIT: Duration = Duration::from_secs(60);

/// Files in `dir/top`: one of 600 blocks (in 16 KiB pieces, two chunks of piece layer), one of
/// four blocks with a short tail, one smaller than a block (never a layer).
fn make(dir: &std::path::Path, version: MetaVersion, piece_length: u64) -> Torrent {
    let top = dir.join("top");
    std::fs::create_dir_all(&top).unwrap();
    let mut rng = Rng::new(52);
    for (name, len) in [
        ("big.bin", 600 * 16_384),
        ("mid.bin", 3 * 16_384 + 777),
        ("small.bin", 5_000),
    ] {
        let mut data = vec![0u8; len];
        rng.fill(&mut data);
        std::fs::write(top.join(name), data).unwrap();
    }
    TorrentBuilder::new(&top)
        .piece_length(piece_length)
        .meta_version(version)
        .build()
        .unwrap()
}

async fn seed(torrent: &Torrent, dir: &std::path::Path) -> (Session, u16) {
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

/// Downloads `link` into a new directory; returns the torrent the session was started with.
async fn download(link: &str, out: &std::path::Path) -> Torrent {
    let magnet = Magnet::parse(link).unwrap();
    let mut mc = MagnetConfig::from_magnet(&magnet, [2; 20], 2);
    mc.listen_port = 1;
    let out_dir = out.to_owned();
    let (tx, mut got) = tokio::sync::mpsc::unbounded_channel();
    let session = Session::start_magnet(mc, None, move |t| {
        let _ = tx.send(t.clone());
        let placement = Placement::in_dir(t, &out_dir).unwrap();
        let sc = SessionConfig::from_torrent(t, [2; 20], 2);
        let n = t.info().piece_count() as u32;
        Ok((sc, Arc::new(placement.storage()), Bitfield::new(n)))
    });
    tokio::time::timeout(LIMIT, session.wait_complete())
        .await
        .expect("download did not complete");
    let summary = session.stop().await;
    assert!(summary.error.is_none(), "{:?}", summary.error);
    got.recv().await.unwrap()
}

fn same_files(a: &std::path::Path, b: &std::path::Path) {
    for name in ["big.bin", "mid.bin", "small.bin"] {
        assert_eq!(
            std::fs::read(a.join("top").join(name)).unwrap(),
            std::fs::read(b.join("top").join(name)).unwrap(),
            "{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v2_only_magnet_fetches_metadata_and_piece_layers_then_the_data() {
    let src = tempfile::tempdir().unwrap();
    let torrent = make(src.path(), MetaVersion::V2, 16_384);
    assert!(torrent.info_hash_v1().is_none());
    let (seed, port) = seed(&torrent, src.path()).await;
    let link = format!("{}&x.pe=127.0.0.1:{port}", Magnet::from_torrent(&torrent));
    assert!(link.contains("urn:btmh:1220") && !link.contains("urn:btih"));
    let out = tempfile::tempdir().unwrap();
    let fetched = download(&link, out.path()).await;
    assert_eq!(fetched.info_hash_v2(), torrent.info_hash_v2());
    // Both files longer than a piece got their layer from the seed, as the .torrent has it.
    for f in torrent.info().files().iter().filter(|f| f.length > 16_384) {
        let root = f.pieces_root.unwrap();
        assert_eq!(fetched.piece_layer(&root), torrent.piece_layer(&root));
        assert!(fetched.piece_layer(&root).is_some());
    }
    // The torrent as written keeps them: read back, it needs nothing from peers.
    let again = Torrent::from_bytes(&fetched.to_bytes()).unwrap();
    assert!(again.v2_pieces().unwrap().iter().all(Option::is_some));
    same_files(src.path(), out.path());
    seed.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hybrid_magnet_downloads_with_both_info_hashes_checked() {
    let src = tempfile::tempdir().unwrap();
    let torrent = make(src.path(), MetaVersion::Hybrid, 16_384);
    let (seed, port) = seed(&torrent, src.path()).await;
    let link = format!("{}&x.pe=127.0.0.1:{port}", Magnet::from_torrent(&torrent));
    assert!(link.contains("urn:btmh:1220") && link.contains("urn:btih"));
    let out = tempfile::tempdir().unwrap();
    let fetched = download(&link, out.path()).await;
    assert_eq!(fetched.info_hash(), torrent.info_hash());
    assert_eq!(fetched.info_hash_v2(), torrent.info_hash_v2());
    same_files(src.path(), out.path());
    seed.stop().await;
}

/// A bare connection to `port` (v2 bit set), its handshake done.
async fn connect(torrent: &Torrent, port: u16) -> (Connection, TcpStream) {
    let mut cfg = ConnectionConfig::new(torrent.info_hash().0, [7; 20], 0);
    cfg.metadata_only = true;
    cfg.reserved = cfg.reserved.with_v2_upgrade(true);
    let mut conn = Connection::new(cfg, Instant::now());
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    // Hash messages go out on an open connection only: finish the handshake first.
    let mut buf = vec![0u8; 1 << 16];
    while !conn.is_connected() {
        while let Some(b) = conn.poll_transmit() {
            stream.write_all(&b).await.unwrap();
        }
        let n = tokio::time::timeout(LIMIT, stream.read(&mut buf))
            .await
            .expect("no handshake")
            .unwrap();
        assert!(n > 0, "the seed closed the connection");
        conn.handle_bytes(Instant::now(), Bytes::copy_from_slice(&buf[..n]));
    }
    (conn, stream)
}

/// Sends what `conn` has to send and reads until it reports a hash reply.
async fn reply(conn: &mut Connection, stream: &mut TcpStream) -> ConnEvent {
    let mut buf = vec![0u8; 1 << 16];
    loop {
        while let Some(b) = conn.poll_transmit() {
            stream.write_all(&b).await.unwrap();
        }
        while let Some(ev) = conn.poll_event() {
            match ev {
                ConnEvent::Hashes { .. } | ConnEvent::HashRejected(_) | ConnEvent::Closed(_) => {
                    return ev
                }
                _ => {}
            }
        }
        let n = tokio::time::timeout(LIMIT, stream.read(&mut buf))
            .await
            .expect("no reply")
            .unwrap();
        assert!(n > 0, "the seed closed the connection");
        conn.handle_bytes(Instant::now(), Bytes::copy_from_slice(&buf[..n]));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seed_answers_leaf_hash_requests_with_proofs_to_the_root() {
    let src = tempfile::tempdir().unwrap();
    // 64 KiB pieces: leaf hashes are below the piece layer, read and hashed from disk.
    let torrent = make(src.path(), MetaVersion::V2, 65_536);
    let (seed, port) = seed(&torrent, src.path()).await;
    let (mut conn, mut stream) = connect(&torrent, port).await;
    let mid = torrent
        .info()
        .files()
        .iter()
        .find(|f| f.path.last().map(String::as_str) == Some("mid.bin"))
        .unwrap()
        .clone();
    let root = mid.pieces_root.unwrap();
    // mid.bin: 4 blocks in one piece, a tree of height 2. Two leaves (blocks 2 and 3) with the proof to the
    // root: proof_layers 1 (counted from the base), one uncle.
    let request = HashRequest {
        pieces_root: root,
        base_layer: 0,
        index: 2,
        length: 2,
        proof_layers: 1,
    };
    conn.send_hash_request(Instant::now(), request);
    let data = std::fs::read(src.path().join("top/mid.bin")).unwrap();
    match reply(&mut conn, &mut stream).await {
        ConnEvent::Hashes { request: r, hashes } => {
            assert_eq!(r, request);
            assert_eq!(hashes.len(), 3);
            assert_eq!(hashes[0], merkle::leaf(&data[2 * 16_384..3 * 16_384]));
            assert_eq!(hashes[1], merkle::leaf(&data[3 * 16_384..]));
            assert!(HashMessage::Hashes { request, hashes }.verify());
        }
        other => panic!("{other:?}"),
    }
    // The big file's four leaves of piece 75, proof to the root.
    let big = &torrent.info().files()[0];
    assert_eq!(big.path.last().unwrap(), "big.bin");
    let height = 10; // 600 blocks, 1024 leaves
    let request = HashRequest {
        pieces_root: big.pieces_root.unwrap(),
        base_layer: 0,
        index: 300,
        length: 4,
        proof_layers: height - 1,
    };
    conn.send_hash_request(Instant::now(), request);
    match reply(&mut conn, &mut stream).await {
        ConnEvent::Hashes { hashes, .. } => {
            assert_eq!(hashes.len(), 4 + 8);
            assert!(HashMessage::Hashes { request, hashes }.verify());
        }
        other => panic!("{other:?}"),
    }
    // A root no file has, and hashes past the end of the layer: refused, not answered.
    for bad in [
        HashRequest {
            pieces_root: [9; 32],
            ..request
        },
        HashRequest {
            index: 1024,
            ..request
        },
    ] {
        conn.send_hash_request(Instant::now(), bad);
        assert_eq!(
            reply(&mut conn, &mut stream).await,
            ConnEvent::HashRejected(bad)
        );
    }
    seed.stop().await;
}
