//! Embeds the tracker in an existing axum service: the host's own routes stay where they are, the
//! tracker answers under `/tracker` (announce URL `http://HOST:PORT/tracker/announce`), and the UDP
//! tracker runs on a socket the host binds itself.
//!
//! Run it with `cargo run -p torrentkit-tracker-server --example embed -- 127.0.0.1:8080`
//! (any address; port 0 picks a free one) and stop it with Ctrl-C.

#![allow(
    clippy::print_stdout,
    reason = "an example program reports where it listens"
)]

use std::net::SocketAddr;
use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use torrentkit_tracker_server::{router, AccessLog, Config, Tracker, UdpService};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".into());

    // The tracker's state, shared by the HTTP routes and the UDP service.
    let tracker = Tracker::new(Config::default(), std::time::Instant::now());
    let _ = tracker.set_access_log(AccessLog::new(std::io::stdout()));

    // The host's own application, with the tracker nested under /tracker.
    let app = Router::new()
        .route("/", get(|| async { "the host service's own page\n" }))
        .route("/health", get(|| async { "ok\n" }))
        .nest("/tracker", router().with_state(tracker.clone()));

    let listener = tokio::net::TcpListener::bind(&addr).await?;
    let local = listener.local_addr()?;

    // The UDP tracker on the host's own socket, same port number.
    let socket = Arc::new(tokio::net::UdpSocket::bind(local).await?);
    let udp = UdpService::new(tracker.clone());
    tokio::spawn(async move { udp.run(socket, std::future::pending()).await });

    // Peers would otherwise stay forever: expire them now and then.
    let t = tracker.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tick.tick().await;
            t.expire(std::time::Instant::now());
        }
    });

    println!("host service on http://{local}/");
    println!("tracker: http://{local}/tracker/announce and udp://{local}/announce");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
