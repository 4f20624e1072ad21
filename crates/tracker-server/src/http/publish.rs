//! `POST /publish`: adding a `.torrent` to the hosted set, with the publish token.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;

use crate::http::respond::{client_ip, prefix, response, Seen};
use crate::tracker::{PublishError, Tracker};

/// The token from `Authorization: Bearer TOKEN`, `X-Publish-Token: TOKEN` or `?token=TOKEN`.
fn token(req: &Request) -> Option<String> {
    let headers = req.headers();
    if let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        if let Some(t) = v.strip_prefix("Bearer ") {
            return Some(t.trim().to_owned());
        }
    }
    if let Some(v) = headers.get("x-publish-token").and_then(|v| v.to_str().ok()) {
        return Some(v.trim().to_owned());
    }
    req.uri()
        .query()?
        .split('&')
        .find_map(|kv| kv.strip_prefix("token=").map(|t| t.to_owned()))
}

fn text(status: StatusCode, body: String) -> Response {
    response(status, "text/plain; charset=utf-8", body)
}

pub(crate) async fn publish(State(t): State<Tracker>, req: Request) -> Response {
    let client = client_ip(&t, &req).ok().flatten();
    let seen = Seen::new(&t, &req, client);
    let token = token(&req);
    let base = prefix(&req);
    // Refuse before reading the body when the token is already wrong.
    if let Err(e) = t.check_publish_token(token.as_deref()) {
        return seen.finish(&t, error(e));
    }
    let limit = t.config().max_publish_size;
    let body = match axum::body::to_bytes(req.into_body(), limit).await {
        Ok(b) => b,
        Err(_) => {
            return seen.finish(
                &t,
                text(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("torrent file too large (limit {limit} bytes) or body unreadable\n"),
                ),
            )
        }
    };
    let t2 = t.clone();
    let result = tokio::task::spawn_blocking(move || t2.publish(token.as_deref(), body)).await;
    let resp = match result {
        Ok(Ok(info)) => {
            let url = format!("{base}/torrents/{}.torrent", info.info_hash.to_hex());
            let mut resp = text(
                StatusCode::CREATED,
                format!("published {} ({}) at {url}\n", info.info_hash, info.name),
            );
            if let Ok(v) = HeaderValue::from_str(&url) {
                resp.headers_mut().insert(header::LOCATION, v);
            }
            resp
        }
        Ok(Err(e)) => error(e),
        Err(_) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "publishing failed\n".into(),
        ),
    };
    seen.finish(&t, resp)
}

fn error(e: PublishError) -> Response {
    let status = match e {
        PublishError::Disabled => StatusCode::NOT_FOUND,
        PublishError::Unauthorized => StatusCode::FORBIDDEN,
        PublishError::Torrent(_) => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    text(status, format!("{e}\n"))
}
