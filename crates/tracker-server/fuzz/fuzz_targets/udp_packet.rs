//! Fuzz target `udp_packet`: the BEP 15 codec and the UDP request handling, on arbitrary bytes.
//!
//! Nothing may panic, and:
//! - a parsed request, written back, parses to the same request (announce options, which are
//!   ignored, are dropped);
//! - a parsed reply, written back, gives back the input bytes (a connect reply: its first 16);
//! - whatever `Tracker::handle_udp` answers parses as a reply with the request's transaction id.

#![no_main]

use std::sync::OnceLock;
use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use torrentkit_tracker_server::{transaction_id_of, Config, Tracker, UdpRequest, UdpResponse};

fn tracker() -> &'static Tracker {
    static T: OnceLock<Tracker> = OnceLock::new();
    T.get_or_init(|| {
        let config = Config {
            max_torrents: 1000,
            max_peers_per_torrent: 50,
            ..Config::default()
        };
        Tracker::new(config, Instant::now())
    })
}

fn tid(r: &UdpResponse<'_>) -> u32 {
    match r {
        UdpResponse::Connect { transaction_id, .. }
        | UdpResponse::Announce { transaction_id, .. }
        | UdpResponse::Scrape { transaction_id, .. }
        | UdpResponse::Error { transaction_id, .. } => *transaction_id,
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = UdpRequest::parse(data) {
        let mut bytes = Vec::new();
        req.write(&mut bytes);
        assert_eq!(
            UdpRequest::parse(&bytes).expect("re-encoded request parses"),
            req
        );
    }
    for ipv6 in [false, true] {
        if let Ok(resp) = UdpResponse::parse(data, ipv6) {
            let mut bytes = Vec::new();
            resp.write(&mut bytes);
            // Replies may grow in later extensions, so bytes past a connect reply are ignored
            // (BEP 15); everything else is kept.
            assert!(
                data.starts_with(&bytes),
                "{bytes:?} is not a prefix of the input"
            );
            if !matches!(resp, UdpResponse::Connect { .. }) {
                assert_eq!(bytes.len(), data.len());
            }
        }
    }
    let mut out = Vec::new();
    let from = "127.0.0.1:4000".parse().unwrap();
    if tracker().handle_udp(data, from, Instant::now(), &mut out) {
        let resp = UdpResponse::parse(&out, false).expect("replies parse");
        assert_eq!(Some(tid(&resp)), transaction_id_of(data));
    } else {
        assert!(out.is_empty());
    }
});
