//! uTP (BEP 29), BitTorrent's UDP transport with LEDBAT congestion control, as a sans-IO
//! [`Endpoint`], with an optional tokio driver.
//!
//! An [`Endpoint`] holds every connection of one UDP socket. It has no socket and no clock,
//! in the shape of quinn-proto: feed it datagrams with the time
//! ([`Endpoint::handle_datagram`]), call [`Endpoint::handle_timeout`] when
//! [`Endpoint::poll_timeout`] says, and drain [`Endpoint::poll_transmit`] and
//! [`Endpoint::poll_event`]. Applications move bytes with [`Endpoint::write`] and
//! [`Endpoint::read`]. Randomness (connection ids, initial sequence numbers) comes from
//! [`Config::seed`], so a simulation replays exactly.
//!
//! - [`Packet`] decodes strictly and borrows from the datagram: the 20-byte header, the
//!   extension chain, the selective ack ([`MAX_SACK_LEN`]); every [`Error`] says what is wrong
//!   where. Sequence numbers ([`Seq`]) wrap around.
//! - Each connection: SYN/STATE/DATA/FIN/RESET, connection-id pairs, selective acks sent and
//!   honoured, fast retransmission (three duplicate or selective acks), RTT/RTO as BEP 29
//!   gives it (never below [`Config::min_timeout`], 500 ms), LEDBAT (RFC 6817, with BEP 29's
//!   100 ms target and 3,000 bytes per RTT gain, a two-minute base-delay history), window and
//!   packet-size bounds, keep-alive, idle expiry.
//! - Bounds, all in [`Config`]: connections, half-open incoming connections, queued resets,
//!   per-connection send buffer and receive window; malformed datagrams, SYN floods and acks
//!   of unsent data are dropped and counted in [`Stats`].
//!
//! # Example
//!
//! Two endpoints in memory with a made-up clock: `a` connects to `b`, sends a message and
//! closes; `b` reads it to the end.
//!
//! ```
//! use std::net::SocketAddr;
//! use std::time::{Duration, Instant};
//! use torrentkit_utp::{Config, Endpoint, Event};
//!
//! let mut now = Instant::now(); // any instant will do: endpoints never read the clock
//! let addrs: [SocketAddr; 2] = ["10.0.0.1:6881".parse()?, "10.0.0.2:6881".parse()?];
//! let mut ends = [Endpoint::new(Config::default(), now), Endpoint::new(Config::default(), now)];
//!
//! let conn = ends[0].connect(addrs[1], now)?;
//! ends[0].write(conn, b"hello over utp")?;
//! ends[0].close(conn, now)?;
//!
//! // The network: deliver every datagram, 5 ms a hop, until all is quiet.
//! let mut buf = Vec::new();
//! let mut incoming = None;
//! let mut got = Vec::new();
//! loop {
//!     let Some((from, t)) = (0..2).find_map(|i| {
//!         buf.clear();
//!         ends[i].poll_transmit(now, &mut buf).map(|t| (i, t))
//!     }) else { break };
//!     now += Duration::from_millis(5);
//!     ends[1 - from].handle_datagram(addrs[from], &buf[..t.len], now);
//!     while let Some(event) = ends[1].poll_event() {
//!         if let Event::Incoming(h) = event {
//!             incoming = Some(h);
//!         }
//!     }
//!     if let Some(h) = incoming {
//!         let mut chunk = [0u8; 64];
//!         while let Some(n) = ends[1].read(h, &mut chunk)? {
//!             if n == 0 { break }
//!             got.extend_from_slice(&chunk[..n]);
//!         }
//!     }
//! }
//! assert_eq!(got, b"hello over utp");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! With the `tokio` feature, two endpoints over loopback, one stream between them:
//!
//! ```rust
//! # #[cfg(feature = "tokio")]
//! # tokio::runtime::Runtime::new()?.block_on(async {
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//! use torrentkit_utp::UtpSocket;
//!
//! let a = UtpSocket::bind("127.0.0.1:0".parse().unwrap()).await?;
//! let b = UtpSocket::bind("127.0.0.1:0".parse().unwrap()).await?;
//! let to = b.local_addr();
//! let server = tokio::spawn(async move {
//!     let mut stream = b.accept().await?;
//!     let mut got = Vec::new();
//!     stream.read_to_end(&mut got).await?; // until the FIN
//!     Ok::<_, std::io::Error>(got)
//! });
//! let mut stream = a.connect(to).await?;
//! stream.write_all(b"hello over utp").await?;
//! stream.shutdown().await?; // FIN
//! assert_eq!(server.await.unwrap()?, b"hello over utp");
//! # Ok::<(), std::io::Error>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Feature flags
//!
//! - `tokio` (off by default): [`UtpSocket`] and [`UtpStream`], a tokio UDP socket driving an
//!   endpoint, its connections as `AsyncRead + AsyncWrite`, datagrams batched
//!   (`recvmmsg`, UDP GSO/GRO through quinn-udp) and sized to the path (64 KiB datagrams
//!   between torrentkit endpoints on loopback). Without it the crate depends only on
//!   `fastrand`.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod config;
mod conn;
#[cfg(feature = "tokio")]
mod driver;
mod endpoint;
mod error;
mod event;
mod ledbat;
mod packet;
mod seq;
mod stats;

pub use config::Config;
#[cfg(feature = "tokio")]
pub use driver::{DatagramHook, UtpSocket, UtpStream};
pub use endpoint::{ConnectionInfo, Endpoint};
pub use error::Error;
pub use event::{CloseReason, ConnectionHandle, Event, Transmit};
pub use packet::{Header, Packet, PacketType, HEADER_LEN, MAX_EXTENSIONS, MAX_SACK_LEN, VERSION};
pub use seq::Seq;
pub use stats::Stats;

/// The README's examples, compiled and run as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
