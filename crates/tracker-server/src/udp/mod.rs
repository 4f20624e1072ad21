//! The UDP tracker (BEP 15): connection ids, the request handling and the socket loop (the
//! packet codec is torrentkit-tracker-proto's).

pub(crate) mod batch;
pub(crate) mod concurrent;
mod connection_id;
pub(crate) mod handler;
mod service;

pub use connection_id::ConnectionIds;
pub use service::UdpService;
