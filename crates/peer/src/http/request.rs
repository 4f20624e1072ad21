//! Writing an HTTP/1.1 request head, sans-IO.

use super::Url;

/// What to send: a method, a URL, extra headers and a body.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// `GET`, `POST`, ...
    pub method: &'a str,
    /// An `http://` URL.
    pub url: &'a str,
    /// Extra headers as (name, value), such as `("Authorization", "Bearer t")`.
    pub headers: &'a [(&'a str, &'a str)],
    /// The body (a `Content-Length` header is added when it is not empty).
    pub body: &'a [u8],
}

impl<'a> Request<'a> {
    /// A `GET` of `url` without extra headers.
    pub fn get(url: &'a str) -> Self {
        Request {
            method: "GET",
            url,
            headers: &[],
            body: &[],
        }
    }
}

/// The request head for `method` of `target` on `url`'s host, asking for an unencoded reply
/// and for the server to close the connection after it.
pub fn request_head(
    method: &str,
    url: &Url,
    target: &str,
    headers: &[(&str, &str)],
    body_len: usize,
) -> Vec<u8> {
    let host = if url.port == 80 {
        let authority = url.authority();
        authority[..authority.len() - 3].to_string()
    } else {
        url.authority()
    };
    let mut head = format!(
        "{method} {target} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: torrentkit/{}\r\nAccept-Encoding: identity\r\n",
        env!("CARGO_PKG_VERSION")
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if body_len > 0 {
        head.push_str(&format!("Content-Length: {body_len}\r\n"));
    }
    head.push_str("Connection: close\r\n\r\n");
    head.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_name_the_host_and_close() {
        let url = Url::parse("http://t.example:6969/announce?passkey=p").unwrap();
        let get = String::from_utf8(request_head("GET", &url, &url.target, &[], 0)).unwrap();
        assert!(
            get.starts_with("GET /announce?passkey=p HTTP/1.1\r\n"),
            "{get}"
        );
        assert!(
            get.contains("\r\nHost: t.example:6969\r\n")
                && get.ends_with("Connection: close\r\n\r\n"),
            "{get}"
        );
        assert!(!get.contains("Content-Length"), "{get}");
        let url = Url::parse("http://[::1]/publish").unwrap();
        let post = String::from_utf8(request_head(
            "POST",
            &url,
            "/publish",
            &[("Authorization", "Bearer t")],
            12,
        ))
        .unwrap();
        assert!(post.contains("\r\nHost: [::1]\r\n"), "{post}");
        assert!(
            post.contains("\r\nAuthorization: Bearer t\r\nContent-Length: 12\r\n"),
            "{post}"
        );
    }
}
