//! [`UdpService`]: the UDP tracker run on a socket the caller owns.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use tokio::net::UdpSocket;

use crate::tracker::Tracker;

/// The largest packet read: a scrape of 74 info-hashes is 1,496 bytes; anything longer is cut
/// and refused by the parser.
const MAX_PACKET: usize = 2048;

/// Answers UDP tracker requests on a socket, with a [`Tracker`]'s state.
///
/// Several `run` loops may share one socket (through an `Arc`) to use several cores. With a
/// shared store (Redis) each packet waits for its store call in turn: run several loops on the
/// socket, or use [`serve`](crate::serve), which answers packets concurrently.
#[derive(Clone, Debug)]
pub struct UdpService {
    tracker: Tracker,
}

impl UdpService {
    /// A service answering with `tracker`.
    pub fn new(tracker: Tracker) -> UdpService {
        UdpService { tracker }
    }

    /// Receives and answers packets until `shutdown` completes. Errors from single packets (a
    /// refused send, an ICMP error reported on receive) are skipped; the loop only ends on
    /// shutdown.
    pub async fn run(&self, socket: Arc<UdpSocket>, shutdown: impl Future<Output = ()>) {
        let mut buf = vec![0u8; MAX_PACKET];
        let mut out = Vec::with_capacity(MAX_PACKET);
        tokio::pin!(shutdown);
        loop {
            let (len, from) = tokio::select! {
                biased;
                () = &mut shutdown => return,
                r = socket.recv_from(&mut buf) => match r {
                    Ok(r) => r,
                    Err(_) => continue,
                },
            };
            if self
                .tracker
                .handle_udp_shared(&buf[..len], from, Instant::now(), &mut out)
                .await
            {
                let _ = socket.send_to(&out, from).await;
            }
        }
    }
}
