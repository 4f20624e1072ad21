//! What an endpoint tells its driver: events about connections, and datagrams to send.

use std::net::SocketAddr;

/// Names one connection of an [`Endpoint`](crate::Endpoint). Handles are not reused while the
/// endpoint lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionHandle(pub(crate) u64);

/// Why a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// Both sides sent their FIN and it was acknowledged (or the linger time passed).
    Finished,
    /// The peer sent a RESET.
    Reset,
    /// The peer stopped answering (SYN unanswered, resends exhausted, or idle too long).
    TimedOut,
    /// The application aborted it ([`Endpoint::reset`](crate::Endpoint::reset)).
    Aborted,
}

/// Something the driver should act on, from [`Endpoint::poll_event`](crate::Endpoint::poll_event).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A peer opened a connection to us (its SYN was answered).
    Incoming(ConnectionHandle),
    /// Our connect was answered: the connection is established.
    Connected(ConnectionHandle),
    /// Data (or the end of the stream) can be read.
    Readable(ConnectionHandle),
    /// Send-buffer space was freed: `write` takes more.
    Writable(ConnectionHandle),
    /// The connection ended; `read` still returns what was buffered.
    Closed(ConnectionHandle, CloseReason),
}

/// One datagram written by [`Endpoint::poll_transmit`](crate::Endpoint::poll_transmit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmit {
    /// Where to send it.
    pub destination: SocketAddr,
    /// Its length: the bytes appended to the caller's buffer.
    pub len: usize,
}
