//! The endpoint's settings, with the defaults of BEP 29 and libtorrent.

use std::time::Duration;

/// How an [`Endpoint`](crate::Endpoint) behaves; every bound on what a remote host can make it
/// hold is here. `Default` gives BEP 29's constants and sizes that suit BitTorrent.
#[derive(Debug, Clone)]
pub struct Config {
    /// The datagram size (header included) used with peers that do not say they take larger
    /// ones, and towards any address that is not loopback: 1,400 bytes, which passes almost
    /// every path (BEP 29's advice; libtorrent's default). A network with a smaller MTU needs
    /// a smaller value.
    pub packet_size: usize,
    /// The largest datagram this endpoint sends and receives (header included). It is
    /// advertised to peers in the SYN and its answer (a torrentkit extension that other
    /// implementations skip, as BEP 29 asks); two torrentkit endpoints on loopback use it,
    /// since loopback carries datagrams of 64 KiB. \[`packet_size`\]: the tokio driver raises
    /// it to 65,000.
    pub max_packet_size: usize,
    /// Bytes a connection buffers for the application to read, in order and out of order: the
    /// receive window it advertises. \[1 MiB\]
    pub recv_window: u32,
    /// Bytes a connection accepts from the application before `write` takes no more (sent and
    /// unacknowledged included). \[1 MiB\]
    pub send_buffer: usize,
    /// The largest congestion window, in bytes. \[8 MiB\]
    pub max_window: usize,
    /// Packets in flight at most (sent, not yet acknowledged). 512, as libtorrent's reorder
    /// limit, so a libtorrent receiver never drops ours for being too far ahead. \[512\]
    pub max_packets_in_flight: usize,
    /// LEDBAT's target queueing delay. \[100 ms, BEP 29\]
    pub target_delay: Duration,
    /// LEDBAT's gain: bytes the window grows per round trip when the delay is zero.
    /// \[3,000, BEP 29\]
    pub gain: u32,
    /// The retransmission timeout never goes below this. \[500 ms, BEP 29\]
    pub min_timeout: Duration,
    /// How many times a SYN is resent before a connect fails. \[3\]
    pub syn_resends: u32,
    /// How many times one packet is resent before the connection is given up. \[8\]
    pub max_resends: u32,
    /// A connection that sent nothing for this long sends an ack, keeping NAT mappings open.
    /// \[29 s\]
    pub keepalive: Duration,
    /// A connection that received nothing for this long is closed. \[60 s\]
    pub idle_timeout: Duration,
    /// After it closed its side, a connection waits at most this long for the peer's FIN
    /// before it is dropped. \[10 s\]
    pub linger: Duration,
    /// Connections held at most, in any state. \[1,024\]
    pub max_connections: usize,
    /// Incoming connections whose SYN was answered but that have not sent anything since,
    /// held at most: further SYNs are dropped (and counted) until some complete or expire.
    /// \[64\]
    pub max_half_open: usize,
    /// Whether SYNs from other hosts are accepted at all. \[true\]
    pub accept_incoming: bool,
    /// Resets queued for datagrams to unknown connections, at most; more are dropped. \[64\]
    pub max_pending_resets: usize,
    /// Seeds connection ids and initial sequence numbers, so a simulation replays exactly.
    pub seed: u64,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            packet_size: 1400,
            max_packet_size: 1400,
            recv_window: 1 << 20,
            send_buffer: 1 << 20,
            max_window: 8 << 20,
            max_packets_in_flight: 512,
            target_delay: Duration::from_millis(100),
            gain: 3000,
            min_timeout: Duration::from_millis(500),
            syn_resends: 3,
            max_resends: 8,
            keepalive: Duration::from_secs(29),
            idle_timeout: Duration::from_secs(60),
            linger: Duration::from_secs(10),
            max_connections: 1024,
            max_half_open: 64,
            accept_incoming: true,
            max_pending_resets: 64,
            seed: 0x7574_705f_7365_6564,
        }
    }
}
