//! HTTP as the checks of chapters 05 and 06 read it off a connection: a head up to its blank
//! line, then exactly `Content-Length` bytes, with whatever follows kept for the next response
//! (a keep-alive connection, or two answers to pipelined requests).

use std::time::{Duration, Instant};

use crate::peer::{Ending, Peer, show};

/// The largest head the grader reads before it calls the answer broken.
const MAX_HEAD: usize = 64 * 1024;

/// One response as it came off the wire.
#[derive(Debug)]
pub struct Response {
    /// The status line, `HTTP/1.1 200 OK`.
    pub status_line: String,
    /// The status code.
    pub status: u16,
    /// The header lines, as sent.
    pub headers: Vec<(String, String)>,
    /// The body: `Content-Length` bytes (none for a HEAD request).
    pub body: Vec<u8>,
}

impl Response {
    /// The first header called `name` (case-insensitive), trimmed.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim())
    }

    /// The head in one line, for reports: `HTTP/1.1 206 Partial Content | Content-Length: 10`.
    pub fn summary(&self) -> String {
        let mut parts = vec![self.status_line.clone()];
        parts.extend(self.headers.iter().map(|(n, v)| format!("{n}: {}", v.trim())));
        parts.join(" | ")
    }
}

/// Reads one response from `peer`; `buf` holds bytes already read past the last one.
/// `head_only` is for the answer to HEAD, which has a `Content-Length` and no body.
///
/// # Errors
/// What was wrong, in words a student can act on: no status line, no `Content-Length`, a body
/// shorter than announced, or nothing in time.
pub fn read_response(
    peer: &mut Peer,
    buf: &mut Vec<u8>,
    head_only: bool,
    limit: Duration,
) -> Result<Response, String> {
    let deadline = Instant::now() + limit;
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if !buf.is_empty() && !b"HTTP/".starts_with(&buf[..buf.len().min(5)]) {
            return Err(format!(
                "{}: no status line (`HTTP/1.1 200 OK`) first, so this is not an HTTP/1 \
                 response (curl calls it HTTP/0.9)",
                show(buf)
            ));
        }
        if buf.len() > MAX_HEAD {
            return Err(format!("a head of more than {MAX_HEAD} bytes without its blank line"));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match peer.read_some(left) {
            Ok(more) => buf.extend_from_slice(&more),
            Err(ending) if buf.is_empty() => {
                return Err(format!("no response: {}", ending.describe(limit)));
            }
            Err(ending) => {
                return Err(format!(
                    "{}, with no blank line (`\\r\\n\\r\\n`) to end the head, {}",
                    show(buf),
                    ending.describe(limit)
                ));
            }
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    buf.drain(..head_end);
    let mut lines = head.split("\r\n").filter(|l| !l.is_empty());
    let status_line = lines.next().unwrap_or("").to_owned();
    let status = status_line.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect();
    let mut response = Response { status_line, status, headers, body: Vec::new() };
    if head_only {
        return Ok(response);
    }
    let Some(length) = response.header("Content-Length") else {
        return Err(format!(
            "`{}` without a Content-Length: a client that keeps the connection open cannot \
             tell where the body ends",
            response.summary()
        ));
    };
    let length: usize = length
        .parse()
        .map_err(|_| format!("`{}`: Content-Length is not a number", response.summary()))?;
    while buf.len() < length {
        let left = deadline.saturating_duration_since(Instant::now());
        match peer.read_some(left) {
            Ok(more) => buf.extend_from_slice(&more),
            Err(ending) => {
                return Err(format!(
                    "`{}`, then a body of {} bytes ({}), {}",
                    response.summary(),
                    buf.len(),
                    show(buf),
                    ending.describe(limit)
                ));
            }
        }
    }
    response.body = buf.drain(..length).collect();
    Ok(response)
}

/// Whether nothing more arrives within `quiet` (or the program closes): after a HEAD answer, or
/// after a body whose length the head announced.
pub fn nothing_more(peer: &mut Peer, buf: &[u8], quiet: Duration) -> Result<(), String> {
    if !buf.is_empty() {
        return Err(format!("{} more after the response", show(buf)));
    }
    match peer.read_some(quiet) {
        Ok(more) => Err(format!("{} more after the response", show(&more))),
        Err(Ending::TimedOut | Ending::Closed | Ending::Error(_) | Ending::Done) => Ok(()),
    }
}
