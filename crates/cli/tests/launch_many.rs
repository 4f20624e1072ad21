//! `bt launch-many` end to end on loopback, bt against bt: a directory with one torrent whose
//! data is there (seeded) and one whose data a `bt seed` has (downloaded), a torrent added and
//! one removed while it runs, the open-file cap, and SIGINT saving every resume file.

use std::path::Path;

use torrentkit_metainfo::TorrentBuilder;

use crate::util::{Running as Bt, Scratch};

const NET: [&str; 4] = ["--port", "0", "--bind", "127.0.0.1"];

fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn make_torrent(path: &Path, out: &Path) {
    let torrent = TorrentBuilder::new(path)
        .piece_length(32 * 1024)
        .build()
        .unwrap();
    std::fs::write(out, torrent.to_bytes()).unwrap();
}

/// The data files of `dir` that process `pid` holds open now.
fn open_data_files(pid: u32, dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    fds.filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .filter(|target| {
            // Data files only: not the directory read by a rescan, not a .torrent being read,
            // not a resume file being saved.
            let name = target.to_string_lossy();
            target.starts_with(dir)
                && target.is_file()
                && !name.ends_with(".torrent")
                && !name.contains(".bt-resume")
        })
        .collect()
}

#[test]
fn launch_many_seeds_downloads_follows_the_directory_and_saves_on_sigint() {
    let scratch = Scratch::new("launch-many");
    let dir = scratch.path().join("torrents");
    let src = scratch.path().join("src");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::create_dir_all(src.join("album")).unwrap();
    // Here already: a multi-file torrent whose data sits in the directory.
    let local = dir.join("album");
    std::fs::create_dir_all(&local).unwrap();
    for i in 0..4u64 {
        std::fs::write(local.join(format!("track{i}.bin")), data(100_000, 10 + i)).unwrap();
    }
    make_torrent(&local, &dir.join("album.torrent"));
    // Elsewhere: a multi-file torrent a `bt seed` serves, and a single file added later.
    let remote = src.join("photos");
    std::fs::create_dir_all(&remote).unwrap();
    let mut originals = Vec::new();
    for i in 0..5u64 {
        let bytes = data(150_000, 20 + i);
        std::fs::write(remote.join(format!("p{i}.jpg")), &bytes).unwrap();
        originals.push((format!("p{i}.jpg"), bytes));
    }
    let photos_torrent = src.join("photos.torrent");
    make_torrent(&remote, &photos_torrent);
    let late = src.join("late.bin");
    let late_bytes = data(300_000, 30);
    std::fs::write(&late, &late_bytes).unwrap();
    let late_torrent = src.join("late.torrent");
    make_torrent(&late, &late_torrent);

    let mut seeder = Bt::spawn(&[
        "seed",
        photos_torrent.to_str().unwrap(),
        remote.to_str().unwrap(),
        "--port",
        "0",
        "--bind",
        "127.0.0.1",
    ]);
    let seed_port = seeder.port();
    let mut late_seeder = Bt::spawn(&[
        "seed",
        late_torrent.to_str().unwrap(),
        late.to_str().unwrap(),
        "--port",
        "0",
        "--bind",
        "127.0.0.1",
    ]);
    let late_port = late_seeder.port();
    std::fs::copy(&photos_torrent, dir.join("photos.torrent")).unwrap();

    let peer1 = format!("127.0.0.1:{seed_port}");
    let peer2 = format!("127.0.0.1:{late_port}");
    let mut args = vec![
        "launch-many",
        dir.to_str().unwrap(),
        "--max-open-files",
        "2",
        "--peer",
        &peer1,
        "--peer",
        &peer2,
        "--status-interval",
        "0.5",
        "--resume-interval",
        "0.5",
        "--json",
    ];
    args.extend(NET);
    let mut many = Bt::spawn(&args);
    let pid = many.pid();
    let watcher = {
        let dir = dir.clone();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut most = Vec::new();
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                let open = open_data_files(pid, &dir);
                if open.len() > most.len() {
                    most = open;
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            most
        });
        (stop, handle)
    };
    let mut complete = Vec::new();
    many.wait_for(60, |l| {
        if let Some(name) = l.split_once("complete ").map(|(_, n)| n.trim().to_owned()) {
            complete.push(name);
        }
        (complete.contains(&"album".to_owned()) && complete.contains(&"photos".to_owned()))
            .then_some(())
    });
    for (name, bytes) in &originals {
        assert_eq!(
            &std::fs::read(dir.join("photos").join(name)).unwrap(),
            bytes,
            "{name}"
        );
    }

    // Added while running: it starts and completes.
    std::fs::copy(&late_torrent, dir.join("late.torrent")).unwrap();
    many.wait_for(60, |l| l.contains("complete late.bin").then_some(()));
    assert_eq!(std::fs::read(dir.join("late.bin")).unwrap(), late_bytes);

    // Removed while running: it stops, and the status table no longer lists it.
    std::fs::remove_file(dir.join("album.torrent")).unwrap();
    many.wait_for(30, |l| l.contains("stopped album").then_some(()));
    many.wait_for(30, |l| {
        l.starts_with("bt: launch-many: 2 torrents").then_some(())
    });

    many.signal("INT");
    let (status, stdout, stderr) = many.finish(60);
    watcher.0.store(true, std::sync::atomic::Ordering::Relaxed);
    let most_open = watcher.1.join().unwrap();
    assert!(status.success(), "exit {status:?}:\n{stderr}");
    assert!(stderr.contains("stopped photos"), "{stderr}");
    assert!(stderr.contains("stopped late.bin"), "{stderr}");
    assert!(dir.join(".photos.bt-resume").is_file());
    assert!(dir.join(".late.bin.bt-resume").is_file());
    assert!(dir.join(".album.bt-resume").is_file());
    let summaries: serde_json::Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("bad --json output {stdout:?}: {e}"));
    let mut names: Vec<(&str, bool)> = summaries
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), s["complete"] == true))
        .collect();
    names.sort();
    assert_eq!(
        names,
        [("album", true), ("late.bin", true), ("photos", true)],
        "{stdout}"
    );
    assert!(!most_open.is_empty(), "the sampler saw data files open");
    assert!(
        most_open.len() <= 2,
        "{most_open:?} open at once; the cap is 2"
    );
    seeder.kill();
    late_seeder.kill();
}
