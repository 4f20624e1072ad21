//! The tokio session over real loopback TCP with file storage: a seed and downloaders checked
//! byte for byte, and the parallel re-check. Sessions meeting through torrentkit-tracker-server are
//! in the workspace's end-to-end tests (`tests/tests/end_to_end.rs`).

use std::sync::Arc;
use std::time::Duration;

use sha1::{Digest, Sha1};
use tokio::net::TcpListener;
use torrentkit_peer::session::{bind_listener, recheck, Session, SessionConfig};
use torrentkit_peer::storage::{
    FileStorage, FileStorageConfig, Layout, MemoryStorage, Storage, StorageError,
};
use torrentkit_peer::{Bitfield, Rng, TorrentConfig};

const LIMIT: Duration = Duration::from_secs(60);
const PIECE: u32 = 64 * 1024;

struct Content {
    layout: Layout,
    data: Vec<u8>,
    hashes: Vec<[u8; 20]>,
    info_hash: [u8; 20],
}

fn content(size: usize, seed: u64) -> Content {
    let mut data = vec![0u8; size];
    Rng::new(seed).fill(&mut data);
    // Two files so pieces span a boundary.
    let split = size / 3;
    let layout = Layout::new(
        [
            (["t", "a.bin"], split as u64),
            (["t", "b.bin"], (size - split) as u64),
        ],
        PIECE,
    )
    .unwrap();
    let hashes = data
        .chunks(PIECE as usize)
        .map(|c| Sha1::digest(c).into())
        .collect();
    let info_hash = Sha1::digest(format!("test torrent {seed} {size}")).into();
    Content {
        layout,
        data,
        hashes,
        info_hash,
    }
}

fn config(c: &Content, id: u8, port: u16) -> SessionConfig {
    let tc = TorrentConfig::new(
        c.info_hash,
        [id; 20],
        c.data.len() as u64,
        PIECE,
        u64::from(id),
    );
    let mut sc = SessionConfig::new(tc, c.hashes.clone());
    sc.listen_port = port;
    sc
}

/// Writes the content into a directory, as a seed has it.
fn seed_dir(c: &Content) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let storage = FileStorage::new(dir.path(), c.layout.clone(), FileStorageConfig::default());
    for p in 0..c.layout.piece_count() {
        let start = p as usize * PIECE as usize;
        let end = (start + PIECE as usize).min(c.data.len());
        storage.write(p, 0, &c.data[start..end]).unwrap();
    }
    dir
}

/// File storage of the content under `dir`.
fn file_storage(dir: &std::path::Path, c: &Content) -> Arc<FileStorage> {
    Arc::new(FileStorage::new(
        dir,
        c.layout.clone(),
        FileStorageConfig::default(),
    ))
}

fn read_back(dir: &std::path::Path) -> Vec<u8> {
    let mut all = std::fs::read(dir.join("t/a.bin")).unwrap();
    all.extend(std::fs::read(dir.join("t/b.bin")).unwrap());
    all
}

#[tokio::test]
async fn seed_to_downloaders_over_loopback_tcp() {
    let c = content(3 << 20, 1);
    let seed_data = seed_dir(&c);
    let seed_storage = file_storage(seed_data.path(), &c);
    let have = recheck(seed_storage.as_ref(), &c.hashes, 2);
    assert!(have.is_full(), "the re-check finds every piece of the seed");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let seed_addr = listener.local_addr().unwrap();
    let mut sc = config(&c, 1, seed_addr.port());
    sc.seed = true;
    let seed = Session::start(sc, seed_storage, have, Some(listener));

    let mut downloads = Vec::new();
    // A dead address first: a failed connect must not block later ones.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    for id in 2..5u8 {
        let dir = tempfile::tempdir().unwrap();
        let storage = file_storage(dir.path(), &c);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let s = Session::start(
            config(&c, id, listener.local_addr().unwrap().port()),
            storage,
            Bitfield::new(c.layout.piece_count()),
            Some(listener),
        );
        s.add_peer(dead);
        s.add_peer(seed_addr);
        downloads.push((dir, s));
    }
    for (dir, s) in downloads {
        let summary = tokio::time::timeout(LIMIT, s.join())
            .await
            .expect("download within 60 s");
        assert!(summary.error.is_none(), "{:?}", summary.error);
        assert!(summary.have.is_full());
        assert_eq!(read_back(dir.path()), c.data);
    }
    let summary = tokio::time::timeout(LIMIT, seed.stop()).await.unwrap();
    assert!(
        summary.uploaded >= c.data.len() as u64,
        "seed uploaded {}",
        summary.uploaded
    );
}

#[tokio::test]
async fn download_rate_limit_is_honoured() {
    let c = content(2 << 20, 4);
    let seed_data = seed_dir(&c);
    let seed_storage = file_storage(seed_data.path(), &c);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let seed_addr = listener.local_addr().unwrap();
    let mut sc = config(&c, 1, seed_addr.port());
    sc.seed = true;
    let seed = Session::start(
        sc,
        seed_storage,
        Bitfield::full(c.layout.piece_count()),
        Some(listener),
    );
    let dir = tempfile::tempdir().unwrap();
    let storage = file_storage(dir.path(), &c);
    let mut lc = config(&c, 2, 1);
    lc.max_download_rate = Some(1_000_000);
    let started = std::time::Instant::now();
    let leech = Session::start(lc, storage, Bitfield::new(c.layout.piece_count()), None);
    leech.add_peer(seed_addr);
    let summary = tokio::time::timeout(LIMIT, leech.join()).await.unwrap();
    let took = started.elapsed();
    assert!(summary.have.is_full());
    assert_eq!(read_back(dir.path()), c.data);
    // 2 MiB at 1 MB/s with a 0.25 s burst: at least 1.8 s, however fast the machine.
    assert!(took >= Duration::from_millis(1800), "took {took:?}");
    tokio::time::timeout(LIMIT, seed.stop()).await.unwrap();
}

#[test]
fn recheck_finds_exactly_the_good_pieces() {
    let c = content(1 << 20, 3);
    let dir = seed_dir(&c);
    let storage = FileStorage::new(dir.path(), c.layout.clone(), FileStorageConfig::default());
    storage.write(3, 100, b"corruption").unwrap();
    storage.write(15, 0, b"x").unwrap();
    let have = recheck(&storage, &c.hashes, 3);
    let missing: Vec<u32> = (0..c.layout.piece_count())
        .filter(|&p| !have.contains(p))
        .collect();
    assert_eq!(missing, vec![3, 15]);
    let empty = tempfile::tempdir().unwrap();
    let none = FileStorage::new(empty.path(), c.layout.clone(), FileStorageConfig::default());
    assert!(recheck(&none, &c.hashes, 2).is_clear());
}

#[tokio::test]
async fn the_listener_falls_back_to_the_next_free_port() {
    let taken = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let p = taken.local_addr().unwrap().port();
    let ip = "127.0.0.1".parse().unwrap();
    let err = bind_listener(ip, p..=p).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    assert!(err.to_string().contains(&format!("in {p}..={p}")), "{err}");
    let end = p.saturating_add(8);
    match bind_listener(ip, p..=end).await {
        Ok(l) => {
            let got = l.local_addr().unwrap().port();
            assert!(got > p && got <= end, "{got} outside {p}..={end}");
        }
        // Only if all eight following ports are in use by others.
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse),
    }
}

/// A storage whose disk fills up after `room` bytes: every later write fails with `ENOSPC`.
struct FillingDisk {
    inner: MemoryStorage,
    room: std::sync::Mutex<usize>,
}

impl Storage for FillingDisk {
    fn layout(&self) -> &Layout {
        self.inner.layout()
    }
    fn read(&self, piece: u32, offset: u32, buf: &mut [u8]) -> Result<(), StorageError> {
        self.inner.read(piece, offset, buf)
    }
    fn write(&self, piece: u32, offset: u32, data: &[u8]) -> Result<(), StorageError> {
        let mut room = self.room.lock().unwrap();
        if *room < data.len() {
            return Err(StorageError::DiskFull {
                path: "/dl/t/b.bin".into(),
            });
        }
        *room -= data.len();
        self.inner.write(piece, offset, data)
    }
    fn flush(&self) -> Result<(), StorageError> {
        Ok(())
    }
}

/// A full disk ends the session with an error naming the file, and the summary's verified
/// pieces let a second session (with room) finish without fetching them again.
#[tokio::test]
async fn a_full_disk_is_a_clear_error_and_the_download_resumes() {
    let c = content(2 << 20, 5);
    let seed_data = seed_dir(&c);
    let seed_storage = file_storage(seed_data.path(), &c);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let seed_addr = listener.local_addr().unwrap();
    let mut sc = config(&c, 1, seed_addr.port());
    sc.seed = true;
    let seed = Session::start(
        sc,
        seed_storage,
        Bitfield::full(c.layout.piece_count()),
        Some(listener),
    );

    let disk = Arc::new(FillingDisk {
        inner: MemoryStorage::new(c.layout.clone()),
        room: std::sync::Mutex::new(1 << 20),
    });
    let first = Session::start(
        config(&c, 2, 1),
        disk.clone(),
        Bitfield::new(c.layout.piece_count()),
        None,
    );
    first.add_peer(seed_addr);
    let summary = tokio::time::timeout(LIMIT, first.join()).await.unwrap();
    let err = summary.error.expect("the full disk ends the session");
    assert_eq!(
        err.to_string(),
        "session: storage: no space left on device writing `/dl/t/b.bin`"
    );
    let kept = summary.have.count();
    assert!(
        kept > 0 && !summary.have.is_full(),
        "{kept} pieces verified before the disk filled"
    );

    // "Free some space" and resume from the summary's bitfield.
    *disk.room.lock().unwrap() = usize::MAX;
    let second = Session::start(config(&c, 3, 1), disk.clone(), summary.have.clone(), None);
    second.add_peer(seed_addr);
    let resumed = tokio::time::timeout(LIMIT, second.join()).await.unwrap();
    assert!(resumed.error.is_none(), "{:?}", resumed.error);
    assert!(resumed.have.is_full());
    assert_eq!(disk.inner.contents(), c.data);
    let refetched = resumed.downloaded;
    let missing = c.data.len() as u64 - u64::from(kept) * u64::from(PIECE);
    assert!(
        refetched <= missing + 64 * 1024,
        "downloaded {refetched}, only {missing} were missing"
    );
    tokio::time::timeout(LIMIT, seed.stop()).await.unwrap();
}

/// Two torrents seeded behind one shared listener with one file cache: each downloader asks
/// for its own info-hash on the same port and gets its own data; the seeds' peer lists name
/// the downloaders; a paused seed drops its peer and a resumed one serves again.
#[tokio::test]
async fn one_shared_listener_serves_many_torrents() {
    use torrentkit_peer::session::{Shared, SharedConfig};
    use torrentkit_peer::storage::FileCache;

    let (one, two) = (content(1 << 20, 21), content(1 << 20, 22));
    let shared = Shared::new(SharedConfig {
        max_connections: 8,
        ..SharedConfig::default()
    });
    let files = FileCache::new(2);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = shared.serve(listener);
    let mut seeds = Vec::new();
    let mut seed_dirs = Vec::new();
    for (c, id) in [(&one, 31u8), (&two, 32)] {
        let dir = seed_dir(c);
        let storage = Arc::new(FileStorage::with_cache(
            dir.path(),
            c.layout.clone(),
            files.clone(),
        ));
        let have = recheck(storage.as_ref(), &c.hashes, 1);
        let mut sc = config(c, id, port);
        sc.seed = true;
        sc.shared = Some(shared.clone());
        seeds.push(Session::start(sc, storage, have, None));
        seed_dirs.push(dir);
    }
    assert!(files.open_files() <= 2);
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    for (c, id, seed) in [(&one, 41u8, &seeds[0]), (&two, 42, &seeds[1])] {
        let dir = tempfile::tempdir().unwrap();
        let storage = file_storage(dir.path(), c);
        let s = Session::start(
            config(c, id, 0),
            storage,
            Bitfield::new(c.layout.piece_count()),
            None,
        );
        s.add_peer(addr);
        let summary = tokio::time::timeout(LIMIT, s.join()).await.unwrap();
        assert!(summary.error.is_none(), "{:?}", summary.error);
        assert_eq!(read_back(dir.path()), c.data, "torrent of downloader {id}");
        let mut progress = seed.progress();
        let size = c.data.len() as u64;
        tokio::time::timeout(LIMIT, progress.wait_for(|p| p.uploaded >= size))
            .await
            .expect("the seed of this torrent (not the other) counts the upload")
            .unwrap();
        assert!(files.open_files() <= 2, "{} files open", files.open_files());
    }

    // A slow peer stays connected to seed 0 while we pause and resume it.
    let mut slow = config(&one, 43, 0);
    slow.max_download_rate = Some(64 * 1024);
    let watcher = Session::start(
        slow,
        Arc::new(MemoryStorage::new(one.layout.clone())),
        Bitfield::new(one.layout.piece_count()),
        None,
    );
    watcher.add_peer(addr);
    let mut progress = seeds[0].progress();
    let lists_watcher = |p: &torrentkit_peer::session::Progress| {
        p.peer_list
            .iter()
            .any(|i| i.peer_id.map(|p| p.0) == Some([43; 20]))
    };
    let listed = tokio::time::timeout(LIMIT, progress.wait_for(lists_watcher))
        .await
        .expect("the seed lists the new peer")
        .unwrap()
        .clone();
    let peer = listed
        .peer_list
        .iter()
        .find(|i| i.peer_id.is_some())
        .unwrap();
    assert!(!peer.outgoing, "it connected to us");
    assert!(peer.flags().contains('I'), "{}", peer.flags());
    assert!(shared.connections() >= 1);
    seeds[0].pause();
    let paused = tokio::time::timeout(LIMIT, progress.wait_for(|p| p.paused && p.peers == 0))
        .await
        .expect("pausing drops every peer")
        .unwrap()
        .clone();
    assert!(paused.peer_list.is_empty());
    seeds[0].resume();
    tokio::time::timeout(LIMIT, progress.wait_for(|p| !p.paused))
        .await
        .unwrap()
        .unwrap();
    // The watcher redials until it has noticed the old connection closed (its rate-limited
    // reader may still be waiting out its budget).
    tokio::time::timeout(LIMIT, async {
        loop {
            watcher.add_peer(addr);
            let listed =
                tokio::time::timeout(Duration::from_millis(500), progress.wait_for(lists_watcher));
            if matches!(listed.await, Ok(Ok(_))) {
                break;
            }
        }
    })
    .await
    .expect("a resumed seed takes peers again");
    watcher.stop().await;
    for s in seeds {
        assert!(s.stop().await.error.is_none());
    }
    assert_eq!(shared.connections(), 0, "every slot is given back");
    server.abort();
    drop(seed_dirs);
}

/// Protocol encryption: a seed and a downloader that both require RC4, the downloader keeping
/// the connection (seeding) so that both peer lists can be read.
#[tokio::test]
async fn required_encryption_transfers_and_both_sides_list_the_peer_as_encrypted() {
    use torrentkit_peer::session::Encryption;
    let c = content(1 << 20, 51);
    let seed_data = seed_dir(&c);
    let storage = file_storage(seed_data.path(), &c);
    let have = recheck(storage.as_ref(), &c.hashes, 1);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut sc = config(&c, 61, addr.port());
    sc.seed = true;
    sc.encryption = Encryption::Require;
    let seed = Session::start(sc, storage, have, Some(listener));
    let dir = tempfile::tempdir().unwrap();
    let mut dc = config(&c, 62, 0);
    // Slow enough (about 4 s) for both peer lists to be read while the connection is up.
    dc.max_download_rate = Some(256 * 1024);
    dc.encryption = Encryption::Require;
    let down = Session::start(
        dc,
        file_storage(dir.path(), &c),
        Bitfield::new(c.layout.piece_count()),
        None,
    );
    down.add_peer(addr);
    for (who, s) in [("downloader", &down), ("seed", &seed)] {
        let mut p = s.progress();
        let listed = tokio::time::timeout(
            LIMIT,
            p.wait_for(|p| p.peer_list.iter().any(|i| i.peer_id.is_some())),
        )
        .await
        .unwrap()
        .unwrap()
        .clone();
        // The connection that completed its handshake (a snapshot may also list one still
        // being set up, or one just closed).
        let peer = listed
            .peer_list
            .iter()
            .find(|i| i.peer_id.is_some())
            .expect("waited for it");
        assert!(
            peer.encrypted,
            "the {who} lists its peer as encrypted: {:?}",
            listed.peer_list
        );
        assert!(peer.flags().contains('E'), "{}", peer.flags());
    }
    let summary = tokio::time::timeout(LIMIT, down.join())
        .await
        .expect("an encrypted download within 60 s");
    assert!(summary.error.is_none(), "{:?}", summary.error);
    seed.stop().await;
    assert_eq!(read_back(dir.path()), c.data);
}

/// A proxy in front of `to` for a peer that speaks only plaintext: a connection whose first
/// byte is not the plaintext handshake's 19 is closed at once (as a plaintext-only client
/// does), the others are forwarded. Counts (closed MSE attempts, plaintext connections).
async fn plaintext_only_proxy(
    to: std::net::SocketAddr,
) -> (
    std::net::SocketAddr,
    Arc<(
        std::sync::atomic::AtomicUsize,
        std::sync::atomic::AtomicUsize,
    )>,
) {
    use std::sync::atomic::Ordering;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let counts = Arc::new(Default::default());
    let c = Arc::clone(&counts);
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let c = Arc::clone(&c);
            tokio::spawn(async move {
                let mut first = [0u8; 1];
                if inbound.read_exact(&mut first).await.is_err() {
                    return;
                }
                let (mse, plain): &(
                    std::sync::atomic::AtomicUsize,
                    std::sync::atomic::AtomicUsize,
                ) = &c;
                if first[0] != 19 {
                    mse.fetch_add(1, Ordering::SeqCst);
                    return;
                }
                plain.fetch_add(1, Ordering::SeqCst);
                let mut outbound = tokio::net::TcpStream::connect(to).await.unwrap();
                outbound.write_all(&first).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            });
        }
    });
    (addr, counts)
}

#[tokio::test]
async fn prefer_falls_back_to_plaintext_once_and_require_never_sends_plaintext() {
    use std::sync::atomic::Ordering;
    use torrentkit_peer::session::Encryption;
    let c = content(1 << 20, 52);
    let seed_data = seed_dir(&c);
    let storage = file_storage(seed_data.path(), &c);
    let have = recheck(storage.as_ref(), &c.hashes, 1);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let seed_addr = listener.local_addr().unwrap();
    let mut sc = config(&c, 71, seed_addr.port());
    sc.seed = true;
    sc.encryption = Encryption::Plaintext;
    let seed = Session::start(sc, storage, have, Some(listener));
    let (proxy, counts) = plaintext_only_proxy(seed_addr).await;

    // `require`: the MSE attempt is closed and nothing else is tried.
    let mut rc = config(&c, 72, 0);
    rc.encryption = Encryption::Require;
    let strict = Session::start(
        rc,
        Arc::new(MemoryStorage::new(c.layout.clone())),
        Bitfield::new(c.layout.piece_count()),
        None,
    );
    strict.add_peer(proxy);
    tokio::time::timeout(LIMIT, async {
        while counts.0.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the require peer dials with MSE");
    let mut p = strict.progress();
    let refused = tokio::time::timeout(LIMIT, p.wait_for(|p| p.peers == 0))
        .await
        .unwrap()
        .unwrap()
        .have;
    assert_eq!(refused, 0);
    assert_eq!(
        counts.1.load(Ordering::SeqCst),
        0,
        "require sent no plaintext handshake"
    );
    strict.stop().await;

    // `prefer` (the default): MSE first, closed, then plaintext once, and the download completes.
    let dir = tempfile::tempdir().unwrap();
    let down = Session::start(
        config(&c, 73, 0),
        file_storage(dir.path(), &c),
        Bitfield::new(c.layout.piece_count()),
        None,
    );
    down.add_peer(proxy);
    let summary = tokio::time::timeout(LIMIT, down.join()).await.unwrap();
    assert!(summary.error.is_none(), "{:?}", summary.error);
    assert_eq!(read_back(dir.path()), c.data);
    assert_eq!(
        counts.0.load(Ordering::SeqCst),
        2,
        "one MSE attempt per peer"
    );
    assert_eq!(counts.1.load(Ordering::SeqCst), 1, "one plaintext retry");
    seed.stop().await;
}

/// An MSE peer names its torrent only through `req2`: the shared listener must match it
/// against every session's info-hash and hand it to the right one.
#[tokio::test]
async fn an_encrypted_peer_reaches_the_right_torrent_of_a_shared_listener() {
    use torrentkit_peer::session::{Encryption, Shared, SharedConfig};
    let (one, two) = (content(512 << 10, 81), content(512 << 10, 82));
    let shared = Shared::new(SharedConfig {
        encryption: Encryption::Require,
        ..SharedConfig::default()
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = shared.serve(listener);
    let mut seeds = Vec::new();
    let mut dirs = Vec::new();
    for (c, id) in [(&one, 91u8), (&two, 92)] {
        let dir = seed_dir(c);
        let storage = file_storage(dir.path(), c);
        let have = recheck(storage.as_ref(), &c.hashes, 1);
        let mut sc = config(c, id, addr.port());
        sc.seed = true;
        sc.shared = Some(shared.clone());
        sc.encryption = Encryption::Require;
        seeds.push(Session::start(sc, storage, have, None));
        dirs.push(dir);
    }
    let dir = tempfile::tempdir().unwrap();
    let mut dc = config(&two, 93, 0);
    dc.encryption = Encryption::Require;
    let down = Session::start(
        dc,
        file_storage(dir.path(), &two),
        Bitfield::new(two.layout.piece_count()),
        None,
    );
    down.add_peer(addr);
    let summary = tokio::time::timeout(LIMIT, down.join()).await.unwrap();
    assert!(summary.error.is_none(), "{:?}", summary.error);
    assert_eq!(read_back(dir.path()), two.data);
    let uploaded: Vec<u64> = seeds
        .iter()
        .map(|s| s.progress().borrow().uploaded)
        .collect();
    assert_eq!(uploaded[0], 0, "the other torrent's seed served nothing");
    server.abort();
    for s in seeds {
        s.stop().await;
    }
}
