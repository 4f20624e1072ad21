//! Counters of what an endpoint received, sent and refused.

/// A snapshot of an endpoint's counters (since it started) and of what it holds now.
///
/// Malformed or hostile input raises a counter instead of reaching a connection: a host
/// sending garbage raises `malformed`, a SYN flood `syn_dropped`, forged acks
/// `acks_for_unsent`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Datagrams handed to the endpoint.
    pub datagrams_received: u64,
    /// Datagrams that are not uTP packets (short header, unknown version or type, bad
    /// extension or selective-ack length): dropped.
    pub malformed: u64,
    /// Packets for no connection we hold (answered with a RESET unless they are one).
    pub unknown_connection: u64,
    /// SYNs dropped because of the connection or half-open limits, or because incoming
    /// connections are off.
    pub syn_dropped: u64,
    /// Packets acknowledging sequence numbers we never sent: dropped.
    pub acks_for_unsent: u64,
    /// Data packets outside the receive window (too far ahead, or no buffer room): dropped.
    pub out_of_window: u64,
    /// Data packets received again (already acknowledged or buffered).
    pub duplicates: u64,
    /// Datagrams the endpoint produced.
    pub datagrams_sent: u64,
    /// Data packets sent again (after a timeout, duplicate acks or a selective-ack hole).
    pub retransmits: u64,
    /// Retransmission timeouts.
    pub timeouts: u64,
    /// RESET packets sent.
    pub resets_sent: u64,
    /// RESETs not sent because too many were queued.
    pub resets_dropped: u64,
    /// Connections held now.
    pub connections: usize,
    /// Incoming connections held now that have not completed.
    pub half_open: usize,
}
