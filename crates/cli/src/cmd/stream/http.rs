//! The HTTP side of `bt stream`: an index page, one URL per file answering `GET`/`HEAD` with
//! `Range` support through a [`Reader`](torrentkit_peer::session::Reader) (so a player's
//! seek becomes the picker's first concern), and `/status` as JSON.

use std::io::SeekFrom;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;
use torrentkit_metainfo::percent;
use torrentkit_peer::session::Readers;
use torrentkit_peer::Bitfield;

use super::range::{plan, Plan};

/// One file served.
#[derive(Debug, Clone)]
pub(crate) struct ServedFile {
    /// Its path inside the torrent, joined with `/`.
    pub(crate) path: String,
    /// Its length.
    pub(crate) length: u64,
    /// Where it starts in the torrent's data.
    pub(crate) offset: u64,
}

/// What the handlers share.
#[derive(Debug)]
pub(crate) struct App {
    pub(crate) name: String,
    pub(crate) files: Vec<Option<ServedFile>>,
    pub(crate) readers: Readers,
    pub(crate) readahead: u64,
    pub(crate) piece_length: u64,
    pub(crate) have_at_start: Bitfield,
}

/// The URL path of file `index` (its name last, so players see the extension).
pub(crate) fn file_url(index: usize, path: &str) -> String {
    let encoded: Vec<String> = path
        .split('/')
        .map(|c| percent::encode(c.as_bytes(), b"-_.~"))
        .collect();
    format!("/files/{index}/{}", encoded.join("/"))
}

/// The router: `/`, `/files/{index}/{name}` and `/status`.
pub(crate) fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/status", get(status))
        .route("/files/{index}/{*name}", get(file))
        .with_state(app)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn index(State(app): State<Arc<App>>) -> Html<String> {
    let mut page = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{0}</title></head><body>\n<h1>{0}</h1>\n<ul>\n",
        escape(&app.name)
    );
    for (i, f) in app.files.iter().enumerate() {
        if let Some(f) = f {
            page.push_str(&format!(
                "<li><a href=\"{}\">{}</a> ({} bytes)</li>\n",
                escape(&file_url(i, &f.path)),
                escape(&f.path),
                f.length
            ));
        }
    }
    page.push_str("</ul>\n</body></html>\n");
    Html(page)
}

async fn status(State(app): State<Arc<App>>) -> Response {
    let p = app.readers.progress().borrow().clone();
    let fetched = p
        .verified
        .iter()
        .filter(|&x| !app.have_at_start.contains(x))
        .count();
    // The verified pieces as [first, last] runs, so a client can see which parts are there.
    let mut runs: Vec<[u32; 2]> = Vec::new();
    for x in p.verified.iter() {
        match runs.last_mut() {
            Some(r) if r[1] + 1 == x => r[1] = x,
            _ => runs.push([x, x]),
        }
    }
    let files: Vec<_> = app
        .files
        .iter()
        .enumerate()
        .filter_map(|(i, f)| {
            let f = f.as_ref()?;
            Some(serde_json::json!({
                "path": f.path,
                "length": f.length,
                "offset": f.offset,
                "url": file_url(i, &f.path),
            }))
        })
        .collect();
    let json = serde_json::json!({
        "name": app.name,
        "files": files,
        "piece_length": app.piece_length,
        "have_runs": runs,
        "pieces": p.pieces,
        "have": p.have,
        "pieces_fetched": fetched,
        "downloaded": p.downloaded,
        "uploaded": p.uploaded,
        "download_rate": p.download_rate,
        "peers": p.peers,
    });
    (
        [(header::CONTENT_TYPE, "application/json")],
        json.to_string(),
    )
        .into_response()
}

fn plain(code: StatusCode, text: &str) -> Response {
    (code, format!("{text}\n")).into_response()
}

async fn file(
    State(app): State<Arc<App>>,
    Path((index, _name)): Path<(usize, String)>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let Some(Some(f)) = app.files.get(index) else {
        return plain(StatusCode::NOT_FOUND, "no such file in this torrent");
    };
    let len = f.length;
    let mime = mime_guess::from_path(&f.path).first_or_octet_stream();
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let (code, start, count) = match plan(range, len) {
        Plan::Full => (StatusCode::OK, 0, len),
        Plan::Partial(r) => (
            StatusCode::PARTIAL_CONTENT,
            *r.start(),
            r.end() - r.start() + 1,
        ),
        Plan::Unsatisfiable => {
            return Response::builder()
                .status(StatusCode::RANGE_NOT_SATISFIABLE)
                .header(header::CONTENT_RANGE, format!("bytes */{len}"))
                .header(header::ACCEPT_RANGES, "bytes")
                .body(Body::empty())
                .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response());
        }
    };
    let mut response = Response::builder()
        .status(code)
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::CONTENT_LENGTH, count);
    if let Ok(v) = HeaderValue::from_str(mime.as_ref()) {
        response = response.header(header::CONTENT_TYPE, v);
    }
    if code == StatusCode::PARTIAL_CONTENT {
        response = response.header(
            header::CONTENT_RANGE,
            format!("bytes {start}-{}/{len}", start + count - 1),
        );
    }
    // A HEAD fetches nothing: no reader, so no window.
    let body = if method == Method::HEAD || count == 0 {
        Body::empty()
    } else {
        let Some(mut reader) = app.readers.reader(Some(index)) else {
            return plain(StatusCode::SERVICE_UNAVAILABLE, "the torrent is not open");
        };
        reader.set_readahead(app.readahead);
        if let Err(e) = reader.seek(SeekFrom::Start(start)).await {
            return plain(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string());
        }
        Body::from_stream(ReaderStream::with_capacity(reader.take(count), 64 << 10))
    };
    response
        .body(body)
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}
