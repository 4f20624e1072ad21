//! The tokio tracker client against small loopback servers written here (HTTP framing,
//! redirects, failures, BEP 15 connection-id reuse). Against torrentkit-tracker-server itself, see
//! the workspace's end-to-end tests (`tests/tests/end_to_end.rs`).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use torrentkit_metainfo::InfoHash;
use torrentkit_peer::tracker::{AnnounceRequest, ClientConfig, Event, TrackerClient, TrackerError};
use torrentkit_wire::PeerId;

const LIMIT: Duration = Duration::from_secs(20);

fn request(peer: u8, port: u16, left: u64) -> AnnounceRequest {
    let mut r = AnnounceRequest::new(InfoHash([0x42; 20]), PeerId([peer; 20]), port, left);
    r.event = Event::Started;
    r
}

/// Serves one canned HTTP reply per connection, in order; returns the address and the
/// request heads received.
async fn http_server(replies: Vec<Vec<u8>>) -> (SocketAddr, tokio::task::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut heads = Vec::new();
        for reply in replies {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 1024];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = s.read(&mut chunk).await.unwrap();
                assert!(n > 0, "client closed before sending its request");
                buf.extend_from_slice(&chunk[..n]);
            }
            heads.push(String::from_utf8(buf).unwrap());
            // Write in two pieces to exercise incremental framing.
            let (a, b) = reply.split_at(reply.len() / 2);
            s.write_all(a).await.unwrap();
            s.flush().await.unwrap();
            s.write_all(b).await.unwrap();
        }
        heads
    });
    (addr, task)
}

#[tokio::test]
async fn http_announce_chunked_reply_with_compact_peers() {
    let mut body = b"d8:intervali900e12:min intervali60e5:peers6:".to_vec();
    body.extend_from_slice(&[127, 0, 0, 1, 0x1A, 0xE1]);
    body.extend_from_slice(b"10:tracker id2:t1e");
    let mut reply =
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n"
            .to_vec();
    for piece in body.chunks(7) {
        reply.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        reply.extend_from_slice(piece);
        reply.extend_from_slice(b"\r\n");
    }
    reply.extend_from_slice(b"0\r\n\r\n");
    let (addr, server) = http_server(vec![reply]).await;
    let mut client = TrackerClient::new(ClientConfig::default(), 1);
    let url = format!("http://{addr}/announce?passkey=abc");
    let resp = tokio::time::timeout(LIMIT, client.announce(&url, &request(1, 6881, 10)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(resp.interval, Duration::from_secs(900));
    assert_eq!(resp.min_interval, Some(Duration::from_secs(60)));
    assert_eq!(resp.tracker_id.as_deref(), Some(&b"t1"[..]));
    assert_eq!(
        resp.peers,
        vec!["127.0.0.1:6881".parse::<SocketAddr>().unwrap()]
    );
    let heads = server.await.unwrap();
    let line = heads[0].lines().next().unwrap();
    assert!(
        line.starts_with("GET /announce?passkey=abc&info_hash=BBBBBBBBBBBBBBBBBBBB&peer_id=%01"),
        "{line}"
    );
    assert!(
        line.contains("&port=6881&")
            && line.contains("&left=10&")
            && line.contains("&event=started"),
        "{line}"
    );
    assert!(
        heads[0]
            .to_ascii_lowercase()
            .contains(&format!("\r\nhost: {addr}\r\n")),
        "{}",
        heads[0]
    );
}

#[tokio::test]
async fn http_redirects_are_followed_and_failures_reported() {
    let (addr2, second) = http_server(vec![
        b"HTTP/1.1 200 OK\r\nContent-Length: 25\r\n\r\nd8:intervali60e5:peers0:e".to_vec(),
    ])
    .await;
    let (addr, first) = http_server(vec![format!(
        "HTTP/1.1 302 Found\r\nLocation: http://{addr2}/real/announce\r\nContent-Length: 0\r\n\r\n"
    )
    .into_bytes()])
    .await;
    let mut client = TrackerClient::new(ClientConfig::default(), 2);
    let resp = tokio::time::timeout(
        LIMIT,
        client.announce(&format!("http://{addr}/announce"), &request(1, 1, 0)),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(
        resp.interval,
        Duration::from_secs(60),
        "the redirect target answered"
    );
    first.await.unwrap();
    let heads = second.await.unwrap();
    assert!(
        heads[0].starts_with("GET /real/announce HTTP/1.1\r\n"),
        "the Location is fetched as given: {}",
        heads[0]
    );

    let (addr, _s) = http_server(vec![
        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 34\r\n\r\nd14:failure reason12:unregisterede"
            .to_vec(),
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nno!".to_vec(),
    ])
    .await;
    let url = format!("http://{addr}/announce");
    let err = client.announce(&url, &request(1, 1, 0)).await.unwrap_err();
    assert_eq!(err.to_string(), "tracker: failure: unregistered");
    let err = client.announce(&url, &request(1, 1, 0)).await.unwrap_err();
    assert!(
        matches!(err, TrackerError::HttpStatus { status: 404, .. }),
        "{err}"
    );
}

/// The one HTTP client (`torrentkit_peer::http`), as `bt download` uses it for `.torrent` URLs:
/// a relative `Location` is fetched from the same host, other statuses come back as they are,
/// and redirects beyond the limit are an error.
#[tokio::test]
async fn http_send_follows_relative_redirects() {
    use torrentkit_peer::http::{send, HttpError, Options, Request};
    let (addr, server) = http_server(vec![
        b"HTTP/1.0 302 Found\r\nLocation: /x.torrent\r\n\r\n".to_vec(),
        b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nabc".to_vec(),
        b"HTTP/1.0 404 Not Found\r\n\r\n".to_vec(),
        b"HTTP/1.0 302 Found\r\nLocation: /again\r\n\r\n".to_vec(),
        b"HTTP/1.0 302 Found\r\nLocation: /again\r\n\r\n".to_vec(),
    ])
    .await;
    let url = format!("http://{addr}/old.torrent");
    let options = Options {
        max_redirects: 1,
        ..Options::default()
    };
    let resp = send(&Request::get(&url), &options).await.unwrap();
    assert_eq!((resp.status, resp.body.as_slice()), (200, &b"abc"[..]));
    let resp = send(&Request::get(&url), &options).await.unwrap();
    assert_eq!(resp.status_line, "404 Not Found");
    let err = send(&Request::get(&url), &options).await.unwrap_err();
    assert!(matches!(err, HttpError::TooManyRedirects(1)), "{err}");
    let heads = server.await.unwrap();
    assert!(
        heads[0].starts_with("GET /old.torrent HTTP/1.1\r\n"),
        "{}",
        heads[0]
    );
    assert!(
        heads[1].starts_with("GET /x.torrent HTTP/1.1\r\n"),
        "{}",
        heads[1]
    );
    assert!(
        heads[1]
            .to_ascii_lowercase()
            .contains(&format!("\r\nhost: {addr}\r\n")),
        "{}",
        heads[1]
    );
}

#[tokio::test]
async fn https_and_unreachable_trackers_fail_clearly() {
    let mut client = TrackerClient::new(ClientConfig::default(), 3);
    // An https:// tracker that answers plain HTTP at once: the TLS handshake fails, and the
    // error names the URL.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let _plain = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
    });
    let err = client
        .announce(&format!("https://{addr}/announce"), &request(1, 1, 0))
        .await
        .unwrap_err();
    assert!(
        matches!(err, TrackerError::Request(_))
            && err
                .to_string()
                .contains(&format!("https://{addr}/announce")),
        "{err}"
    );
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = client
        .announce(
            &format!("http://127.0.0.1:{port}/announce"),
            &request(1, 1, 0),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, TrackerError::Request(_)) && err.to_string().contains("Connection refused"),
        "{err}"
    );
}

/// A BEP 15 tracker that counts connects and answers announces with one peer; the second
/// announce within a minute must reuse the connection id.
#[tokio::test]
async fn udp_announce_reuses_the_connection_id() {
    let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr().unwrap();
    let connects = Arc::new(AtomicU32::new(0));
    let counter = connects.clone();
    tokio::spawn(async move {
        let mut buf = [0u8; 2048];
        loop {
            let (n, from) = server.recv_from(&mut buf).await.unwrap();
            let p = &buf[..n];
            let tid = &p[12..16];
            let mut out = Vec::new();
            if n == 16 && p[8..12] == [0, 0, 0, 0] {
                counter.fetch_add(1, Ordering::SeqCst);
                out.extend_from_slice(&[0, 0, 0, 0]);
                out.extend_from_slice(tid);
                out.extend_from_slice(&0xC0FFEEu64.to_be_bytes());
            } else if n == 98 && p[8..12] == [0, 0, 0, 1] {
                assert_eq!(&p[..8], &0xC0FFEEu64.to_be_bytes());
                out.extend_from_slice(&[0, 0, 0, 1]);
                out.extend_from_slice(tid);
                for v in [120u32, 2, 1] {
                    out.extend_from_slice(&v.to_be_bytes());
                }
                out.extend_from_slice(&[10, 0, 0, 7, 0x1A, 0xE1]);
            } else {
                out.extend_from_slice(&[0, 0, 0, 3]);
                out.extend_from_slice(tid);
                out.extend_from_slice(b"unexpected packet");
            }
            server.send_to(&out, from).await.unwrap();
        }
    });
    let mut client = TrackerClient::new(ClientConfig::default(), 4);
    let url = format!("udp://{addr}/announce");
    for _ in 0..3 {
        let resp = tokio::time::timeout(LIMIT, client.announce(&url, &request(1, 6881, 5)))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(resp.interval, Duration::from_secs(120));
        assert_eq!((resp.leechers, resp.seeders), (Some(2), Some(1)));
        assert_eq!(
            resp.peers,
            vec!["10.0.0.7:6881".parse::<SocketAddr>().unwrap()]
        );
    }
    assert_eq!(
        connects.load(Ordering::SeqCst),
        1,
        "one connect for three announces"
    );
    let err = tokio::time::timeout(LIMIT, client.scrape(&url, &[InfoHash([1; 20])]))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(err.to_string(), "tracker: failure: unexpected packet");
}

/// A reply longer than the caller's limit (a 100 MB "torrent") is refused with an error naming
/// the URL and the limit, before its body is read when the length is declared.
#[tokio::test]
async fn replies_over_the_size_limit_are_refused() {
    use torrentkit_peer::http::{send, HttpError, Options, Request};
    let (addr, _server) = http_server(vec![
        b"HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\nd8:announce".to_vec(),
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\n123456789\r\n0\r\n\r\n"
            .to_vec(),
    ])
    .await;
    let url = format!("http://{addr}/big.torrent");
    let options = Options {
        max_response: 8,
        ..Options::default()
    };
    for _ in 0..2 {
        let err = send(&Request::get(&url), &options).await.unwrap_err();
        assert!(matches!(err, HttpError::TooLarge { limit: 8, .. }), "{err}");
        assert!(err.to_string().contains(&url), "{err}");
    }
}
