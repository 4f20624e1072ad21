//! Peer identity: an announce from another IP never stops or moves a stored peer unless it
//! carries that peer's `key`, over HTTP and UDP alike; a port change from the same IP (NAT
//! rebinding) still updates it.

use std::net::SocketAddr;
use std::time::Instant;

use torrentkit_tracker_server::{
    Config, InfoHash, PeerId, Tracker, UdpAnnounce, UdpRequest, UdpResponse,
};

use crate::common::{announce, app, get};

const HOME: &str = "127.0.0.1:40000";
const INTRUDER: &str = "127.0.0.3:40000";
const REFUSED: &str = "peer_id already in use from another address without its key";

/// The compact peers another peer (id 9, from 10.9.9.9) is given for torrent 1 over HTTP.
async fn http_peers(app: &axum::Router) -> Vec<u8> {
    get(app, &announce(1, 9, 9999, 5, "&compact=1"), "10.9.9.9:1")
        .await
        .bytes("peers")
        .unwrap()
}

async fn http_case(key: &str, intruder_key: &str) {
    let (_, app) = app(Config::default());
    let r = get(&app, &announce(1, 1, 6881, 5, key), HOME).await;
    assert_eq!(r.failure(), None);
    let home = vec![127, 0, 0, 1, 0x1a, 0xe1];
    for event in ["&event=stopped", "", "&event=completed"] {
        let extra = format!("{event}{intruder_key}");
        let r = get(&app, &announce(1, 1, 6881, 0, &extra), INTRUDER).await;
        assert_eq!(r.failure().as_deref(), Some(REFUSED), "intruder {extra:?}");
        assert_eq!(http_peers(&app).await, home, "after intruder {extra:?}");
    }
}

#[tokio::test]
async fn http_keyless_peer_is_not_taken_over() {
    http_case("", "").await;
    http_case("", "&key=abcd").await;
}

#[tokio::test]
async fn http_keyed_peer_is_not_taken_over() {
    http_case("&key=aaaa", "").await;
    http_case("&key=aaaa", "&key=bbbb").await;
}

#[tokio::test]
async fn http_key_moves_and_nat_port_change_updates() {
    let (_, app) = app(Config::default());
    get(&app, &announce(1, 1, 6881, 5, "&key=aaaa"), HOME).await;
    let r = get(&app, &announce(1, 1, 7000, 5, "&key=aaaa"), INTRUDER).await;
    assert_eq!(r.failure(), None, "the key proves the move");
    assert_eq!(http_peers(&app).await, vec![127, 0, 0, 3, 0x1b, 0x58]);

    let (_, app) = crate::common::app(Config::default());
    get(&app, &announce(1, 1, 6881, 5, ""), HOME).await;
    let r = get(&app, &announce(1, 1, 7001, 5, ""), "127.0.0.1:50000").await;
    assert_eq!(r.failure(), None, "same IP, new port: no key needed");
    assert_eq!(http_peers(&app).await, vec![127, 0, 0, 1, 0x1b, 0x59]);
    let r = get(&app, &announce(1, 1, 7001, 5, "&event=stopped"), HOME).await;
    assert_eq!(r.failure(), None);
    assert_eq!(http_peers(&app).await, Vec::<u8>::new());
}

/// One UDP exchange through the sans-IO handler: connect from `from`, then announce.
fn udp_announce(t: &Tracker, from: &str, peer: u8, key: u32, event: u32, port: u16) -> Vec<u8> {
    let from: SocketAddr = from.parse().unwrap();
    let now = Instant::now();
    let mut out = Vec::new();
    let mut req = Vec::new();
    UdpRequest::Connect { transaction_id: 1 }.write(&mut req);
    assert!(t.handle_udp(&req, from, now, &mut out));
    let UdpResponse::Connect { connection_id, .. } = UdpResponse::parse(&out, false).unwrap()
    else {
        panic!("expected a connect reply");
    };
    req.clear();
    UdpRequest::Announce(UdpAnnounce {
        connection_id,
        transaction_id: 2,
        info_hash: InfoHash([1; 20]),
        peer_id: PeerId([peer; 20]),
        downloaded: 0,
        left: 5,
        uploaded: 0,
        event,
        ip: 0,
        key,
        num_want: 50,
        port,
    })
    .write(&mut req);
    assert!(t.handle_udp(&req, from, now, &mut out));
    out
}

fn udp_peers(t: &Tracker) -> Vec<u8> {
    let out = udp_announce(t, "10.9.9.9:1", 9, 99, 0, 9999);
    match UdpResponse::parse(&out, false).unwrap() {
        UdpResponse::Announce { peers, .. } => peers.to_vec(),
        other => panic!("expected an announce reply, got {other:?}"),
    }
}

#[test]
fn udp_peer_is_not_taken_over_and_its_key_moves_it() {
    // BEP 15 announces always carry a key: the intruder's differs from the stored peer's.
    let t = Tracker::new(Config::default(), Instant::now());
    udp_announce(&t, HOME, 1, 7, 2, 6881);
    let home = vec![127, 0, 0, 1, 0x1a, 0xe1];
    for event in [3, 0, 1] {
        let out = udp_announce(&t, INTRUDER, 1, 8, event, 6881);
        assert_eq!(
            UdpResponse::parse(&out, false).unwrap(),
            UdpResponse::Error {
                transaction_id: 2,
                message: REFUSED.as_bytes()
            },
            "event {event}"
        );
        assert_eq!(udp_peers(&t), home, "after event {event}");
    }
    // A NAT port change from the same IP updates the peer.
    udp_announce(&t, "127.0.0.1:50000", 1, 8, 0, 7001);
    assert_eq!(udp_peers(&t), vec![127, 0, 0, 1, 0x1b, 0x59]);
    // The key the peer announced with moves it to a new IP.
    udp_announce(&t, INTRUDER, 1, 8, 0, 7000);
    assert_eq!(udp_peers(&t), vec![127, 0, 0, 3, 0x1b, 0x58]);
}

#[test]
fn a_peer_known_over_http_is_not_taken_over_over_udp() {
    // One store behind both protocols: a key-less HTTP peer cannot be stopped from another IP
    // over UDP either.
    let t = Tracker::new(Config::default(), Instant::now());
    let mut out = Vec::new();
    let q = announce(1, 1, 6881, 5, "");
    let query = q.split_once('?').unwrap().1;
    let ip = HOME.parse::<SocketAddr>().unwrap().ip();
    t.http_announce(query.as_bytes(), Some(ip), Instant::now(), &mut out)
        .expect("announce");
    let out = udp_announce(&t, INTRUDER, 1, 0, 3, 6881);
    assert!(matches!(
        UdpResponse::parse(&out, false).unwrap(),
        UdpResponse::Error { .. }
    ));
    assert_eq!(udp_peers(&t), vec![127, 0, 0, 1, 0x1a, 0xe1]);
}
