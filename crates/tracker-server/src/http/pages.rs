//! The human- and monitoring-facing pages: the HTML index, `/metrics`, `/stats.json`, and the
//! hosted `.torrent` files.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::fmt::Write as _;

use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;

use crate::http::respond::{client_ip, prefix, response, Seen};
use crate::swarm::SwarmStats;
use crate::tracker::{DfileStatus, Tracker};
use torrentkit_tracker_proto::InfoHash;

/// Torrents listed on the index page beyond the hosted ones (the busiest first).
const MAX_UNHOSTED_ROWS: usize = 1000;

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `1.5 GiB` and the like.
fn human(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

pub(crate) async fn index(State(t): State<Tracker>, req: Request) -> Response {
    let client = client_ip(&t, &req).ok().flatten();
    let base = prefix(&req);
    let mut hosted = t.hosted_torrents();
    hosted.sort_by(|a, b| a.info.name.cmp(&b.info.name));
    let hosted_set: HashSet<InfoHash> = hosted.iter().map(|h| h.info.info_hash).collect();
    // The busiest unhosted torrents, kept in a bounded min-heap so that a tracker with a million
    // torrents neither sorts nor holds them all for one page; every one counts in the totals.
    let mut busiest: BinaryHeap<Reverse<(u32, InfoHash, SwarmStats)>> = BinaryHeap::new();
    let (mut unhosted, mut seeders, mut leechers, mut completed) = (0usize, 0u64, 0u64, 0u64);
    let listed = t
        .for_each_swarm(|hash, stats| {
            if hosted_set.contains(hash) {
                return;
            }
            unhosted += 1;
            seeders += u64::from(stats.seeders);
            leechers += u64::from(stats.leechers);
            completed += stats.completed;
            busiest.push(Reverse((stats.seeders + stats.leechers, *hash, stats)));
            if busiest.len() > MAX_UNHOSTED_ROWS {
                busiest.pop();
            }
        })
        .await;
    let hosted_hashes: Vec<InfoHash> = hosted.iter().map(|h| h.info.info_hash).collect();
    let hosted_stats = t.scrape_shared(&hosted_hashes).await;
    let store_error = listed.err().or(hosted_stats.as_ref().err().cloned());
    let hosted_stats = hosted_stats.unwrap_or_default();
    let mut others: Vec<(InfoHash, SwarmStats)> = busiest
        .into_iter()
        .map(|Reverse((_, h, s))| (h, s))
        .collect();
    others.sort_by_key(|(h, s)| (Reverse(s.seeders + s.leechers), *h));
    let more = unhosted - others.len();

    let mut html = String::with_capacity(4096);
    html.push_str(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>BitTorrent tracker</title>\
         <style>body{font-family:sans-serif}table{border-collapse:collapse}\
         td,th{padding:2px 8px;border-bottom:1px solid #ddd}td.n{text-align:right}\
         code{font-size:90%}</style></head><body>\n<h1>BitTorrent tracker</h1>\n",
    );
    if let Some(e) = &store_error {
        let _ = writeln!(
            html,
            "<p><strong>The swarm store is not answering ({}): counts are missing.</strong></p>",
            escape(&e.to_string())
        );
    }
    let _ = writeln!(
        html,
        "<p>Announce URL: <code>{base}/announce</code></p>\n<table>\n<tr><th>name</th><th>info-hash</th>\
         <th>seeders</th><th>leechers</th><th>completed</th><th>size</th></tr>"
    );
    let mut size = 0u64;
    for (i, h) in hosted.iter().enumerate() {
        let s = hosted_stats.get(i).copied().unwrap_or_default();
        let hex = h.info.info_hash.to_hex();
        let name = if h.info.name.is_empty() {
            &hex
        } else {
            &h.info.name
        };
        let _ = writeln!(
            html,
            "<tr><td><a href=\"{base}/torrents/{hex}.torrent\">{}</a></td><td><code>{hex}</code></td>\
             <td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td></tr>",
            escape(name),
            s.seeders,
            s.leechers,
            s.completed,
            human(h.info.total_size)
        );
        seeders += u64::from(s.seeders);
        leechers += u64::from(s.leechers);
        completed += s.completed;
        size += h.info.total_size;
    }
    for (hash, s) in &others {
        let _ = writeln!(
            html,
            "<tr><td></td><td><code>{hash}</code></td><td class=n>{}</td><td class=n>{}</td>\
             <td class=n>{}</td><td class=n></td></tr>",
            s.seeders, s.leechers, s.completed
        );
    }
    let torrents = hosted.len() + unhosted;
    let _ = writeln!(
        html,
        "<tr><th>{torrents} torrents</th><th></th><th class=n>{seeders}</th><th class=n>{leechers}</th>\
         <th class=n>{completed}</th><th class=n>{}</th></tr>\n</table>",
        human(size)
    );
    if more > 0 {
        let _ = writeln!(
            html,
            "<p>{more} less busy torrents not listed (the totals count them).</p>"
        );
    }
    html.push_str("</body></html>\n");
    Seen::new(&t, &req, client).finish(
        &t,
        response(StatusCode::OK, "text/html; charset=utf-8", html),
    )
}

pub(crate) async fn metrics(State(t): State<Tracker>, req: Request) -> Response {
    let client = client_ip(&t, &req).ok().flatten();
    let totals = t.totals().await;
    let store_up = totals.is_ok();
    let totals = totals.unwrap_or_default();
    let c = t.counts();
    let mut m = String::with_capacity(2048);
    let mut gauge = |name: &str, help: &str, value: u64| {
        let _ = writeln!(
            m,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
        );
    };
    gauge(
        "tracker_torrents",
        "Torrents with at least one peer.",
        totals.torrents as u64,
    );
    gauge(
        "tracker_seeders",
        "Seeding peers over all torrents.",
        totals.seeders,
    );
    gauge(
        "tracker_leechers",
        "Downloading peers over all torrents.",
        totals.leechers,
    );
    gauge(
        "tracker_hosted_torrents",
        "Hosted .torrent files.",
        t.hosted_torrents().len() as u64,
    );
    let _ = writeln!(
        m,
        "# HELP tracker_completed_total Completed downloads reported by tracked torrents.\n\
         # TYPE tracker_completed_total counter\ntracker_completed_total {}",
        totals.completed
    );
    let _ = writeln!(
        m,
        "# HELP tracker_requests_total Requests answered, by protocol and kind.\n\
         # TYPE tracker_requests_total counter"
    );
    for (proto, kind, n) in [
        ("http", "announce", c.http_announces),
        ("http", "scrape", c.http_scrapes),
        ("udp", "connect", c.udp_connects),
        ("udp", "announce", c.udp_announces),
        ("udp", "scrape", c.udp_scrapes),
    ] {
        let _ = writeln!(
            m,
            "tracker_requests_total{{protocol=\"{proto}\",kind=\"{kind}\"}} {n}"
        );
    }
    let _ = writeln!(
        m,
        "# HELP tracker_failures_total Requests answered with a failure.\n\
         # TYPE tracker_failures_total counter\n\
         tracker_failures_total{{protocol=\"http\"}} {}\ntracker_failures_total{{protocol=\"udp\"}} {}",
        c.http_failures, c.udp_failures
    );
    let _ = writeln!(
        m,
        "# HELP tracker_published_total Torrents accepted through /publish.\n\
         # TYPE tracker_published_total counter\ntracker_published_total {}",
        c.published
    );
    let _ = writeln!(
        m,
        "# HELP tracker_background_failures_total Periodic dfile saves and rescans that failed.\n\
         # TYPE tracker_background_failures_total counter\ntracker_background_failures_total {}",
        c.background_failures
    );
    let _ = writeln!(
        m,
        "# HELP tracker_store_up Whether the swarm store answered this scrape (1) or not (0).\n\
         # TYPE tracker_store_up gauge\ntracker_store_up{{store=\"{}\"}} {}",
        kind(&t),
        u8::from(store_up)
    );
    let _ = writeln!(
        m,
        "# HELP tracker_store_errors_total Calls to the swarm store that failed or timed out.\n\
         # TYPE tracker_store_errors_total counter\ntracker_store_errors_total {}",
        c.store_errors
    );
    let _ = writeln!(
        m,
        "# HELP tracker_http_connections_closed_total HTTP connections closed, by reason.\n\
         # TYPE tracker_http_connections_closed_total counter"
    );
    for (reason, n) in crate::stats::CloseReason::ALL.iter().zip(c.closed) {
        let _ = writeln!(
            m,
            "tracker_http_connections_closed_total{{reason=\"{}\"}} {n}",
            reason.label()
        );
    }
    if let Some(log) = t.access_log() {
        let _ = writeln!(
            m,
            "# HELP tracker_log_lines_dropped_total Access-log lines dropped because output lagged.\n\
             # TYPE tracker_log_lines_dropped_total counter\ntracker_log_lines_dropped_total {}",
            log.dropped()
        );
    }
    Seen::new(&t, &req, client).finish(&t, response(StatusCode::OK, "text/plain; version=0.0.4", m))
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The store's kind as `/stats.json` names it.
fn kind(t: &Tracker) -> &'static str {
    if t.is_shared() {
        "redis"
    } else {
        "memory"
    }
}

pub(crate) async fn stats_json(State(t): State<Tracker>, req: Request) -> Response {
    let client = client_ip(&t, &req).ok().flatten();
    let totals = t.totals().await;
    let store = match &totals {
        Ok(_) => format!("{{\"kind\":{},\"up\":true}}", json_string(kind(&t))),
        Err(e) => format!(
            "{{\"kind\":{},\"up\":false,\"error\":{}}}",
            json_string(kind(&t)),
            json_string(&e.to_string())
        ),
    };
    let totals = totals.unwrap_or_default();
    let c = t.counts();
    let dfile = match t.dfile_status() {
        DfileStatus::None => "null".to_owned(),
        DfileStatus::Created => "{\"status\":\"created\"}".to_owned(),
        DfileStatus::Loaded(r) => format!(
            "{{\"status\":\"loaded\",\"torrents\":{},\"peers\":{}}}",
            r.torrents, r.peers
        ),
        DfileStatus::MovedAside { error, to } => format!(
            "{{\"status\":\"moved_aside\",\"error\":{},\"moved_to\":{}}}",
            json_string(&error.to_string()),
            json_string(&to.display().to_string())
        ),
    };
    let body = format!(
        "{{\"torrents\":{},\"seeders\":{},\"leechers\":{},\"completed\":{},\"hosted\":{},\
         \"requests\":{{\"http_announce\":{},\"http_scrape\":{},\"http_failure\":{},\
         \"udp_connect\":{},\"udp_announce\":{},\"udp_scrape\":{},\"udp_failure\":{},\"published\":{},\
         \"store_error\":{}}},\"store\":{store},\"dfile\":{dfile}}}\n",
        totals.torrents,
        totals.seeders,
        totals.leechers,
        totals.completed,
        t.hosted_torrents().len(),
        c.http_announces,
        c.http_scrapes,
        c.http_failures,
        c.udp_connects,
        c.udp_announces,
        c.udp_scrapes,
        c.udp_failures,
        c.published,
        c.store_errors,
    );
    Seen::new(&t, &req, client).finish(&t, response(StatusCode::OK, "application/json", body))
}

pub(crate) async fn torrent_file(
    State(t): State<Tracker>,
    Path(file): Path<String>,
    req: Request,
) -> Response {
    let client = client_ip(&t, &req).ok().flatten();
    let hosted = file
        .strip_suffix(".torrent")
        .and_then(|hex| InfoHash::from_hex(hex).ok())
        .and_then(|h| t.hosted(&h));
    let resp = match hosted {
        Some(h) => {
            let mut resp = response(StatusCode::OK, "application/x-bittorrent", h.bytes.clone());
            let name: String = h
                .info
                .name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || " .-_()[]+,".contains(c) {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            let name = if name.is_empty() {
                h.info.info_hash.to_hex()
            } else {
                name
            };
            if let Ok(v) = HeaderValue::from_str(&format!("inline; filename=\"{name}.torrent\"")) {
                resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
            }
            resp
        }
        None => response(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            format!("no hosted torrent `{file}`\n"),
        ),
    };
    Seen::new(&t, &req, client).finish(&t, resp)
}
