//! The BitTorrent tracker protocol as a sans-IO codec, shared by a client and a tracker.
//!
//! Both halves of every exchange live here, so a client and a server built on this crate cannot
//! drift apart: a client writes an [`AnnounceRequest`] as an HTTP query
//! ([`AnnounceRequest::write_query`], BEP 3) or a UDP packet ([`UdpAnnounce::from_request`],
//! BEP 15), and a tracker parses it back ([`AnnounceRequest::parse`], [`UdpRequest::parse`]) with
//! strict bounds and a [`RequestError`] naming every problem; a tracker writes the bencoded reply
//! ([`write_compact_announce`] straight into its buffer, [`write_dictionary_announce`],
//! [`write_scrape_reply`], [`write_failure`]; compact peers per BEP 23 and `peers6` per BEP 7;
//! scrape per BEP 48) or the UDP reply ([`UdpResponse`]), and a client parses it
//! ([`AnnounceResponse::parse`], [`parse_scrape_reply`], [`UdpResponse::parse`]). [`Event`] has
//! BEP 21's `paused`; [`compact`] is the 6- and 18-byte peer form.
//!
//! The crate does no I/O, keeps no state and never reads the clock: durations are values.
//! Percent-encoding is torrentkit-metainfo's [`percent`](torrentkit_metainfo::percent) module,
//! the info-hash its [`InfoHash`], the peer id torrentkit-wire's [`PeerId`].
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use torrentkit_metainfo::InfoHash;
//! use torrentkit_tracker_proto::{
//!     compact, write_compact_announce, AnnounceCounts, AnnounceRequest, AnnounceResponse, Event,
//! };
//! use torrentkit_wire::PeerId;
//!
//! // The client's announce, as the query of an HTTP GET...
//! let mut req = AnnounceRequest::new(InfoHash([0xaa; 20]), PeerId(*b"-TK0100-000000000001"), 6881, 100);
//! req.event = Event::Started;
//! let mut target = String::from("/announce");
//! req.write_query(&mut target);
//!
//! // ...read by the tracker...
//! let query = target.strip_prefix("/announce?").unwrap();
//! let seen = AnnounceRequest::parse(query.as_bytes(), 4096)?;
//! assert_eq!(seen, req);
//!
//! // ...which answers with one compact peer...
//! let peer = compact::Compact::of("10.0.0.1:6881".parse()?);
//! let counts = AnnounceCounts { seeders: 1, leechers: 1, completed: 0,
//!     interval: Duration::from_secs(1800), min_interval: Duration::from_secs(900) };
//! let mut body = Vec::new();
//! write_compact_announce(&mut body, &counts, peer.as_bytes(), &[]);
//!
//! // ...that the client reads back.
//! let reply = AnnounceResponse::parse(&body)?;
//! assert_eq!(reply.peers, vec!["10.0.0.1:6881".parse()?]);
//! assert_eq!(reply.interval, Duration::from_secs(1800));
//!
//! // Malformed requests are refused with a reason naming the problem.
//! let err = AnnounceRequest::parse(b"info_hash=short&port=1", 4096).unwrap_err();
//! assert_eq!(err.to_string(), "bad info_hash length 5 (expected 20 bytes)");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Feature flags
//!
//! None.

mod announce;
pub mod compact;
mod error;
mod event;
mod query;
mod reply;
mod scrape;
mod udp;

pub use announce::AnnounceRequest;
pub use error::{ReplyError, RequestError};
pub use event::Event;
pub use query::parse_ip;
pub use reply::{
    parse_scrape_reply, write_compact_announce, write_dictionary_announce, write_failure,
    write_scrape_reply, AnnounceCounts, AnnounceResponse, DictionaryPeer,
};
pub use scrape::{ScrapeRequest, ScrapeStats};
pub use torrentkit_metainfo::InfoHash;
pub use torrentkit_wire::PeerId;
pub use udp::{
    action, push_scrape_entry, read_scrape_entries, reply_header, transaction_id_of, PacketError,
    UdpAnnounce, UdpRequest, UdpResponse, ANNOUNCE_LEN, PROTOCOL_ID,
};

/// The README's examples, compiled and run as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
