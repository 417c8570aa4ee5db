//! Writing responses: a status line, headers, a blank line, then the body.
//!
//! A response head is text with a fixed shape, so it is written straight into a reusable
//! byte buffer, with no intermediate strings:
//!
//! ```text
//! HTTP/1.1 200 OK\r\n                       status line: version, code, reason
//! Server: 05-http-server\r\n                who answered
//! Date: Tue, 24 Nov 2026 08:05:00 GMT\r\n   when (always GMT, always this format)
//! Content-Type: text/html; charset=utf-8\r\n
//! Content-Length: 11\r\n                    where the body ends: the client needs it to
//! \r\n                                      find the next response on the same connection
//! hello world
//! ```
//!
//! The head and a small body go out in one `write`, so a small response is one TCP segment.

use std::io::Write as _;
use std::time::SystemTime;

use httpdate::HttpDate;

/// An HTTP status: the code a program reads and the reason phrase a person reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    /// The three-digit code.
    pub code: u16,
    /// The reason phrase sent after it (clients ignore it; people read it).
    pub reason: &'static str,
}

impl Status {
    /// The file (or listing) follows.
    pub const OK: Self = Self { code: 200, reason: "OK" };
    /// One byte range of the file follows (`Range: bytes=...`).
    pub const PARTIAL_CONTENT: Self = Self { code: 206, reason: "Partial Content" };
    /// A directory was asked for without its trailing slash: go to `Location`.
    pub const MOVED_PERMANENTLY: Self = Self { code: 301, reason: "Moved Permanently" };
    /// The copy the client has (`If-Modified-Since`) is still good: no body.
    pub const NOT_MODIFIED: Self = Self { code: 304, reason: "Not Modified" };
    /// The request's bytes do not parse as HTTP/1.x.
    pub const BAD_REQUEST: Self = Self { code: 400, reason: "Bad Request" };
    /// The path leaves the served folder, or is not a file we serve.
    pub const FORBIDDEN: Self = Self { code: 403, reason: "Forbidden" };
    /// Nothing at that path.
    pub const NOT_FOUND: Self = Self { code: 404, reason: "Not Found" };
    /// A method HTTP defines that this server does not do (`POST`, `PUT`...); see `Allow`.
    pub const METHOD_NOT_ALLOWED: Self = Self { code: 405, reason: "Method Not Allowed" };
    /// The head did not arrive within the header timeout (slowloris).
    pub const REQUEST_TIMEOUT: Self = Self { code: 408, reason: "Request Timeout" };
    /// The request has a body larger than the server will read.
    pub const CONTENT_TOO_LARGE: Self = Self { code: 413, reason: "Content Too Large" };
    /// The request line alone is longer than the head limit.
    pub const URI_TOO_LONG: Self = Self { code: 414, reason: "URI Too Long" };
    /// `Range` asked for bytes the file does not have.
    pub const RANGE_NOT_SATISFIABLE: Self = Self { code: 416, reason: "Range Not Satisfiable" };
    /// The head is larger than the limit, or has too many headers.
    pub const HEADERS_TOO_LARGE: Self =
        Self { code: 431, reason: "Request Header Fields Too Large" };
    /// Something failed on our side (a read error on a file that exists).
    pub const INTERNAL_SERVER_ERROR: Self = Self { code: 500, reason: "Internal Server Error" };
    /// A method nobody defined (`BREW`), or a request body in `Transfer-Encoding`.
    pub const NOT_IMPLEMENTED: Self = Self { code: 501, reason: "Not Implemented" };
    /// Every connection slot is taken (`--max-connections`); try again soon.
    pub const SERVICE_UNAVAILABLE: Self = Self { code: 503, reason: "Service Unavailable" };
    /// Not HTTP/1.0 or HTTP/1.1 (say `HTTP/2.0` in a text request line).
    pub const VERSION_NOT_SUPPORTED: Self =
        Self { code: 505, reason: "HTTP Version Not Supported" };
}

/// What the `Server` header says.
pub const SERVER_NAME: &str = concat!("05-http-server/", env!("CARGO_PKG_VERSION"));

// ANCHOR: head
/// Starts a response head in `out` (which is cleared): the status line, `Server` and `Date`.
/// Add headers with [`header`], then close the head with [`end_head`].
pub fn start_head(out: &mut Vec<u8>, status: Status) {
    out.clear();
    // We always answer as HTTP/1.1, the highest version we speak, even to an HTTP/1.0
    // client: the version in a response says what the server can do (RFC 9110, 6.2).
    let _ = write!(
        out,
        "HTTP/1.1 {} {}\r\nServer: {SERVER_NAME}\r\nDate: {}\r\n",
        status.code,
        status.reason,
        HttpDate::from(SystemTime::now())
    );
}

/// Adds one `Name: value` header line.
pub fn header(out: &mut Vec<u8>, name: &str, value: impl std::fmt::Display) {
    let _ = write!(out, "{name}: {value}\r\n");
}

// ANCHOR_END: head

// ANCHOR: end_head
/// Ends the head: says whether the connection stays open, then the blank line.
///
/// HTTP/1.1 keeps connections open unless told otherwise, so only `close` needs saying; an
/// HTTP/1.0 client closes unless the response says `keep-alive`.
pub fn end_head(out: &mut Vec<u8>, keep_alive: bool, http10: bool) {
    match (keep_alive, http10) {
        (false, _) => out.extend_from_slice(b"Connection: close\r\n"),
        (true, true) => out.extend_from_slice(b"Connection: keep-alive\r\n"),
        (true, false) => {}
    }
    out.extend_from_slice(b"\r\n");
}
// ANCHOR_END: end_head

/// A date as HTTP writes it: `Tue, 24 Nov 2026 08:05:00 GMT`.
pub fn http_date(time: SystemTime) -> HttpDate {
    HttpDate::from(time)
}

/// The small HTML page that explains an error status, with a detail sentence of our own
/// (never text from the request, which could carry markup).
pub fn error_page(status: Status, detail: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{code} {reason}</title>\
         </head>\n<body><h1>{code} {reason}</h1>\n<p>{detail}</p>\n\
         <hr><address>{SERVER_NAME}</address></body></html>\n",
        code = status.code,
        reason = status.reason,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_has_the_status_line_server_date_and_a_blank_line() {
        let mut out = Vec::new();
        start_head(&mut out, Status::NOT_FOUND);
        header(&mut out, "Content-Length", 0);
        end_head(&mut out, false, false);
        let text = String::from_utf8(out).unwrap_or_default();
        assert!(text.starts_with("HTTP/1.1 404 Not Found\r\nServer: 05-http-server/"), "{text}");
        assert!(text.contains("\r\nDate: ") && text.contains(" GMT\r\n"), "{text}");
        assert!(text.ends_with("Content-Length: 0\r\nConnection: close\r\n\r\n"), "{text}");
    }

    #[test]
    fn http10_needs_keep_alive_said_and_http11_needs_close_said() {
        let mut out = Vec::new();
        end_head(&mut out, true, true);
        assert_eq!(out, b"Connection: keep-alive\r\n\r\n");
        out.clear();
        end_head(&mut out, true, false);
        assert_eq!(out, b"\r\n");
    }
}
