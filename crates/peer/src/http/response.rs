//! [`Response`]: what a request gave back, read whole and bounded.

/// An HTTP response: status and body (any transfer or content encoding removed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Reason phrase.
    pub reason: String,
    /// The status as text, such as `404 Not Found` (for error messages).
    pub status_line: String,
    /// `Location` header, for redirects and `201 Created`.
    pub location: Option<String>,
    /// `Content-Range` header, for range requests (web seeds).
    pub content_range: Option<String>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// A response with `status` and `body` and no headers (for tests and callers that build
    /// replies themselves).
    pub fn new(status: u16, body: Vec<u8>) -> Self {
        Response {
            status,
            status_line: status.to_string(),
            reason: String::new(),
            location: None,
            content_range: None,
            body,
        }
    }
}
