//! Fuzz target `http_query`: the announce and scrape query parsers and the whole HTTP announce
//! and scrape answer, on arbitrary bytes.
//!
//! Nothing may panic, and:
//! - a parsed announce, written back as a query (`AnnounceRequest::write_query`, the client's
//!   encoder), parses to the same request;
//! - every reply `Tracker::http_announce` and `Tracker::http_scrape` write is strict bencode:
//!   a dictionary with `failure reason` exactly when they return an error, else with `interval`
//!   (announce) or `files` (scrape).

#![no_main]

use std::sync::OnceLock;
use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use torrentkit_tracker_server::{AnnounceRequest, Config, ScrapeRequest, Tracker};

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

fn requery(r: &AnnounceRequest) -> String {
    let mut q = String::new();
    r.write_query(&mut q);
    q
}

fn check_reply(reply: &[u8], failed: bool, success_key: &[u8]) {
    let value = torrentkit_bencode::decode(reply).expect("replies are strict bencode");
    let dict = value.as_dict().expect("replies are dictionaries");
    assert_eq!(dict.get(b"failure reason").is_some(), failed);
    if !failed {
        assert!(dict.get(success_key).is_some());
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = AnnounceRequest::parse(data, 4096) {
        let again = AnnounceRequest::parse(requery(&r).as_bytes(), 1 << 20)
            .expect("re-encoded request parses");
        assert_eq!(again, r);
    }
    let _ = ScrapeRequest::parse(data, 4096, 74);

    let t = tracker();
    let mut out = Vec::new();
    let result = t.http_announce(
        data,
        Some("10.1.2.3".parse().unwrap()),
        Instant::now(),
        &mut out,
    );
    check_reply(&out, result.is_err(), b"interval");
    out.clear();
    let result = t.http_scrape(data, &mut out);
    check_reply(&out, result.is_err(), b"files");
});
