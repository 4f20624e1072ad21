//! What to ask a web seed for one piece range, and whether its reply is that range (sans-IO).

use torrentkit_metainfo::percent;

use super::WebSeedKind;
use crate::storage::Layout;

/// One HTTP request of a piece range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebRequest {
    /// BEP 19: `GET url` with `Range: bytes=start-(start+len-1)`, answered `206`.
    Range {
        /// The file's URL.
        url: String,
        /// First byte in the file.
        start: u64,
        /// Bytes asked for.
        len: u64,
    },
    /// BEP 17: `GET url` (its query names the piece and range), answered `200` with exactly
    /// `len` bytes.
    Whole {
        /// The full URL with its query.
        url: String,
        /// Bytes expected.
        len: u64,
    },
    /// Bytes of a BEP 47 pad file: zeros, never asked for.
    Zeros(u64),
}

/// Characters kept as they are in a URL path component (RFC 3986 unreserved).
const KEEP: &[u8] = b"-._~";

/// The requests for `len` bytes at `offset` in `piece`, in order. For [`WebSeedKind::Url`] a
/// piece that spans files is one request per file; `base` names the file of a single-file
/// torrent (or, ending in `/`, the directory holding it) and the directory holding the torrent's
/// top directory for a multi-file one, as BEP 19 says. Empty when the range is outside the
/// torrent.
#[allow(clippy::too_many_arguments)]
pub fn plan(
    kind: WebSeedKind,
    base: &str,
    layout: &Layout,
    multi_file: bool,
    info_hash: [u8; 20],
    piece: u32,
    offset: u32,
    len: u32,
) -> Vec<WebRequest> {
    if kind == WebSeedKind::Http {
        if layout.spans(piece, offset, len as usize).is_none() || len == 0 {
            return Vec::new();
        }
        let sep = if base.contains('?') { '&' } else { '?' };
        let hash = percent::encode(&info_hash, KEEP);
        let end = offset + len - 1;
        return vec![WebRequest::Whole {
            url: format!("{base}{sep}info_hash={hash}&piece={piece}&ranges={offset}-{end}"),
            len: u64::from(len),
        }];
    }
    let Some(spans) = layout.spans(piece, offset, len as usize) else {
        return Vec::new();
    };
    spans
        .into_iter()
        .map(|s| {
            let file = &layout.files()[s.file];
            if file.pad {
                return WebRequest::Zeros(s.len as u64);
            }
            WebRequest::Range {
                url: file_url(base, &file.path, multi_file),
                start: s.file_offset,
                len: s.len as u64,
            }
        })
        .collect()
}

/// The URL of the file at `path` (`[name, dirs..., file]`) under `base`.
fn file_url(base: &str, path: &[String], multi_file: bool) -> String {
    if !multi_file && !base.ends_with('/') {
        return base.to_string();
    }
    let mut url = base.to_string();
    if !url.ends_with('/') {
        url.push('/');
    }
    for (i, part) in path.iter().enumerate() {
        if i > 0 {
            url.push('/');
        }
        percent::encode_into(part.as_bytes(), KEEP, &mut url);
    }
    url
}

/// Whether a reply to `Range: bytes=start-(start+len-1)` is that range: status `206`, a
/// `Content-Range` naming exactly it, and `len` bytes. A `200` with the whole file is refused
/// (it would be read as the range).
pub fn check_range_reply(
    status: u16,
    content_range: Option<&str>,
    body_len: usize,
    start: u64,
    len: u64,
) -> Result<(), String> {
    if status != 206 {
        return Err(format!(
            "answered {status} to a range request (only 206 with the asked range is accepted)"
        ));
    }
    let end = start + len - 1;
    let asked = format!("bytes {start}-{end}/");
    match content_range {
        Some(r) if r.starts_with(&asked) => {}
        Some(r) => {
            return Err(format!(
                "Content-Range {r:?}, asked for bytes {start}-{end}"
            ))
        }
        None => return Err("206 without a Content-Range".into()),
    }
    if body_len as u64 != len {
        return Err(format!("{body_len} bytes for a {len}-byte range"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> Layout {
        Layout::with_pad_files(
            [
                (vec!["top", "a b"], 10u64, false),
                (vec!["top", ".pad", "6"], 6, true),
                (vec!["top", "sub", "c"], 20, false),
            ],
            16,
        )
        .unwrap()
    }

    #[test]
    fn a_piece_across_files_is_one_request_per_file_and_pads_are_zeros() {
        let reqs = plan(
            WebSeedKind::Url,
            "http://h/d",
            &layout(),
            true,
            [0; 20],
            0,
            0,
            16,
        );
        assert_eq!(
            reqs,
            [
                WebRequest::Range {
                    url: "http://h/d/top/a%20b".into(),
                    start: 0,
                    len: 10
                },
                WebRequest::Zeros(6),
            ]
        );
        let reqs = plan(
            WebSeedKind::Url,
            "http://h/d/",
            &layout(),
            true,
            [0; 20],
            1,
            4,
            12,
        );
        assert_eq!(
            reqs,
            [WebRequest::Range {
                url: "http://h/d/top/sub/c".into(),
                start: 4,
                len: 12
            }]
        );
        assert!(plan(
            WebSeedKind::Url,
            "http://h/",
            &layout(),
            true,
            [0; 20],
            2,
            0,
            16
        )
        .is_empty());
    }

    #[test]
    fn single_file_urls_name_the_file_or_its_directory() {
        let l = Layout::new([(["f.iso"], 40u64)], 16).unwrap();
        let at = |base| match &plan(WebSeedKind::Url, base, &l, false, [0; 20], 2, 0, 8)[0] {
            WebRequest::Range { url, start, len } => (url.clone(), *start, *len),
            other => panic!("{other:?}"),
        };
        assert_eq!(at("http://h/x.iso"), ("http://h/x.iso".into(), 32, 8));
        assert_eq!(at("http://h/dir/"), ("http://h/dir/f.iso".into(), 32, 8));
    }

    #[test]
    fn http_seeds_get_the_bittornado_query() {
        let l = Layout::new([(["f"], 40u64)], 16).unwrap();
        let reqs = plan(
            WebSeedKind::Http,
            "http://h/seed",
            &l,
            false,
            [0xab; 20],
            1,
            0,
            16,
        );
        let WebRequest::Whole { url, len } = &reqs[0] else {
            panic!("{reqs:?}")
        };
        assert_eq!(*len, 16);
        assert!(url.starts_with("http://h/seed?info_hash=%AB%AB"), "{url}");
        assert!(url.ends_with("&piece=1&ranges=0-15"), "{url}");
    }

    #[test]
    fn only_206_with_the_asked_range_is_accepted() {
        assert!(check_range_reply(206, Some("bytes 16-31/40"), 16, 16, 16).is_ok());
        let whole = check_range_reply(200, None, 40, 16, 16).unwrap_err();
        assert!(whole.contains("answered 200"), "{whole}");
        let other = check_range_reply(206, Some("bytes 0-15/40"), 16, 16, 16).unwrap_err();
        assert!(other.contains("asked for bytes 16-31"), "{other}");
        assert!(check_range_reply(206, None, 16, 16, 16).is_err());
        assert!(check_range_reply(206, Some("bytes 16-31/40"), 15, 16, 16).is_err());
    }
}
