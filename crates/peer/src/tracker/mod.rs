//! The tracker client: sans-IO HTTP and UDP (BEP 15) announce and scrape, announce-list tiers
//! (BEP 12) with failover and backoff, and a thin tokio driver.
//!
//! The protocol parts do no I/O: [`http`] builds request bytes and parses replies, [`UdpSession`]
//! is a state machine fed datagrams and timer ticks, and [`Announcer`] decides when to announce
//! to which tracker with which event. [`TrackerClient`] (feature `tokio`) moves the bytes.

mod announcer;
mod error;
pub mod http;
mod types;
mod udp;
mod url;

#[cfg(feature = "tokio")]
mod driver;

pub use announcer::{AnnounceJob, Announcer, AnnouncerConfig};
#[cfg(feature = "tokio")]
pub use driver::{ClientConfig, TrackerClient};
pub use error::TrackerError;
pub use types::{AnnounceRequest, AnnounceResponse, Event, ScrapeStats};
pub use udp::{UdpEvent, UdpSession, MAX_RETRANSMITS};
pub use url::{Scheme, TrackerUrl};
