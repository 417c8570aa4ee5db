//! Reading requests: a byte stream in, one request head at a time.
//!
//! TCP delivers bytes, not requests. A `recv` may return half a head, or one head and the
//! start of the next (a client that *pipelines* sends several requests without waiting).
//! So a [`RequestReader`] keeps a buffer: it reads until the buffer holds a complete head
//! (the blank line `\r\n\r\n`), hands it to `httparse`, and keeps the bytes after it for the
//! next request. Every read is bounded, in size and in time:
//!
//! - the head must fit in `max_head` bytes (8 KiB, nginx's default buffer) or it is refused
//!   (414 if even the request line does not fit, 431 otherwise), and have at most
//!   `max_headers` headers (431);
//! - between requests, a connection may sit idle for the keep-alive timeout, then it is closed
//!   without a word (there is no request to answer);
//! - once the first byte of a head has arrived, the rest must arrive within the header timeout,
//!   or the answer is 408. One `SO_RCVTIMEO` per `read` would not do: a *slowloris* client
//!   sends one byte just before each read times out and holds the connection forever. So the
//!   deadline is for the whole head, and each read waits only for what is left of it.

use std::io::{self, Read};
use std::net::TcpStream;
use std::time::{Duration, Instant, SystemTime};

use common::timeout::is_timeout;

use crate::response::Status;

/// The limits a reader enforces (from `Limits`, the command line).
#[derive(Debug, Clone, Copy)]
pub struct ReadLimits {
    /// Bytes of request line plus headers.
    pub max_head: usize,
    /// Header lines.
    pub max_headers: usize,
    /// From the first byte of a head to its end.
    pub header_timeout: Duration,
    /// Idle time allowed before a request starts.
    pub keep_alive_timeout: Duration,
}

/// A request's head, the parts this server uses, copied out of the read buffer. The strings
/// are reused from one request to the next, so a steady connection allocates nothing.
#[derive(Debug, Default)]
pub struct Head {
    /// `GET`, `HEAD`, ...
    pub method: String,
    /// The request target as sent: `/docs/a%20b.html?x=1`.
    pub target: String,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor_version: u8,
    /// How many `Host` headers (HTTP/1.1 requires exactly one).
    pub hosts: usize,
    /// `Connection: close` was sent.
    pub close: bool,
    /// `Connection: keep-alive` was sent (what an HTTP/1.0 client says to keep the connection).
    pub keep_alive: bool,
    /// `Content-Length`, if sent; [`Head::bad_length`] if it was not a number or they differ.
    pub content_length: Option<u64>,
    /// A `Content-Length` that is not a plain number, or two that disagree.
    pub bad_length: bool,
    /// A `Transfer-Encoding` header was sent (a body in chunks).
    pub transfer_encoding: bool,
    /// `If-Modified-Since`, if sent and a valid date.
    pub if_modified_since: Option<SystemTime>,
    /// `Range`, if sent (empty otherwise).
    pub range: String,
    /// `If-Range`, if sent (empty otherwise).
    pub if_range: String,
    /// `If-None-Match`: a list of entity-tags or `*`; several header lines joined with `,`
    /// (empty if none was sent).
    pub if_none_match: String,
    /// The head's length in bytes, request line to blank line.
    pub len: usize,
}

impl Head {
    /// Copies what this server uses out of a parsed request of `len` bytes, into strings
    /// that keep their memory from the last request.
    fn fill(&mut self, request: &httparse::Request<'_, '_>, len: usize) {
        self.method.clear();
        self.method.push_str(request.method.unwrap_or_default());
        self.target.clear();
        self.target.push_str(request.path.unwrap_or_default());
        self.minor_version = request.version.unwrap_or(1);
        self.hosts = 0;
        self.close = false;
        self.keep_alive = false;
        self.content_length = None;
        self.bad_length = false;
        self.transfer_encoding = false;
        self.if_modified_since = None;
        self.range.clear();
        self.if_range.clear();
        self.if_none_match.clear();
        self.len = len;
        for header in request.headers.iter() {
            read_header(self, header.name, header.value);
        }
    }
}

/// What came of waiting for the next request.
#[derive(Debug)]
pub enum Next {
    /// A complete head is in [`RequestReader::head`].
    Request,
    /// The client closed (`recv` returned 0): nothing to answer.
    Closed,
    /// The client stayed idle past the keep-alive timeout between requests: nothing to answer.
    Idle,
    /// The bytes cannot become a request: answer with this status, then close.
    Reject(Status, &'static str),
}

/// Reads request heads from one connection, keeping the bytes that came after the last head.
pub struct RequestReader {
    buf: Vec<u8>,
    filled: usize,
    limits: ReadLimits,
    /// The `SO_RCVTIMEO` in force, so it is set only when it changes (a syscall each time).
    timeout: Option<Duration>,
    /// The last parsed head.
    pub head: Head,
}

impl RequestReader {
    /// A reader with an empty buffer of `limits.max_head` bytes. The stream's read timeout must
    /// be the keep-alive timeout (set once, when the connection is accepted).
    pub fn new(limits: ReadLimits) -> Self {
        Self {
            buf: vec![0; limits.max_head],
            filled: 0,
            limits,
            timeout: Some(limits.keep_alive_timeout),
            head: Head::default(),
        }
    }

    /// Bytes received beyond the heads consumed so far (a pipelined request, or a body).
    pub fn buffered(&self) -> usize {
        self.filled
    }

    // ANCHOR: next_request
    /// Waits for the next request head, reading as little as needed: when the buffer already
    /// holds a whole head (pipelining), no `read` happens at all.
    ///
    /// # Errors
    /// A read error other than a timeout (a reset, say): the connection is over.
    pub fn next_request(&mut self, mut stream: &TcpStream) -> io::Result<Next> {
        let mut deadline: Option<Instant> = None;
        loop {
            if self.filled > 0 {
                match self.parse() {
                    Some(next) => return Ok(next),
                    None if self.filled == self.buf.len() => return Ok(self.too_large()),
                    None => {}
                }
            }
            // Idle between requests: the keep-alive timeout. Inside a head: what is left of the
            // header deadline, which starts with the head's first byte.
            let wait = if self.filled == 0 {
                self.limits.keep_alive_timeout
            } else {
                let deadline =
                    *deadline.get_or_insert_with(|| Instant::now() + self.limits.header_timeout);
                match deadline.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => left,
                    _ => return Ok(timed_out()),
                }
            };
            self.set_timeout(stream, wait)?;
            match stream.read(&mut self.buf[self.filled..]) {
                // End of stream: the client closed its side. Between requests that is the
                // normal end of a keep-alive connection; inside a head there is nobody left
                // to answer.
                Ok(0) => return Ok(Next::Closed),
                Ok(n) => self.filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_timeout(&e) => {
                    return Ok(if self.filled == 0 { Next::Idle } else { timed_out() });
                }
                Err(e) => return Err(e),
            }
        }
    }
    // ANCHOR_END: next_request

    /// The first line of what is buffered (at most 200 bytes), for logging a request that
    /// could not be parsed.
    pub fn request_line_for_log(&self) -> String {
        let data = &self.buf[..self.filled.min(200)];
        let end = data.iter().position(|&b| b == b'\r' || b == b'\n').unwrap_or(data.len());
        String::from_utf8_lossy(&data[..end]).into_owned()
    }

    /// Drops the last head from the buffer, keeping whatever followed it.
    pub fn consume_head(&mut self) {
        self.consume(self.head.len);
    }

    fn consume(&mut self, n: usize) {
        self.buf.copy_within(n..self.filled, 0);
        self.filled -= n;
    }

    /// Reads and throws away a request body of `len` bytes (a small body on a `GET` that we
    /// will not use, read so that the next request starts where it should). It must arrive
    /// within the header timeout.
    ///
    /// # Errors
    /// The client closed or stalled before sending the whole body.
    pub fn discard_body(&mut self, mut stream: &TcpStream, len: u64) -> io::Result<()> {
        let from_buffer = len.min(self.filled as u64) as usize;
        self.consume(from_buffer);
        let mut left = len - from_buffer as u64;
        if left == 0 {
            return Ok(());
        }
        // One deadline for the whole body, as for the head: a byte every few seconds must not
        // hold the connection for hours.
        let deadline = Instant::now() + self.limits.header_timeout;
        let mut sink = [0u8; 4096];
        while left > 0 {
            match deadline.checked_duration_since(Instant::now()) {
                Some(wait) if !wait.is_zero() => self.set_timeout(stream, wait)?,
                _ => return Err(io::ErrorKind::TimedOut.into()),
            }
            let want = left.min(sink.len() as u64) as usize;
            match stream.read(&mut sink[..want]) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => left -= n as u64,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Sets `SO_RCVTIMEO` unless it already has that value: a syscall saved on every request
    /// of a busy connection.
    fn set_timeout(&mut self, stream: &TcpStream, timeout: Duration) -> io::Result<()> {
        if self.timeout != Some(timeout) {
            stream.set_read_timeout(Some(timeout))?;
            self.timeout = Some(timeout);
        }
        Ok(())
    }

    /// The buffer is full and holds no complete head. If it does not even hold the end of the
    /// request line, the URI is what is too long.
    fn too_large(&self) -> Next {
        if self.buf[..self.filled].contains(&b'\n') {
            Next::Reject(
                Status::HEADERS_TOO_LARGE,
                "The request head is larger than this server reads.",
            )
        } else {
            Next::Reject(Status::URI_TOO_LONG, "The request line is longer than this server reads.")
        }
    }

    // ANCHOR: parse
    /// Parses the buffer with httparse: `None` if the head is not complete yet.
    fn parse(&mut self) -> Option<Next> {
        // On the stack, 100 headers take 3.2 KiB; a `--max-headers` beyond that is on the heap.
        let mut on_stack = [httparse::EMPTY_HEADER; 100];
        let mut on_heap;
        let headers: &mut [httparse::Header<'_>] = if self.limits.max_headers <= on_stack.len() {
            &mut on_stack[..self.limits.max_headers]
        } else {
            on_heap = vec![httparse::EMPTY_HEADER; self.limits.max_headers];
            &mut on_heap
        };
        let mut request = httparse::Request::new(headers);
        let len = match request.parse(&self.buf[..self.filled]) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) => return None,
            Err(httparse::Error::TooManyHeaders) => {
                return Some(Next::Reject(
                    Status::HEADERS_TOO_LARGE,
                    "The request has too many headers.",
                ));
            }
            Err(httparse::Error::Version) if names_another_http(&self.buf[..self.filled]) => {
                return Some(Next::Reject(
                    Status::VERSION_NOT_SUPPORTED,
                    "This server speaks HTTP/1.0 and HTTP/1.1 only.",
                ));
            }
            Err(_) => {
                return Some(Next::Reject(
                    Status::BAD_REQUEST,
                    "The request is not valid HTTP/1.x.",
                ));
            }
        };
        // Complete: httparse has filled in method, path and version.
        self.head.fill(&request, len);
        Some(Next::Request)
    }
    // ANCHOR_END: parse
}

/// Copies what we use from one header. Header names are case-insensitive.
fn read_header(head: &mut Head, name: &str, value: &[u8]) {
    let Ok(value) = std::str::from_utf8(value) else {
        // Only a few headers matter to us and all are ASCII; the rest may hold anything.
        if name.eq_ignore_ascii_case("content-length") {
            head.bad_length = true;
        }
        return;
    };
    if name.eq_ignore_ascii_case("host") {
        head.hosts += 1;
    } else if name.eq_ignore_ascii_case("connection") {
        for token in value.split(',').map(str::trim) {
            head.close |= token.eq_ignore_ascii_case("close");
            head.keep_alive |= token.eq_ignore_ascii_case("keep-alive");
        }
    } else if name.eq_ignore_ascii_case("content-length") {
        // Digits only, and every copy equal: two different lengths are the raw material of
        // request smuggling (RFC 9112, 6.3).
        let value = value.trim();
        match value.parse::<u64>() {
            Ok(n) if value.bytes().all(|b| b.is_ascii_digit()) => {
                if head.content_length.is_some_and(|old| old != n) {
                    head.bad_length = true;
                }
                head.content_length = Some(n);
            }
            // Too many digits for u64 is still a length, a hopeless one: "too large", not "bad".
            Err(_) if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                head.content_length = Some(u64::MAX);
            }
            _ => head.bad_length = true,
        }
    } else if name.eq_ignore_ascii_case("transfer-encoding") {
        head.transfer_encoding = true;
    } else if name.eq_ignore_ascii_case("if-modified-since") {
        head.if_modified_since = httpdate::parse_http_date(value.trim()).ok();
    } else if name.eq_ignore_ascii_case("range") {
        head.range.push_str(value);
    } else if name.eq_ignore_ascii_case("if-none-match") {
        // A list split over several lines is one list (RFC 9110, 5.3).
        if !head.if_none_match.is_empty() {
            head.if_none_match.push(',');
        }
        head.if_none_match.push_str(value.trim());
    } else if name.eq_ignore_ascii_case("if-range") {
        head.if_range.push_str(value.trim());
    }
}

/// Does the request line end in a well-formed `HTTP/x.y` (so the version is the only
/// problem, 505) rather than in garbage (400)?
fn names_another_http(buf: &[u8]) -> bool {
    let line_end = buf.iter().position(|&b| b == b'\r' || b == b'\n').unwrap_or(buf.len());
    let line = &buf[..line_end];
    let Some(space) = line.iter().rposition(|&b| b == b' ') else { return false };
    let version = &line[space + 1..];
    matches!(version, [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
        if major.is_ascii_digit() && minor.is_ascii_digit())
        || matches!(version, [b'H', b'T', b'T', b'P', b'/', major] if major.is_ascii_digit())
}

fn timed_out() -> Next {
    Next::Reject(Status::REQUEST_TIMEOUT, "The request head did not arrive in time.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_that_look_like_http_get_505() {
        assert!(names_another_http(b"GET / HTTP/2.0\r\n"));
        assert!(names_another_http(b"GET / HTTP/3\r\n"));
        assert!(!names_another_http(b"GET / HTTX/1.1\r\n"));
        assert!(!names_another_http(b"GET / HTTP/1.1.1\r\n"));
    }

    #[test]
    fn content_length_must_be_digits_and_agree() {
        let mut head = Head::default();
        read_header(&mut head, "Content-Length", b"12");
        assert_eq!((head.content_length, head.bad_length), (Some(12), false));
        read_header(&mut head, "content-length", b"13");
        assert!(head.bad_length);
        for bad in [&b"+12"[..], b"-1", b"1e3", b"", b"0x10"] {
            let mut head = Head::default();
            read_header(&mut head, "Content-Length", bad);
            assert!(head.bad_length, "{bad:?}");
        }
        let mut head = Head::default();
        read_header(&mut head, "Content-Length", b"99999999999999999999999");
        assert_eq!((head.content_length, head.bad_length), (Some(u64::MAX), false));
    }

    #[test]
    fn connection_tokens_are_a_list() {
        let mut head = Head::default();
        read_header(&mut head, "Connection", b"Keep-Alive, Upgrade");
        assert!(head.keep_alive && !head.close);
    }
}
