//! The tracker client: HTTP and UDP (BEP 15) announce and scrape, announce-list tiers (BEP 12)
//! with failover and backoff, and a thin tokio driver.
//!
//! The protocol itself (requests, replies, packets, compact peers) is torrentkit-tracker-proto's,
//! shared with torrentkit's tracker. The client parts here do no I/O either: [`UdpSession`] is a
//! state machine fed datagrams and timer ticks, and [`Announcer`] decides when to announce to
//! which tracker with which event. [`TrackerClient`] (feature `tokio`) moves the bytes, over
//! [`crate::http`] for HTTP trackers.

mod announcer;
mod error;
mod udp;

#[cfg(feature = "tokio")]
mod driver;

pub use announcer::{AnnounceJob, Announcer, AnnouncerConfig};
#[cfg(feature = "tokio")]
pub use driver::{ClientConfig, TrackerClient};
pub use error::TrackerError;
pub use torrentkit_tracker_proto::{AnnounceRequest, AnnounceResponse, Event, ScrapeStats};
pub use udp::{UdpEvent, UdpSession, MAX_RETRANSMITS};
