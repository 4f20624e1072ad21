//! `utp`: one 256 MiB uTP stream over loopback through torrentkit-utp's tokio driver against
//! the same stream through `librqbit-utp` (rqbit's uTP), in the same run, the same way: one
//! process, a two-worker tokio runtime per transfer, a sender writing 1 MiB buffers and a
//! receiver reading into 256 KiB and checksumming. Twice: with the packet size the path allows
//! (loopback: torrentkit's 64 KiB datagrams; rqbit at its default link MTU of 1,500, the
//! largest with which it completes here) and with datagrams capped at 1,400 bytes.
//!
//! Prints one `RESULT <impl> <packets> <wall_s> <cpu_s> <bytes>` line per transfer (the median
//! of three runs by wall time), which `cargo xtask bench utp` reads.

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use cpu_time::ProcessTime;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

const TOTAL: usize = 256 << 20;
const CHUNK: usize = 1 << 20;
const RUNS: usize = 3;

fn data() -> Vec<u8> {
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    (0..CHUNK)
        .map(|_| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng as u8
        })
        .collect()
}

/// A checksum of the stream, so both implementations are seen to carry the same bytes.
fn fold(sum: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(sum, |s, &b| s.rotate_left(5) ^ b as u64)
}

async fn send(mut w: impl AsyncWrite + Unpin, chunk: &[u8]) {
    for _ in 0..TOTAL / CHUNK {
        w.write_all(chunk).await.expect("write");
    }
    w.flush().await.expect("flush");
    w.shutdown().await.expect("shutdown");
}

async fn receive(mut r: impl AsyncRead + Unpin) -> (usize, u64) {
    let mut buf = vec![0u8; 256 * 1024];
    let (mut n, mut sum) = (0usize, 0u64);
    while n < TOTAL {
        let k = r.read(&mut buf).await.expect("read");
        if k == 0 {
            break;
        }
        sum = fold(sum, &buf[..k]);
        n += k;
    }
    (n, sum)
}

#[derive(Clone, Copy, Debug)]
enum Impl {
    Torrentkit,
    Rqbit,
}

#[derive(Clone, Copy, Debug)]
enum Packets {
    Path,
    Capped,
}

async fn transfer(which: Impl, packets: Packets, chunk: &'static [u8]) -> (usize, u64) {
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    match which {
        Impl::Torrentkit => {
            let config = match packets {
                Packets::Path => torrentkit_utp::Config {
                    max_packet_size: 65_000,
                    ..Default::default()
                },
                Packets::Capped => torrentkit_utp::Config::default(),
            };
            let a = torrentkit_utp::UtpSocket::bind_with_config(any, config.clone()).await.unwrap();
            let b = torrentkit_utp::UtpSocket::bind_with_config(any, config).await.unwrap();
            let to = b.local_addr();
            let server = tokio::spawn(async move {
                let s = b.accept().await.unwrap();
                receive(s).await
            });
            let s = a.connect(to).await.unwrap();
            let sender = tokio::spawn(async move { send(s, chunk).await });
            let got = server.await.unwrap();
            sender.await.unwrap();
            got
        }
        Impl::Rqbit => {
            let opts = || librqbit_utp::SocketOpts {
                link_mtu: NonZeroUsize::new(match packets {
                    // Its default, 1,500: the largest with which it completes on loopback here
                    // (with 9,000 or 16,412 the stream stalls; at 65,535 its probes outgrow
                    // the 16 KiB it reads datagrams into).
                    Packets::Path => 1_500,
                    // The link MTU less IPv4 and UDP headers: 1,400-byte datagrams.
                    Packets::Capped => 1_428,
                }),
                ..Default::default()
            };
            let a = librqbit_utp::UtpSocketUdp::new_udp_with_opts(any, opts(), Default::default())
                .await
                .unwrap();
            let b = librqbit_utp::UtpSocketUdp::new_udp_with_opts(any, opts(), Default::default())
                .await
                .unwrap();
            let to = b.bind_addr();
            let server = tokio::spawn(async move {
                let s = b.accept().await.unwrap();
                let (r, _w) = s.split();
                receive(r).await
            });
            let s = a.connect(to).await.unwrap();
            let sender = tokio::spawn(async move {
                let (_r, w) = s.split();
                send(w, chunk).await;
                // rqbit closes on drop; keep the socket until the receiver is done.
                tokio::time::sleep(Duration::from_millis(200)).await;
            });
            let got = server.await.unwrap();
            sender.await.unwrap();
            got
        }
    }
}

fn main() {
    let chunk: &'static [u8] = Box::leak(data().into_boxed_slice());
    let mut want = 0u64;
    for _ in 0..TOTAL / CHUNK {
        want = fold(want, chunk);
    }
    // `UTP_BENCH_ONLY=librqbit-utp:1400` (say) runs one case, for investigating.
    let only = std::env::var("UTP_BENCH_ONLY").ok();
    for packets in [Packets::Path, Packets::Capped] {
        for which in [Impl::Torrentkit, Impl::Rqbit] {
            let name = match which {
                Impl::Torrentkit => "torrentkit",
                Impl::Rqbit => "librqbit-utp",
            };
            let p = match packets {
                Packets::Path => "path",
                Packets::Capped => "1400",
            };
            if only.as_ref().is_some_and(|o| *o != format!("{name}:{p}")) {
                continue;
            }
            let mut runs = Vec::new();
            for _ in 0..RUNS {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .unwrap();
                let (wall, cpu) = (Instant::now(), ProcessTime::now());
                let (n, sum) = rt.block_on(async {
                    tokio::time::timeout(Duration::from_secs(60), transfer(which, packets, chunk))
                        .await
                        .expect("the transfer finishes in a minute")
                });
                let (wall, cpu) = (wall.elapsed(), cpu.elapsed());
                drop(rt);
                assert_eq!(n, TOTAL, "{which:?} {packets:?}: bytes received");
                assert_eq!(sum, want, "{which:?} {packets:?}: the bytes differ");
                runs.push((wall, cpu));
            }
            runs.sort();
            let (wall, cpu) = runs[RUNS / 2];
            let _ = std::io::Write::write_all(
                &mut std::io::stdout(),
                format!(
                    "RESULT {name} {p} {:.4} {:.4} {TOTAL}\n",
                    wall.as_secs_f64(),
                    cpu.as_secs_f64()
                )
                .as_bytes(),
            );
        }
    }
}
