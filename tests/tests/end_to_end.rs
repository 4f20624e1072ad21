//! The libraries together, through their public APIs: torrentkit-metainfo makes the torrent,
//! torrentkit-tracker-server introduces the peers, torrentkit-peer's tracker client and sessions
//! announce, seed and download over loopback.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use torrentkit_metainfo::{InfoHash, TorrentBuilder};

use torrentkit_peer::session::{recheck, Session, SessionConfig};
use torrentkit_peer::tracker::{AnnounceRequest, ClientConfig, Event, TrackerClient};
use torrentkit_peer::{Bitfield, Placement, Rng};
use torrentkit_wire::PeerId;

const LIMIT: Duration = Duration::from_secs(60);

/// A `bt tracker` of this workspace on a free loopback port; stopped through the sender.
fn start_tracker(
    listener: TcpListener,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), torrentkit_tracker_server::Error>>,
) {
    start_tracker_with(listener, torrentkit_tracker_server::Config::default())
}

/// [`start_tracker`] with `config`.
fn start_tracker_with(
    listener: TcpListener,
    config: torrentkit_tracker_server::Config,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), torrentkit_tracker_server::Error>>,
) {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(torrentkit_tracker_server::serve(listener, config, async {
        let _ = stopped.await;
    }));
    (stop, server)
}

fn request(peer: u8, port: u16, left: u64) -> AnnounceRequest {
    let mut r = AnnounceRequest::new(InfoHash([0x42; 20]), PeerId([peer; 20]), port, left);
    r.event = Event::Started;
    r
}

/// Against the real tracker of this workspace: HTTP and UDP on one port, peers meet each other,
/// scrape counts them.
#[tokio::test]
async fn tracker_client_against_tracker_server_over_http_and_udp() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, server) = start_tracker(listener);
    let mut client = TrackerClient::new(ClientConfig::default(), 5);
    let http = format!("http://{addr}/announce");
    let udp = format!("udp://{addr}/announce");
    let work = async {
        // The HTTP reply proves the server runs, and it binds UDP before serving HTTP.
        let seed = client.announce(&http, &request(1, 7001, 0)).await.unwrap();
        assert!(seed.peers.is_empty(), "{:?}", seed.peers);
        let leech = client.announce(&udp, &request(2, 7002, 100)).await.unwrap();
        assert_eq!(leech.peers, vec![SocketAddr::from(([127, 0, 0, 1], 7001))]);
        assert_eq!((leech.seeders, leech.leechers), (Some(1), Some(1)));
        let again = client.announce(&http, &request(3, 7003, 50)).await.unwrap();
        let mut ports: Vec<u16> = again.peers.iter().map(SocketAddr::port).collect();
        ports.sort_unstable();
        assert_eq!(ports, vec![7001, 7002]);
        for url in [&http, &udp] {
            let s = client.scrape(url, &[InfoHash([0x42; 20])]).await.unwrap();
            assert_eq!((s[0].seeders, s[0].leechers), (1, 2), "{url}");
        }
        let mut stopped_req = request(2, 7002, 100);
        stopped_req.event = Event::Stopped;
        client.announce(&udp, &stopped_req).await.unwrap();
        let s = client.scrape(&http, &[InfoHash([0x42; 20])]).await.unwrap();
        assert_eq!((s[0].seeders, s[0].leechers), (1, 1));
    };
    run_then_stop(work, stop, server).await;
}

/// Runs `work` within [`LIMIT`], then stops the tracker and checks that it ended cleanly.
async fn run_then_stop(
    work: impl std::future::Future<Output = ()>,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<Result<(), torrentkit_tracker_server::Error>>,
) {
    tokio::time::timeout(LIMIT, work)
        .await
        .expect("tracker exchange within the limit");
    let _ = stop.send(());
    tokio::time::timeout(LIMIT, server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

/// Polls the tracker's scrape (with a deadline) until it counts `seeders` seeds.
async fn wait_seeders(
    client: &mut TrackerClient,
    url: &str,
    info_hash: InfoHash,
    seeders: u32,
    what: &str,
) {
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let s = client.scrape(url, &[info_hash]).await.unwrap();
        if s.first().is_some_and(|s| s.seeders == seeders) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: the tracker never counted {seeders} seeders: {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Two files of random bytes under `dir/album`, so pieces span a file boundary.
fn write_album(dir: &Path) -> Vec<u8> {
    let mut data = vec![0u8; 1 << 20];
    Rng::new(2).fill(&mut data);
    let album = dir.join("album");
    std::fs::create_dir_all(&album).unwrap();
    let split = data.len() / 3;
    std::fs::write(album.join("a.bin"), &data[..split]).unwrap();
    std::fs::write(album.join("b.bin"), &data[split..]).unwrap();
    data
}

fn read_album(dir: &Path) -> Vec<u8> {
    let mut all = std::fs::read(dir.join("album/a.bin")).unwrap();
    all.extend(std::fs::read(dir.join("album/b.bin")).unwrap());
    all
}

/// What an embedding program does: make a torrent naming a tracker, run the tracker, seed the
/// data and download it elsewhere, the two sessions finding each other only through the
/// tracker; a paused seed leaves the swarm (`stopped`) and a resumed one comes back (`started`).
#[tokio::test]
async fn peers_find_each_other_through_the_tracker() {
    let tracker = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tracker_addr = tracker.local_addr().unwrap();
    let (stop, server) = start_tracker(tracker);

    let seed_dir = tempfile::tempdir().unwrap();
    let data = write_album(seed_dir.path());
    let torrent = TorrentBuilder::new(seed_dir.path().join("album"))
        .piece_length(64 * 1024)
        .tier(vec![
            format!("udp://{tracker_addr}/announce"),
            format!("http://{tracker_addr}/announce"),
        ])
        .build()
        .unwrap();
    let info_hash = torrent.info_hash();
    let hashes = torrent.info().pieces().to_vec();

    let seed_storage = Placement::in_dir(&torrent, seed_dir.path())
        .unwrap()
        .storage();
    let have = recheck(&seed_storage, &hashes, 2);
    assert!(have.is_full(), "the seed's data checks");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut sc = SessionConfig::from_torrent(&torrent, [1; 20], 1);
    sc.listen_port = listener.local_addr().unwrap().port();
    sc.seed = true;
    let seed = Session::start(sc, Arc::new(seed_storage), have, Some(listener));

    // Wait until the tracker knows the seed, so the downloader's first announce returns it.
    let mut client = TrackerClient::new(ClientConfig::default(), 9);
    let announce_url = format!("http://{tracker_addr}/announce");
    wait_seeders(
        &mut client,
        &announce_url,
        info_hash,
        1,
        "the seed's announce",
    )
    .await;

    let down_dir = tempfile::tempdir().unwrap();
    let storage = Placement::in_dir(&torrent, down_dir.path())
        .unwrap()
        .storage();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut lc = SessionConfig::from_torrent(&torrent, [2; 20], 2);
    lc.listen_port = listener.local_addr().unwrap().port();
    let leech = Session::start(
        lc,
        Arc::new(storage),
        Bitfield::new(hashes.len() as u32),
        Some(listener),
    );
    let summary = tokio::time::timeout(LIMIT, leech.join())
        .await
        .expect("download within the limit");
    assert!(summary.have.is_full(), "{summary:?}");
    assert_eq!(read_album(down_dir.path()), data);

    seed.pause();
    wait_seeders(&mut client, &announce_url, info_hash, 0, "stopped on pause").await;
    seed.resume();
    wait_seeders(
        &mut client,
        &announce_url,
        info_hash,
        1,
        "started on resume",
    )
    .await;
    tokio::time::timeout(LIMIT, seed.stop()).await.unwrap();
    wait_seeders(
        &mut client,
        &announce_url,
        info_hash,
        0,
        "stopped at the end",
    )
    .await;
    let _ = stop.send(());
    let _ = tokio::time::timeout(LIMIT, server).await;
}

/// The tracker's TLS config through the embedding API, with certificates made by rcgen: the
/// tracker client announces over HTTPS once the test CA is configured, and a client without it
/// refuses the certificate with the host and the reason.
#[tokio::test]
async fn tracker_server_over_https_with_a_test_ca() {
    use torrentkit_peer::http::{self, Client, Options, Request};
    let dir = tempfile::tempdir().unwrap();
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    let (ca_pem, cert_pem, key_pem) = (
        dir.path().join("ca.pem"),
        dir.path().join("cert.pem"),
        dir.path().join("key.pem"),
    );
    std::fs::write(&ca_pem, ca.pem()).unwrap();
    std::fs::write(&cert_pem, cert.pem()).unwrap();
    std::fs::write(&key_pem, key.serialize_pem()).unwrap();

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = torrentkit_tracker_server::Config {
        tls: Some(
            torrentkit_tracker_server::TlsConfig::from_pem_files(&cert_pem, &key_pem).unwrap(),
        ),
        udp: torrentkit_tracker_server::UdpBind::Off,
        ..Default::default()
    };
    let (stop, server) = start_tracker_with(listener, config);
    let url = format!("https://{addr}/announce");
    let work = async {
        let untrusted = Client::new(&http::ClientConfig::default()).unwrap();
        let err = untrusted
            .send(&Request::get(&url), &Options::default())
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("127.0.0.1") && err.contains("invalid peer certificate"),
            "{err}"
        );
        http::configure(http::ClientConfig {
            ca_certs: vec![ca_pem.clone()],
            ..Default::default()
        })
        .unwrap();
        let mut client = TrackerClient::new(ClientConfig::default(), 9);
        let seed = client.announce(&url, &request(1, 7101, 0)).await.unwrap();
        assert!(seed.peers.is_empty());
        let leech = client.announce(&url, &request(2, 7102, 10)).await.unwrap();
        assert_eq!(leech.peers, vec![SocketAddr::from(([127, 0, 0, 1], 7101))]);
    };
    run_then_stop(work, stop, server).await;
}
