//! The tokio driver on loopback: streams as `AsyncRead + AsyncWrite`, both directions at
//! once, path-sized packets, clean ends.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use torrentkit_utp::{Config, UtpSocket, UtpStream};

fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..len).map(|_| rng.u8(..)).collect()
}

/// Sends `out` and reads to the end at the same time; returns what was read.
async fn send_and_receive(s: &mut UtpStream, out: &[u8]) -> Vec<u8> {
    let (mut r, mut w) = tokio::io::split(s);
    let send = async {
        w.write_all(out).await.unwrap();
        w.shutdown().await.unwrap();
    };
    let recv = async {
        let mut got = Vec::new();
        r.read_to_end(&mut got).await.unwrap();
        got
    };
    tokio::join!(send, recv).1
}

/// `a` dials `b`; `len` bytes go to `b` and `len / 2` come back, at once. Returns the packet
/// size `a` used and the datagrams `b` received.
async fn exchange(a: UtpSocket, b: UtpSocket, len: usize) -> (usize, usize) {
    let to_b = pattern(len, 1);
    let to_a = pattern(len / 2, 2);
    let (want_b, want_a) = (to_b.clone(), to_a.clone());
    let b_addr = b.local_addr();
    let server = tokio::spawn(async move {
        let mut s = b.accept().await.unwrap();
        let got = send_and_receive(&mut s, &to_a).await;
        assert!(
            got == want_b,
            "b got {} bytes, different from what a sent",
            got.len()
        );
        drop(s);
        b
    });
    let mut s = a.connect(b_addr).await.unwrap();
    let packet = s.info().unwrap().packet_size;
    let got = send_and_receive(&mut s, &to_b).await;
    assert!(
        got == want_a,
        "a got {} bytes, different from what b sent",
        got.len()
    );
    let b = server.await.unwrap();
    let received = b.stats().datagrams_received as usize;
    (packet, received)
}

#[tokio::test]
async fn two_endpoints_on_loopback_exchange_streams_with_path_sized_packets() {
    let run = async {
        let a = UtpSocket::bind("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let b = UtpSocket::bind("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let (packet, datagrams) = exchange(a, b, 8 << 20).await;
        // Loopback takes 64 KiB datagrams: both ends offered them, so that is what they use.
        assert!(packet > 60_000, "packet size {packet}");
        assert!(datagrams < 2_000, "{datagrams} datagrams for 12 MiB");
    };
    tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("the exchange finishes in time");
}

#[tokio::test]
async fn packets_capped_at_1400_bytes_carry_the_same_streams() {
    let run = async {
        let config = Config::default();
        let a = UtpSocket::bind_with_config("127.0.0.1:0".parse().unwrap(), config.clone())
            .await
            .unwrap();
        let b = UtpSocket::bind_with_config("127.0.0.1:0".parse().unwrap(), config)
            .await
            .unwrap();
        let (packet, _) = exchange(a, b, 4 << 20).await;
        assert_eq!(packet, 1400);
    };
    tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("the exchange finishes in time");
}

#[tokio::test]
async fn a_datagram_hook_sees_datagrams_first_and_takes_the_ones_it_wants() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let hook = Box::new(move |from, d: &[u8]| {
        if d.first() == Some(&b'd') {
            let _ = tx.send((from, d.to_vec()));
            return true;
        }
        false
    });
    let a = UtpSocket::bind_with_hook("127.0.0.1:0".parse().unwrap(), Config::default(), hook)
        .await
        .unwrap();
    let other = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    other
        .send_to(
            b"d1:ad2:id20:aaaaaaaaaaaaaaaaaaaae1:q4:ping1:t2:aa1:y1:qe",
            a.local_addr(),
        )
        .await
        .unwrap();
    other
        .send_to(b"garbage that is not utp", a.local_addr())
        .await
        .unwrap();
    let (from, bytes) = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(from, other.local_addr().unwrap());
    assert!(bytes.starts_with(b"d1:a"));
    // The garbage went to uTP, which counted it.
    tokio::time::timeout(Duration::from_secs(10), async {
        while a.stats().malformed == 0 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .unwrap();
    assert_eq!(a.stats().malformed, 1);
}
