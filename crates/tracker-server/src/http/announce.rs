//! The `/announce` and `/scrape` handlers.

use std::time::Instant;

use axum::extract::{Request, State};
use axum::response::Response;

use crate::http::respond::{bencoded, client_ip, Seen};
use crate::reply;
use crate::tracker::Tracker;

pub(crate) async fn announce(State(t): State<Tracker>, req: Request) -> Response {
    let mut out = Vec::with_capacity(512);
    let client = match client_ip(&t, &req) {
        Ok(client) => client,
        Err(e) => {
            reply::write_failure(&mut out, &e.to_string());
            let seen = Seen::new(&t, &req, None);
            return seen.finish(&t, bencoded(out));
        }
    };
    let query = req.uri().query().unwrap_or("").as_bytes();
    let _ = t
        .http_announce_shared(query, client, Instant::now(), &mut out)
        .await;
    Seen::new(&t, &req, client).finish(&t, bencoded(out))
}

pub(crate) async fn scrape(State(t): State<Tracker>, req: Request) -> Response {
    let client = client_ip(&t, &req).ok().flatten();
    let mut out = Vec::with_capacity(256);
    let query = req.uri().query().unwrap_or("").as_bytes();
    let _ = t.http_scrape_shared(query, &mut out).await;
    Seen::new(&t, &req, client).finish(&t, bencoded(out))
}
