//! Performing a [`WebFetch`] with the workspace's HTTP client: the requests [`plan`] names,
//! each reply checked, the bytes joined in order.

use std::time::Duration;

use bytes::{Bytes, BytesMut};

use super::{check_range_reply, plan, WebFetch, WebRequest};
use crate::http::{Client, Options, Request};
use crate::storage::Layout;

/// Time limit for the requests of one fetch (a piece is at most a few MiB).
const FETCH_TIMEOUT: Duration = Duration::from_secs(30);

/// What a fetch needs to know of the torrent.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) layout: Layout,
    pub(crate) multi_file: bool,
    pub(crate) info_hash: [u8; 20],
}

/// The bytes of `job`, or why not (naming the URL).
pub(crate) async fn fetch(
    client: &Client,
    target: &Target,
    job: &WebFetch,
) -> Result<Bytes, String> {
    let reqs = plan(
        job.kind,
        &job.url,
        &target.layout,
        target.multi_file,
        target.info_hash,
        job.piece,
        job.offset,
        job.len,
    );
    if reqs.is_empty() {
        return Err(format!("piece {} is outside the torrent", job.piece));
    }
    let mut out = BytesMut::with_capacity(job.len as usize);
    for req in reqs {
        match req {
            WebRequest::Zeros(n) => out.resize(out.len() + n as usize, 0),
            WebRequest::Range { url, start, len } => {
                let range = format!("bytes={start}-{}", start + len - 1);
                let headers = [("Range", range.as_str())];
                let reply = get(client, &url, &headers, len, 206).await?;
                check_range_reply(
                    reply.status,
                    reply.content_range.as_deref(),
                    reply.body.len(),
                    start,
                    len,
                )
                .map_err(|e| format!("{url}: {e}"))?;
                out.extend_from_slice(&reply.body);
            }
            WebRequest::Whole { url, len } => {
                let reply = get(client, &url, &[], len, 200).await?;
                if reply.status != 200 {
                    return Err(format!("{url}: answered {}", reply.status_line));
                }
                if reply.body.len() as u64 != len {
                    return Err(format!("{url}: {} bytes for {len}", reply.body.len()));
                }
                out.extend_from_slice(&reply.body);
            }
        }
    }
    Ok(out.freeze())
}

async fn get(
    client: &Client,
    url: &str,
    headers: &[(&str, &str)],
    len: u64,
    want: u16,
) -> Result<crate::http::Response, String> {
    let options = Options {
        timeout: FETCH_TIMEOUT,
        max_redirects: 3,
        // The body of any other status than `want` is not read; one of `want` longer than
        // asked is cut off here.
        max_response: usize::try_from(len).unwrap_or(usize::MAX).saturating_add(1),
    };
    let request = Request {
        headers,
        ..Request::get(url)
    };
    client
        .send_expecting(&request, &options, Some(want))
        .await
        .map_err(|e| e.to_string())
}
