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
