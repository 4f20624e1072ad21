//! The UDP tracker as [`serve`](crate::serve) runs it over a shared store (Redis): packets are
//! answered concurrently, each in its own task, because each waits for a network round trip to
//! the store; the batched blocking threads of `batch.rs` would wait for them one at a time. Part
//! of the serving shell.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use tokio::net::UdpSocket;
use tokio::sync::Semaphore;

use crate::tracker::Tracker;

/// The largest packet read, as in the other loops.
const MAX_PACKET: usize = 2048;
/// Packets answered at once; beyond this, reading waits (and the kernel's buffer drops the
/// excess, which clients retry, as BEP 15 says), so memory stays bounded under a flood.
const IN_FLIGHT: usize = 4096;

/// Answers packets on `socket` until `stop` completes.
pub(crate) async fn run(tracker: Tracker, socket: Arc<UdpSocket>, stop: impl Future<Output = ()>) {
    let permits = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut buf = vec![0u8; MAX_PACKET];
    tokio::pin!(stop);
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let (len, from) = tokio::select! {
            biased;
            () = &mut stop => return,
            r = socket.recv_from(&mut buf) => match r {
                Ok(r) => r,
                // An ICMP error reported for an earlier send.
                Err(_) => continue,
            },
        };
        let packet = buf[..len].to_vec();
        let (tracker, socket) = (tracker.clone(), socket.clone());
        tokio::spawn(async move {
            let mut out = Vec::with_capacity(512);
            if tracker
                .handle_udp_shared(&packet, from, Instant::now(), &mut out)
                .await
            {
                let _ = socket.send_to(&out, from).await;
            }
            drop(permit);
        });
    }
}
