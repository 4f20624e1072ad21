//! Reading an HTTP/1.x response, sans-IO and bounded: the status line, the headers the client
//! needs, and a body framed by `Content-Length`, chunked encoding or the end of the connection.

use super::HttpError;

/// An HTTP response: status and body (chunked encoding removed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Reason phrase.
    pub reason: String,
    /// The whole status line, such as `HTTP/1.0 404 Not Found` (for error messages).
    pub status_line: String,
    /// `Location` header, for redirects and `201 Created`.
    pub location: Option<String>,
    /// The body.
    pub body: Vec<u8>,
}

fn malformed(m: impl Into<String>) -> HttpError {
    HttpError::Malformed(m.into())
}

/// Parses an HTTP/1.x response from `buf`, refusing one longer than `max_len` bytes (headers
/// and body). Returns `Ok(None)` while more bytes are needed; with `eof` set (the server closed
/// the connection) a response without a length ends there.
pub fn parse_response(
    buf: &[u8],
    eof: bool,
    max_len: usize,
) -> Result<Option<Response>, HttpError> {
    if buf.len() > max_len {
        return Err(malformed(format!("response larger than {max_len} bytes")));
    }
    let Some(head_end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return if eof {
            Err(malformed(
                "no complete HTTP header (the connection closed before its end)",
            ))
        } else {
            Ok(None)
        };
    };
    let head =
        std::str::from_utf8(&buf[..head_end]).map_err(|_| malformed("headers are not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let bad_status = || malformed(format!("bad status line `{}`", status_line.escape_debug()));
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(bad_status());
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(bad_status)?;
    let reason = parts.next().unwrap_or_default().to_string();
    let mut content_length = None;
    let mut chunked = false;
    let mut location = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Err(malformed(format!(
                "bad header line `{}`",
                line.escape_debug()
            )));
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => {
                content_length = Some(
                    value
                        .parse::<usize>()
                        .map_err(|_| malformed(format!("bad Content-Length `{value}`")))?,
                )
            }
            "transfer-encoding" => chunked = value.to_ascii_lowercase().contains("chunked"),
            "location" => location = Some(value.to_string()),
            _ => {}
        }
    }
    let rest = &buf[head_end + 4..];
    let body = if chunked {
        match dechunk(rest)? {
            Some(body) => body,
            None if eof => return Err(malformed("connection closed inside a chunked body")),
            None => return Ok(None),
        }
    } else if let Some(len) = content_length {
        if rest.len() < len {
            return if eof {
                Err(malformed(format!(
                    "body has {got} of {len} bytes (the reply ended after {got} of {len} bytes)",
                    got = rest.len()
                )))
            } else {
                Ok(None)
            };
        }
        rest[..len].to_vec()
    } else if eof || status == 204 || status == 304 {
        rest.to_vec()
    } else {
        return Ok(None);
    };
    Ok(Some(Response {
        status,
        reason,
        status_line: status_line.to_string(),
        location,
        body,
    }))
}

/// Removes chunked transfer encoding; `Ok(None)` while the last chunk has not arrived.
fn dechunk(mut data: &[u8]) -> Result<Option<Vec<u8>>, HttpError> {
    let mut body = Vec::new();
    loop {
        let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") else {
            return Ok(None);
        };
        let size_str = std::str::from_utf8(&data[..line_end]).unwrap_or("");
        let size_str = size_str.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_str, 16)
            .map_err(|_| malformed(format!("bad chunk size `{}`", size_str.escape_debug())))?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(Some(body));
        }
        if data.len() < size.saturating_add(2) {
            return Ok(None);
        }
        body.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = 4 << 20;

    #[test]
    fn http_framing() {
        let full = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX: y\r\n\r\nhello";
        for cut in 0..full.len() {
            assert_eq!(
                parse_response(&full[..cut], false, MAX).unwrap(),
                None,
                "cut at {cut}"
            );
        }
        let r = parse_response(full, false, MAX).unwrap().unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"hello"[..]));
        assert_eq!(r.status_line, "HTTP/1.1 200 OK");
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2;x=1\r\nlo\r\n0\r\n\r\n";
        assert_eq!(
            parse_response(&chunked[..chunked.len() - 3], false, MAX).unwrap(),
            None
        );
        assert_eq!(
            parse_response(chunked, false, MAX).unwrap().unwrap().body,
            b"hello"
        );
        let close = b"HTTP/1.0 302 Found\r\nLocation: http://x/y\r\n\r\nbody";
        assert_eq!(parse_response(close, false, MAX).unwrap(), None);
        let r = parse_response(close, true, MAX).unwrap().unwrap();
        assert_eq!(
            (r.status, r.location.as_deref(), r.body.as_slice()),
            (302, Some("http://x/y"), &b"body"[..])
        );
        for (bad, needle) in [
            (&b"SSH-2.0\r\n\r\n"[..], "bad status line"),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
                "bad Content-Length",
            ),
            (b"HTTP/1.1 200 OK\r\nnocolon\r\n\r\n", "bad header line"),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                "bad chunk size",
            ),
            (b"HTTP/1.1 201", "no complete HTTP header"),
        ] {
            let err = parse_response(bad, true, MAX).unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
        }
        let err = parse_response(
            b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc",
            true,
            MAX,
        )
        .unwrap_err();
        assert!(err.to_string().contains("body has 3 of 9 bytes"), "{err}");
        assert!(err.to_string().contains("after 3 of 9 bytes"), "{err}");
    }

    #[test]
    fn replies_are_bounded() {
        let big = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{}",
            "x".repeat(100)
        );
        assert!(parse_response(big.as_bytes(), true, MAX).unwrap().is_some());
        let err = parse_response(big.as_bytes(), false, 64).unwrap_err();
        assert_eq!(err.to_string(), "HTTP: response larger than 64 bytes");
        // A chunk size near usize::MAX waits for more input instead of overflowing.
        let huge = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nab";
        assert_eq!(parse_response(huge, false, MAX).unwrap(), None);
    }
}
