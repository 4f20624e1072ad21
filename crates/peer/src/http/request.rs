//! [`Request`]: what to send.

/// What to send: a method, a URL, extra headers and a body.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// `GET`, `POST`, ...
    pub method: &'a str,
    /// An `http://` or `https://` URL.
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
