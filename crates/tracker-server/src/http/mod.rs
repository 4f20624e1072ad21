//! The HTTP side: [`router`], the axum routes for announce, scrape, pages, hosted files and
//! publishing, each a thin layer over [`Tracker`](crate::Tracker).

pub(crate) mod accept;
mod announce;
mod pages;
mod publish;
mod respond;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;

use crate::tracker::Tracker;

/// The tracker's routes, relative to wherever the host mounts them:
///
/// | route | what |
/// |---|---|
/// | `GET /announce` | BEP 3 announce (BEP 23 compact, BEP 7 `peers6`) |
/// | `GET /scrape` | BEP 48 scrape |
/// | `GET /` | HTML index of torrents with counts and links to hosted files |
/// | `GET /metrics` | Prometheus text format |
/// | `GET /stats.json` | the same numbers as JSON |
/// | `GET /torrents/INFOHASH.torrent` | a hosted `.torrent` (`application/x-bittorrent`) |
/// | `POST /publish` | add a `.torrent` (body) with the publish token |
///
/// The state is not applied: call `.with_state(tracker)` and nest the result, or use
/// [`serve`](crate::serve). The client address comes from axum's `ConnectInfo<SocketAddr>`, so
/// serve the app with `into_make_service_with_connect_info::<SocketAddr>()`; without it, only
/// trusted proxy headers or a trusted `ip=` can say who the client is.
pub fn router() -> Router<Tracker> {
    Router::new()
        .route("/announce", get(announce::announce))
        .route("/scrape", get(announce::scrape))
        .route("/", get(pages::index))
        .route("/metrics", get(pages::metrics))
        .route("/stats.json", get(pages::stats_json))
        .route("/torrents/{file}", get(pages::torrent_file))
        .route(
            "/publish",
            post(publish::publish).layer(DefaultBodyLimit::disable()),
        )
}
