//! The multi-torrent `Manager` over loopback with file storage: one manager seeds two torrents
//! from local data, another downloads both through the first one's shared port; a torrent
//! removed stops and saves its resume file, stop-all saves every other one, and a new manager
//! trusts them. Also: a duplicate add, a check that fails, an unreadable resume file.

use std::path::Path;
use std::time::Duration;

use tokio::net::TcpListener;
use torrentkit_metainfo::{Torrent, TorrentBuilder};
use torrentkit_peer::manager::{
    AddError, CheckError, Event, Manager, ManagerConfig, StopEnd, TorrentStatus,
};
use torrentkit_peer::session::{RecheckReason, StartKind};
use torrentkit_peer::{Placement, Rng};

const LIMIT: Duration = Duration::from_secs(60);

fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut b = vec![0u8; len];
    Rng::new(seed).fill(&mut b);
    b
}

/// A two-file album and a single file under `dir`, with their torrents.
fn make_data(dir: &Path) -> (Torrent, Torrent) {
    let album = dir.join("album");
    std::fs::create_dir_all(&album).unwrap();
    std::fs::write(album.join("a.flac"), bytes(200_000, 1)).unwrap();
    std::fs::write(album.join("b.flac"), bytes(150_000, 2)).unwrap();
    std::fs::write(dir.join("film.mkv"), bytes(300_000, 3)).unwrap();
    let build = |p: &Path| {
        TorrentBuilder::new(p)
            .piece_length(32 * 1024)
            .build()
            .unwrap()
    };
    (build(&album), build(&dir.join("film.mkv")))
}

async fn manager(id: u8, peers: Vec<std::net::SocketAddr>) -> (Manager, std::net::SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = ManagerConfig::new([id; 20], u64::from(id));
    config.listen_port = addr.port();
    config.max_open_files = 2;
    config.peers = peers;
    let mut m = Manager::new(config);
    m.serve(listener);
    (m, addr)
}

/// Events until `want` picks one, within the time limit.
async fn until<T>(m: &mut Manager, what: &str, mut want: impl FnMut(Event) -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let event = tokio::time::timeout_at(deadline, m.next_event())
            .await
            .unwrap_or_else(|_| panic!("no {what} within {LIMIT:?}"));
        if let Some(t) = want(event) {
            return t;
        }
    }
}

/// Waits for `Completed` of every torrent in `hashes`.
async fn all_complete(m: &mut Manager, hashes: &[torrentkit_metainfo::InfoHash]) {
    let mut left = hashes.to_vec();
    until(m, "completion", |e| {
        if let Event::Completed { info_hash } = e {
            left.retain(|h| *h != info_hash);
        }
        left.is_empty().then_some(())
    })
    .await;
}

#[tokio::test]
async fn two_torrents_download_one_is_removed_and_stop_all_saves_every_resume_file() {
    let src = tempfile::tempdir().unwrap();
    let (album, film) = make_data(src.path());

    // The seed: both torrents' data is in `src`; the checks find every piece.
    let (mut seed, seed_addr) = manager(1, Vec::new()).await;
    let a = seed
        .add(
            album.clone(),
            Placement::in_dir(&album, src.path()).unwrap(),
        )
        .unwrap();
    let f = seed
        .add(film.clone(), Placement::in_dir(&film, src.path()).unwrap())
        .unwrap();
    all_complete(&mut seed, &[a, f]).await;
    for h in [a, f] {
        assert!(
            matches!(seed.status(&h), Some(TorrentStatus::Running(p)) if p.complete),
            "seed has {h}"
        );
    }

    // The downloader: an empty directory, the seed's port as its only peer.
    let dl = tempfile::tempdir().unwrap();
    let (mut down, _) = manager(2, vec![seed_addr]).await;
    for t in [&album, &film] {
        down.add(t.clone(), Placement::in_dir(t, dl.path()).unwrap())
            .unwrap();
    }
    let mut fresh = 0;
    let mut left = vec![a, f];
    until(&mut down, "both downloads", |e| {
        match e {
            Event::Started { start, .. } => {
                assert_eq!(start.kind, StartKind::Fresh);
                fresh += 1;
            }
            Event::Completed { info_hash } => left.retain(|h| *h != info_hash),
            Event::Failed { error, .. } => panic!("{error}"),
            _ => {}
        }
        left.is_empty().then_some(())
    })
    .await;
    assert_eq!(fresh, 2);
    for name in ["album/a.flac", "album/b.flac", "film.mkv"] {
        assert_eq!(
            std::fs::read(dl.path().join(name)).unwrap(),
            std::fs::read(src.path().join(name)).unwrap(),
            "{name}"
        );
    }
    assert!(
        down.files().open_files() <= 2,
        "the open-file cap is shared"
    );

    // Removed: it stops in the background and says so; its resume file is saved.
    assert!(down.remove(&f));
    assert!(!down.remove(&f), "gone already");
    assert!(down.status(&f).is_none());
    let stopped = until(&mut down, "the removed torrent's stop", |e| match e {
        Event::Stopped(s) => Some(s),
        _ => None,
    })
    .await;
    assert_eq!(stopped.torrent.info_hash(), f);
    let StopEnd::Ran {
        summary,
        resume_error,
    } = &stopped.end
    else {
        panic!("{:?}", stopped.end)
    };
    assert!(resume_error.is_none() && summary.have.is_full());
    assert!(summary.downloaded >= 300_000, "{}", summary.downloaded);
    assert!(dl.path().join(".film.mkv.bt-resume").is_file());
    assert!(!dl.path().join(".album.bt-resume").is_file(), "not yet");
    assert_eq!(down.info_hashes().collect::<Vec<_>>(), [&a]);

    // Stop-all: the other one stops and saves its resume file too.
    let stopped = down.stop_all().await;
    assert_eq!(stopped.len(), 1);
    assert!(matches!(
        stopped[0].end,
        StopEnd::Ran {
            resume_error: None,
            ..
        }
    ));
    assert!(dl.path().join(".album.bt-resume").is_file());
    let stopped = seed.stop_all().await;
    assert_eq!(stopped.len(), 2);
    assert!(src.path().join(".album.bt-resume").is_file());
    assert!(src.path().join(".film.mkv.bt-resume").is_file());

    // A new manager over the downloaded data trusts the resume files: no re-check.
    let (mut again, _) = manager(3, Vec::new()).await;
    for t in [&album, &film] {
        again
            .add(t.clone(), Placement::in_dir(t, dl.path()).unwrap())
            .unwrap();
    }
    let mut resumed = 0;
    until(&mut again, "both starts", |e| {
        if let Event::Started { start, .. } = e {
            assert_eq!(start.kind, StartKind::Resumed);
            assert!(start.have.is_full());
            resumed += 1;
        }
        (resumed == 2).then_some(())
    })
    .await;
    again.stop_all().await;
}

#[tokio::test]
async fn a_duplicate_a_failed_check_and_an_unreadable_resume_file() {
    let src = tempfile::tempdir().unwrap();
    let (album, film) = make_data(src.path());
    let (mut m, _) = manager(4, Vec::new()).await;

    // The album's resume file is garbage: a warning, then its data is hashed.
    std::fs::write(src.path().join(".album.bt-resume"), b"garbage").unwrap();
    let a = m
        .add(
            album.clone(),
            Placement::in_dir(&album, src.path()).unwrap(),
        )
        .unwrap();
    assert_eq!(
        m.add(
            album.clone(),
            Placement::in_dir(&album, src.path()).unwrap()
        ),
        Err(AddError::AlreadyAdded(a))
    );

    // The film's data directory cannot be created: a plain file is in the way.
    let blocked = src.path().join("blocked");
    std::fs::write(&blocked, b"a file").unwrap();
    let f = m
        .add(film.clone(), Placement::in_dir(&film, &blocked).unwrap())
        .unwrap();

    let (mut notes, mut started, mut failed) = (Vec::new(), None, None);
    until(&mut m, "the album's start and the film's failure", |e| {
        match e {
            Event::Note { info_hash, line } => {
                assert_eq!(info_hash, a);
                notes.push(line);
            }
            Event::Started { info_hash, start } => {
                assert_eq!(info_hash, a);
                started = Some(start);
            }
            Event::Failed { info_hash, error } => {
                assert_eq!(info_hash, f);
                failed = Some(error);
            }
            _ => {}
        }
        (started.is_some() && failed.is_some()).then_some(())
    })
    .await;
    let start = started.unwrap();
    assert_eq!(
        start.kind,
        StartKind::Rechecked(RecheckReason::NoResumeFile)
    );
    assert!(start.have.is_full(), "the re-check finds every piece");
    assert!(
        notes[0].starts_with("warning: resume: ")
            && notes[0].ends_with("checking the data instead"),
        "{notes:?}"
    );
    assert!(
        notes[1].starts_with("checking 11 pieces of ") && notes[1].ends_with("(no resume file)"),
        "{notes:?}"
    );
    let failed = failed.unwrap();
    assert!(matches!(*failed, CheckError::CreateDir { .. }), "{failed}");
    assert!(matches!(m.status(&f), Some(TorrentStatus::Failed(_))));

    let mut ends: Vec<_> = m
        .stop_all()
        .await
        .into_iter()
        .map(|s| (s.torrent.info_hash() == f, s.end))
        .collect();
    ends.sort_by_key(|(is_film, _)| *is_film);
    assert!(matches!(ends[0].1, StopEnd::Ran { .. }));
    assert!(matches!(ends[1].1, StopEnd::Failed(_)));
    // The re-checked album's resume file is sound again.
    let resume = torrentkit_peer::ResumeData::load(&src.path().join(".album.bt-resume"))
        .unwrap()
        .unwrap();
    assert!(resume.pieces.is_full());
}
