//! Helpers every handler uses: the client's address, the mount prefix, building a response and
//! writing its access-log line.

use std::net::{IpAddr, SocketAddr};

use axum::body::Body;
use axum::extract::{ConnectInfo, OriginalUri, Request};
use axum::http::{header, HeaderValue, Method, StatusCode, Uri, Version};
use axum::response::Response;

use torrentkit_tracker_proto::{parse_ip, RequestError};

use crate::tracker::{canonical, Tracker};

/// What is kept of a request for its log line (cheap clones, only when there is a log).
pub(crate) struct Seen {
    client: Option<IpAddr>,
    line: Option<(Method, Uri, Version)>,
}

/// The client's address: from the last `X-Forwarded-For` entry when the tracker trusts proxy
/// headers and one is present, else from the connection.
pub(crate) fn client_ip(t: &Tracker, req: &Request) -> Result<Option<IpAddr>, RequestError> {
    if t.config().trust_proxy_headers {
        if let Some(v) = req.headers().get("x-forwarded-for") {
            let last = v.as_bytes().rsplit(|&b| b == b',').next().unwrap_or(b"");
            let last = last.trim_ascii();
            return parse_ip(last, "X-Forwarded-For").map(|ip| Some(canonical(ip)));
        }
    }
    Ok(req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| canonical(c.0.ip())))
}

/// The path the host mounted the router at ("" at the root, "/tracker" when nested there).
pub(crate) fn prefix(req: &Request) -> String {
    let inner = req.uri().path();
    match req.extensions().get::<OriginalUri>() {
        Some(OriginalUri(orig)) => {
            let orig = orig.path();
            // A router nested at `/tracker` sees `/tracker` itself as `/`.
            let prefix = if inner == "/" {
                orig
            } else {
                orig.strip_suffix(inner).unwrap_or("")
            };
            prefix.trim_end_matches('/').to_owned()
        }
        None => String::new(),
    }
}

impl Seen {
    /// Notes what the log line needs, only when there is a log.
    pub(crate) fn new(t: &Tracker, req: &Request, client: Option<IpAddr>) -> Seen {
        let line = t.access_log().map(|_| {
            let uri = req
                .extensions()
                .get::<OriginalUri>()
                .map_or_else(|| req.uri().clone(), |o| o.0.clone());
            (req.method().clone(), uri, req.version())
        });
        Seen { client, line }
    }

    /// Logs and returns the response.
    pub(crate) fn finish(self, t: &Tracker, resp: Response) -> Response {
        if let (Some(log), Some((method, uri, version))) = (t.access_log(), &self.line) {
            let size = axum::body::HttpBody::size_hint(resp.body()).exact();
            log.log(
                self.client,
                format_args!("{method} {uri} {version:?}"),
                resp.status().as_u16(),
                size,
            );
        }
        resp
    }
}

/// A response with a body and a content type.
pub(crate) fn response(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Body>,
) -> Response {
    let mut resp = Response::new(body.into());
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

/// A bencoded tracker reply (always status 200, as clients read `failure reason` from the body).
pub(crate) fn bencoded(body: Vec<u8>) -> Response {
    response(StatusCode::OK, "text/plain", body)
}
