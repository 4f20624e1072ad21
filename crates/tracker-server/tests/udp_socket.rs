//! The UDP service on a real loopback socket (port 0): connect, announce, scrape, errors.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;
use torrentkit_tracker_server::{
    Config, InfoHash, PeerId, Tracker, UdpAnnounce, UdpRequest, UdpResponse, UdpService,
};

async fn exchange(client: &UdpSocket, server: SocketAddr, req: &[u8]) -> Vec<u8> {
    client.send_to(req, server).await.unwrap();
    let mut buf = vec![0u8; 2048];
    let (n, from) = tokio::time::timeout(Duration::from_secs(5), client.recv_from(&mut buf))
        .await
        .expect("the tracker answers within 5 s")
        .unwrap();
    assert_eq!(from, server);
    buf.truncate(n);
    buf
}

async fn connect(client: &UdpSocket, server: SocketAddr) -> u64 {
    let mut req = Vec::new();
    UdpRequest::Connect { transaction_id: 1 }.write(&mut req);
    match UdpResponse::parse(&exchange(client, server, &req).await, false).unwrap() {
        UdpResponse::Connect {
            transaction_id: 1,
            connection_id,
        } => connection_id,
        other => panic!("expected a connect reply, got {other:?}"),
    }
}

fn announce(conn: u64, peer: u8, left: u64, event: u32) -> Vec<u8> {
    let mut b = Vec::new();
    UdpRequest::Announce(UdpAnnounce {
        connection_id: conn,
        transaction_id: u32::from(peer),
        info_hash: InfoHash([7; 20]),
        peer_id: PeerId([peer; 20]),
        downloaded: 0,
        left,
        uploaded: 0,
        event,
        ip: 0,
        key: u32::from(peer),
        num_want: 50,
        port: 6000 + u16::from(peer),
    })
    .write(&mut b);
    b
}

#[tokio::test]
async fn udp_tracker_on_a_loopback_socket() {
    let tracker = Tracker::new(Config::default(), std::time::Instant::now());
    let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let server = socket.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let service = UdpService::new(tracker.clone());
    let task = tokio::spawn(async move {
        service
            .run(socket, async {
                let _ = stopped.await;
            })
            .await;
    });

    let seed = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let leech = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let c1 = connect(&seed, server).await;
    let c2 = connect(&leech, server).await;
    exchange(&seed, server, &announce(c1, 1, 0, 2)).await;
    let reply = exchange(&leech, server, &announce(c2, 2, 99, 2)).await;
    match UdpResponse::parse(&reply, false).unwrap() {
        UdpResponse::Announce {
            transaction_id,
            interval,
            leechers,
            seeders,
            peers,
        } => {
            assert_eq!(
                (transaction_id, interval, leechers, seeders),
                (2, 1800, 1, 1)
            );
            assert_eq!(peers, &[127, 0, 0, 1, 0x17, 0x71]);
        }
        other => panic!("expected an announce reply, got {other:?}"),
    }

    let mut scrape = Vec::new();
    UdpRequest::Scrape {
        connection_id: c1,
        transaction_id: 9,
        info_hashes: &[7; 20],
    }
    .write(&mut scrape);
    let reply = exchange(&seed, server, &scrape).await;
    let want: Vec<u8> = [1u32, 0, 1].iter().flat_map(|n| n.to_be_bytes()).collect();
    assert_eq!(
        UdpResponse::parse(&reply, false).unwrap(),
        UdpResponse::Scrape {
            transaction_id: 9,
            entries: &want
        }
    );

    // A forged connection id is refused with an error naming it.
    let reply = exchange(&leech, server, &announce(c2 ^ 0xffff, 3, 5, 0)).await;
    assert_eq!(
        UdpResponse::parse(&reply, false).unwrap(),
        UdpResponse::Error {
            transaction_id: 3,
            message: b"bad or expired connection id"
        }
    );
    // A stop leaves the swarm.
    exchange(&leech, server, &announce(c2, 2, 99, 3)).await;
    assert_eq!(tracker.store().totals().leechers, 0);
    let c = tracker.counts();
    assert_eq!(
        (
            c.udp_connects,
            c.udp_announces,
            c.udp_scrapes,
            c.udp_failures
        ),
        (2, 4, 1, 1)
    );

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("service stops")
        .unwrap();
}
