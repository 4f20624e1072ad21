//! The streaming [`Reader`] over real loopback sessions: a read far into a file fetches only
//! the pieces under it and its readahead, seeks and several readers get the right bytes, and
//! the blocking reader reads a whole file.

use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;
use std::time::Duration;

use sha1::{Digest, Sha1};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::net::TcpListener;
use torrentkit_peer::session::{Session, SessionConfig};
use torrentkit_peer::storage::{Layout, MemoryStorage};
use torrentkit_peer::{Bitfield, Priority, Rng, TorrentConfig};

const LIMIT: Duration = Duration::from_secs(60);
const PIECE: u32 = 32 * 1024;

struct Swarm {
    layout: Layout,
    data: Vec<u8>,
    seed: Session,
    leech: Session,
}

/// A seed of `size` random bytes in two files (a third, then the rest) and a leech that wants
/// nothing but what its readers read.
async fn swarm(size: usize, seed: u64) -> Swarm {
    let mut data = vec![0u8; size];
    Rng::new(seed).fill(&mut data);
    let split = size / 3;
    let layout = Layout::new(
        [
            (["a.bin"], split as u64),
            (["b.bin"], (size - split) as u64),
        ],
        PIECE,
    )
    .unwrap();
    let hashes: Vec<[u8; 20]> = data
        .chunks(PIECE as usize)
        .map(|c| Sha1::digest(c).into())
        .collect();
    let info_hash = Sha1::digest(format!("reader {seed}")).into();
    let config = |id: u8| {
        let tc = TorrentConfig::new(info_hash, [id; 20], size as u64, PIECE, u64::from(id));
        let mut sc = SessionConfig::new(tc, hashes.clone());
        // Both keep running: the leech's selection (nothing) is complete from the start.
        sc.seed = true;
        sc
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let pieces = layout.piece_count();
    let seed_storage = Arc::new(MemoryStorage::with_data(layout.clone(), data.clone()).unwrap());
    let seed = Session::start(
        config(1),
        seed_storage,
        Bitfield::full(pieces),
        Some(listener),
    );
    let mut lc = config(2);
    lc.torrent.picker.priorities = vec![Priority::SKIP; pieces as usize];
    let leech = Session::start(
        lc,
        Arc::new(MemoryStorage::new(layout.clone())),
        Bitfield::new(pieces),
        None,
    );
    leech.add_peer(addr);
    Swarm {
        layout,
        data,
        seed,
        leech,
    }
}

#[tokio::test]
async fn a_read_near_the_end_fetches_only_its_pieces_and_readahead() {
    let s = swarm(4 << 20, 7).await;
    let file_b = s.layout.files()[1].clone();
    let mut r = s.leech.reader(Some(1)).expect("file 1");
    assert_eq!(r.len(), file_b.length);
    r.set_readahead(2 * u64::from(PIECE));
    // 90 % into b.bin.
    let at = file_b.length * 9 / 10;
    r.seek(SeekFrom::Start(at)).await.unwrap();
    let mut buf = vec![0u8; 50_000];
    tokio::time::timeout(LIMIT, r.read_exact(&mut buf))
        .await
        .expect("the read completes")
        .unwrap();
    let abs = (file_b.offset + at) as usize;
    assert_eq!(buf, s.data[abs..abs + buf.len()]);
    // Only pieces between the read's first byte and its end plus the readahead were fetched.
    let first = (abs / PIECE as usize) as u32;
    let last = ((abs + buf.len() + 2 * PIECE as usize) / PIECE as usize) as u32;
    let verified = s.leech.progress().borrow().verified.clone();
    assert!(verified.count() > 0);
    for p in verified.iter() {
        assert!(
            (first..=last).contains(&p),
            "piece {p} fetched outside {first}..={last}"
        );
    }
    // A seek back to the start re-prioritises: the start comes.
    r.seek(SeekFrom::Start(0)).await.unwrap();
    let mut head = vec![0u8; 1000];
    tokio::time::timeout(LIMIT, r.read_exact(&mut head))
        .await
        .unwrap()
        .unwrap();
    let off = file_b.offset as usize;
    assert_eq!(head, s.data[off..off + 1000]);
    drop(r);
    s.leech.stop().await;
    s.seed.stop().await;
}

#[tokio::test]
async fn several_readers_and_the_blocking_reader_read_the_whole_data() {
    let s = swarm(2 << 20, 8).await;
    let mut whole = s.leech.reader(None).unwrap();
    let mut tail = s.leech.reader(Some(1)).unwrap();
    let b = s.layout.files()[1].clone();
    tail.seek(SeekFrom::End(-10_000)).await.unwrap();
    let (x, y) = tokio::join!(
        async {
            let mut v = Vec::new();
            whole.read_to_end(&mut v).await.map(|_| v)
        },
        async {
            let mut v = Vec::new();
            tail.read_to_end(&mut v).await.map(|_| v)
        }
    );
    assert_eq!(x.unwrap(), s.data);
    let end = (b.offset + b.length) as usize;
    assert_eq!(y.unwrap(), s.data[end - 10_000..end]);
    // Past the end: nothing, and no error; before the start: an error.
    assert_eq!(tail.seek(SeekFrom::End(5)).await.unwrap(), b.length + 5);
    assert_eq!(tail.read(&mut [0u8; 10]).await.unwrap(), 0);
    assert!(tail
        .seek(SeekFrom::Current(-(b.length as i64) - 10))
        .await
        .is_err());

    let mut blocking = s
        .leech
        .reader(Some(0))
        .unwrap()
        .into_blocking(tokio::runtime::Handle::current());
    let a = s.layout.files()[0].clone();
    let got = tokio::task::spawn_blocking(move || {
        blocking.seek(SeekFrom::Start(100)).unwrap();
        let mut v = Vec::new();
        blocking.read_to_end(&mut v).map(|_| v)
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(got, s.data[100..a.length as usize]);
    s.leech.stop().await;
    s.seed.stop().await;
}

#[tokio::test]
async fn a_reader_fails_once_the_session_has_ended() {
    let s = swarm(1 << 20, 9).await;
    let mut r = s.leech.reader(Some(1)).unwrap();
    s.seed.stop().await;
    s.leech.stop().await;
    let err = r.read(&mut [0u8; 10]).await.unwrap_err();
    assert!(err.to_string().contains("session ended"), "{err}");
}
