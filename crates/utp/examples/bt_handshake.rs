//! Dials a BitTorrent peer over uTP and exchanges the BitTorrent handshake with it: a quick
//! check of the transport against another implementation (libtorrent, Transmission...).
//!
//! `cargo run -p torrentkit-utp --features tokio --example bt_handshake -- 127.0.0.1:6881 <info-hash hex>`
//! dials; with `listen 127.0.0.1:PORT` instead it waits for one peer to dial it, answers its
//! handshake for whatever torrent it names, and reads its first messages.
#![allow(clippy::print_stdout)] // an example's output is its point

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use torrentkit_utp::UtpSocket;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    if args.next().filter(|a| a == "listen").is_some() {
        let addr = args.next().ok_or("usage: bt_handshake listen HOST:PORT")?;
        return listen(addr.parse()?).await;
    }
    let mut args = std::env::args().skip(1);
    let (Some(peer), Some(hash)) = (args.next(), args.next()) else {
        return Err("usage: bt_handshake HOST:PORT INFO_HASH_HEX".into());
    };
    let info_hash: Vec<u8> = (0..20)
        .map(|i| u8::from_str_radix(hash.get(2 * i..2 * i + 2).unwrap_or("zz"), 16))
        .collect::<Result<_, _>>()
        .map_err(|_| "the info-hash must be 40 hex digits")?;
    let socket = UtpSocket::bind("127.0.0.1:0".parse()?).await?;
    let mut stream =
        tokio::time::timeout(Duration::from_secs(10), socket.connect(peer.parse()?)).await??;
    let mut hello = vec![19u8];
    hello.extend_from_slice(b"BitTorrent protocol");
    hello.extend_from_slice(&[0, 0, 0, 0, 0, 0x10, 0, 0]);
    hello.extend_from_slice(&info_hash);
    hello.extend_from_slice(b"-TK0001-utpexample01");
    stream.write_all(&hello).await?;
    let mut reply = [0u8; 68];
    tokio::time::timeout(Duration::from_secs(10), stream.read_exact(&mut reply)).await??;
    println!(
        "handshake from {peer}: peer id {:?}",
        String::from_utf8_lossy(&reply[48..])
    );
    assert_eq!(
        &reply[28..48],
        &info_hash[..],
        "the peer answers for the same torrent"
    );
    first_messages(&mut stream).await
}

/// Reads and prints the two messages that follow the handshake (extension handshake,
/// bitfield...).
async fn first_messages(
    stream: &mut torrentkit_utp::UtpStream,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut len = [0u8; 4];
    for _ in 0..2 {
        tokio::time::timeout(Duration::from_secs(10), stream.read_exact(&mut len)).await??;
        let mut body = vec![0u8; u32::from_be_bytes(len).min(1 << 20) as usize];
        stream.read_exact(&mut body).await?;
        println!("message id {:?}, {} bytes", body.first(), body.len());
    }
    println!("packet size {:?}", stream.info().map(|i| i.packet_size));
    Ok(())
}

async fn listen(addr: std::net::SocketAddr) -> Result<(), Box<dyn std::error::Error>> {
    let socket = UtpSocket::bind(addr).await?;
    println!("listening on {}", socket.local_addr());
    let mut stream = tokio::time::timeout(Duration::from_secs(30), socket.accept()).await??;
    let mut hello = [0u8; 68];
    tokio::time::timeout(Duration::from_secs(10), stream.read_exact(&mut hello)).await??;
    println!(
        "handshake from {}: peer id {:?}",
        stream.peer_addr(),
        String::from_utf8_lossy(&hello[48..])
    );
    let mut reply = hello;
    reply[48..].copy_from_slice(b"-TK0001-utpexample02");
    stream.write_all(&reply).await?;
    // An empty bitfield is not sent; say we are interested so the seed talks.
    stream.write_all(&[0, 0, 0, 1, 2]).await?;
    first_messages(&mut stream).await
}
