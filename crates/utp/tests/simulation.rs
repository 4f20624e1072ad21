//! Deterministic simulations on the virtual network of `net.rs`: streams through loss,
//! reordering, duplication, long delays and a small MTU; LEDBAT on a bottleneck; throughput.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use torrentkit_utp::{CloseReason, Config, ConnectionHandle, Event};

use crate::net::{Link, Net};

/// One stream from endpoint `from` to endpoint `to`.
struct Flow {
    from: usize,
    to: usize,
    data: Vec<u8>,
    written: usize,
    sender: ConnectionHandle,
    receiver: Option<ConnectionHandle>,
    received: Vec<u8>,
    received_len: usize,
    keep: bool,
    closed: bool,
    eof_at: Option<Instant>,
    sender_closed: Option<CloseReason>,
}

fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..len).map(|_| rng.u8(..)).collect()
}

/// Opens the flows, then runs the network until every stream has arrived (or `limit` of
/// virtual time passed). `keep` false: only count received bytes (for big transfers).
fn run_flows(
    net: &mut Net,
    pairs: &[(usize, usize, usize)],
    keep: bool,
    limit: Duration,
) -> Vec<Flow> {
    let now = net.now;
    let mut flows: Vec<Flow> = pairs
        .iter()
        .enumerate()
        .map(|(i, &(from, to, len))| {
            let sender = net.ends[from].connect(net.addrs[to], now).unwrap();
            Flow {
                from,
                to,
                data: pattern(len, i as u64),
                written: 0,
                sender,
                receiver: None,
                received: Vec::new(),
                received_len: 0,
                keep,
                closed: false,
                eof_at: None,
                sender_closed: None,
            }
        })
        .collect();
    let deadline = net.start + limit;
    let mut chunk = vec![0u8; 256 * 1024];
    loop {
        // The applications: write what fits, read what came, note events.
        for f in flows.iter_mut() {
            if f.written < f.data.len() {
                f.written += net.ends[f.from]
                    .write(f.sender, &f.data[f.written..])
                    .unwrap();
            }
            if f.written == f.data.len() && !f.closed {
                net.ends[f.from].close(f.sender, net.now).unwrap();
                f.closed = true;
            }
        }
        for e in 0..net.ends.len() {
            while let Some(event) = net.ends[e].poll_event() {
                match event {
                    Event::Incoming(h) => {
                        let remote: SocketAddr = net.ends[e].remote(h).unwrap();
                        let f = flows
                            .iter_mut()
                            .find(|f| f.to == e && net.addrs[f.from] == remote)
                            .expect("an incoming connection belongs to a flow");
                        assert!(f.receiver.is_none(), "one connection per flow");
                        f.receiver = Some(h);
                    }
                    Event::Closed(h, reason) => {
                        if let Some(f) = flows.iter_mut().find(|f| f.from == e && f.sender == h) {
                            f.sender_closed = Some(reason);
                        }
                    }
                    _ => {}
                }
            }
        }
        for f in flows.iter_mut() {
            let Some(h) = f.receiver else { continue };
            if f.eof_at.is_some() {
                continue;
            }
            while let Some(n) = net.ends[f.to].read(h, &mut chunk).unwrap() {
                if n == 0 {
                    f.eof_at = Some(net.now);
                    net.ends[f.to].close(h, net.now).unwrap();
                    break;
                }
                if f.keep {
                    f.received.extend_from_slice(&chunk[..n]);
                }
                f.received_len += n;
            }
        }
        let all_done = flows
            .iter()
            .all(|f| f.eof_at.is_some() && f.sender_closed.is_some());
        if all_done || !net.step(deadline) {
            break;
        }
    }
    flows
}

#[test]
fn streams_arrive_intact_through_loss_reordering_duplication_delay_and_a_small_mtu() {
    let config = Config {
        packet_size: 1200,
        max_packet_size: 1200,
        ..Config::default()
    };
    let link = Link {
        delay: Duration::from_millis(200),
        jitter: Duration::from_millis(30),
        loss: 0.10,
        duplicate: 0.05,
        mtu: 1200,
        rate: 2_000_000,
        buffer: 400_000,
    };
    let mut net = Net::new(4, config, link, 42);
    // Both directions between 0 and 1, and two more streams sharing endpoint 1.
    let pairs = [
        (0, 1, 300_000),
        (1, 0, 200_000),
        (2, 3, 250_000),
        (3, 1, 100_000),
        (2, 1, 1),
    ];
    let flows = run_flows(&mut net, &pairs, true, Duration::from_secs(600));
    for (i, f) in flows.iter().enumerate() {
        assert!(
            f.eof_at.is_some(),
            "flow {i} did not finish: {} of {} bytes",
            f.received.len(),
            f.data.len()
        );
        assert!(f.received == f.data, "flow {i}: the bytes differ");
        assert_eq!(
            f.sender_closed,
            Some(CloseReason::Finished),
            "flow {i}: the sender closes cleanly"
        );
    }
    // The network goes quiet and every connection is forgotten (after its time-wait).
    let quiet = net.now + Duration::from_secs(120);
    while net.step(quiet) {}
    let stats = net.ends[1].stats();
    assert!(stats.retransmits > 0 && stats.duplicates > 0, "{stats:?}");
    assert_eq!(stats.malformed, 0);
    for e in &net.ends {
        assert_eq!(e.stats().connections, 0, "{:?}", e.stats());
    }
}

#[test]
fn sequence_numbers_wrap_around_without_loss_of_data() {
    // 70,000 packets of 100 bytes: every sequence number is used at least once, some twice.
    let config = Config {
        packet_size: 120,
        max_packet_size: 120,
        ..Config::default()
    };
    let link = Link {
        delay: Duration::from_millis(2),
        jitter: Duration::from_millis(1),
        loss: 0.01,
        ..Link::default()
    };
    let mut net = Net::new(2, config, link, 7);
    let flows = run_flows(
        &mut net,
        &[(0, 1, 7_000_000)],
        true,
        Duration::from_secs(3600),
    );
    assert!(
        flows[0].eof_at.is_some(),
        "{} bytes arrived",
        flows[0].received.len()
    );
    assert!(flows[0].received == flows[0].data);
}

#[test]
fn ledbat_keeps_the_queueing_delay_near_the_target_on_a_bottleneck() {
    let link = Link {
        delay: Duration::from_millis(20),
        rate: 1_000_000,
        // Two seconds of queue: only the delay can hold the sender back, not drops.
        buffer: 2_000_000,
        ..Link::default()
    };
    let config = Config {
        recv_window: 4 << 20,
        send_buffer: 4 << 20,
        ..Config::default()
    };
    let mut net = Net::new(2, config, link, 3);
    net.measure_from = net.start + Duration::from_secs(20);
    let flows = run_flows(
        &mut net,
        &[(0, 1, 60_000_000)],
        false,
        Duration::from_secs(60),
    );
    let queueing = net.mean_queueing(0, 1);
    assert_eq!(net.queue_drops(0, 1), 0);
    assert!(
        queueing > Duration::from_millis(60) && queueing < Duration::from_millis(140),
        "mean queueing delay {queueing:?} is not near the 100 ms target"
    );
    // And the link stays busy: at least 90% of its rate over the minute.
    let rate = flows[0].received_len as f64 / 60.0;
    assert!(rate > 0.9 * 1_000_000.0, "{rate} bytes/s");
}

#[test]
fn a_64_mib_stream_over_a_10_ms_rtt_link_reaches_80_percent_of_its_rate() {
    let rate = 12_500_000; // 100 Mbit/s
    let link = Link {
        delay: Duration::from_millis(5),
        rate,
        buffer: 2_000_000,
        ..Link::default()
    };
    let mut net = Net::new(2, Config::default(), link, 5);
    let len = 64 << 20;
    let flows = run_flows(&mut net, &[(0, 1, len)], false, Duration::from_secs(60));
    let done = flows[0].eof_at.expect("the stream finished");
    assert_eq!(flows[0].received_len, len);
    let achieved = len as f64 / (done - net.start).as_secs_f64();
    assert!(
        achieved >= 0.8 * rate as f64,
        "{achieved:.0} bytes/s of {rate}"
    );
}
