//! One connection, from its first request to its close: read a head, decide, answer, and go
//! round again while the connection is kept alive.
//!
//! The order of the checks follows what a request can get wrong, cheapest first, so no file is
//! touched for a request that will be refused anyway:
//!
//! 1. *framing*: can we tell where this request ends (a body we will read or refuse)?
//! 2. *method*: `GET` and `HEAD` are served; other methods get 405 or 501;
//! 3. *path*: decoded and normalised ([`crate::files::relative_path`]);
//! 4. *file*: opened beneath the root, then a folder (redirect, `index.html`, listing) or a
//!    regular file (conditional, range, or the whole of it).

use std::fs::{File, Metadata};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::narrate;
use common::narrate::fd;

use crate::files::{self, PathError};
use crate::range::{RangeRequest, parse_range};
use crate::request::{Head, Next, RequestReader};
use crate::response::{Status, end_head, error_page, header, http_date, start_head};
use crate::server::Shared;

/// Bodies up to this size go out in the same `write` as the head: one syscall, one segment
/// on loopback. Larger ones are sent with `sendfile` (see `send_file_range`).
pub const SMALL_BODY: u64 = 64 << 10;

/// How a response ended, for the caller: keep reading requests (or close), and its status.
type Outcome = (bool, u16);

/// How long, at most, a connection closed after an error waits for the client to stop
/// sending (see [`linger_close`]).
pub const LINGER_TIME: Duration = Duration::from_secs(2);
/// How much, at most, it reads and drops meanwhile.
pub const LINGER_BYTES: usize = 256 << 10;

/// What one request and its response amounted to, for the access log and the statistics.
struct Exchange<'a> {
    stream: &'a TcpStream,
    out: &'a mut Vec<u8>,
    shared: &'a Shared,
    /// The connection stays open after this response.
    keep_alive: bool,
    http10: bool,
    /// `HEAD`: the same head as `GET`, and no body.
    head_only: bool,
    status: u16,
    body_sent: u64,
    /// This response's send deadline, from its first write on.
    deadline: Option<SendDeadline>,
}

// ANCHOR: send_deadline
/// When a response must have been handed to the kernel: `--send-timeout` plus its size at
/// `--min-send-rate`. Each blocking write waits at most for what is left of it, so a client
/// that reads a few bytes now and then (each write then succeeds, and `SO_SNDTIMEO` alone would
/// never fire) is cut off at the deadline too. The same idea as the header deadline in
/// `request.rs`, on the sending side.
struct SendDeadline {
    at: Instant,
    /// `--send-timeout`: the `SO_SNDTIMEO` a connection normally has (set when accepted).
    idle: Duration,
}

impl SendDeadline {
    fn new(shared: &Shared, bytes: u64) -> Self {
        let limits = &shared.limits;
        let transfer = Duration::try_from_secs_f64(bytes as f64 / limits.min_send_rate as f64)
            .unwrap_or(Duration::MAX);
        let now = Instant::now();
        // Saturating: a huge file at `--min-send-rate 1` must not overflow the clock (a panic);
        // a deadline a year away is no deadline anyway.
        let at = now
            .checked_add(limits.send_timeout.saturating_add(transfer))
            .unwrap_or_else(|| now + Duration::from_secs(365 * 86_400));
        Self { at, idle: limits.send_timeout }
    }

    /// Runs one blocking write (`write` or `sendfile`) under the deadline. `SO_SNDTIMEO` is
    /// lowered to the time left only when that is less than `--send-timeout`, so a response
    /// that goes out at a normal pace costs no extra system call.
    ///
    /// # Errors
    /// `TimedOut` once the deadline has passed, or when the write waited for it in vain.
    fn write<T>(&self, stream: &TcpStream, call: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
        let left = self.at.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(too_slow());
        }
        let result = if left < self.idle {
            stream.set_write_timeout(Some(left))?;
            let result = call();
            stream.set_write_timeout(Some(self.idle))?;
            result
        } else {
            call()
        };
        // A write that times out with nothing sent fails with EAGAIN (`WouldBlock`).
        result.map_err(|e| if crate::request::is_timeout(&e) { too_slow() } else { e })
    }
}

fn too_slow() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "the client read too slowly: send deadline passed")
}
// ANCHOR_END: send_deadline

// ANCHOR: serve_connection
/// Serves requests on `stream` until the client closes, a timeout or an error ends the
/// connection, or a response says `Connection: close`.
///
/// # Errors
/// A read or write failed (the client reset the connection, or stopped reading for longer
/// than the send timeout).
pub fn serve_connection(stream: &TcpStream, peer: SocketAddr, shared: &Shared) -> io::Result<()> {
    let n = shared.narrator;
    let mut reader = RequestReader::new(shared.read_limits());
    // The response head, and small bodies after it, are written here and sent in one write.
    let mut out = Vec::with_capacity(SMALL_BODY as usize + 1024);
    loop {
        let had_pipelined = reader.buffered();
        let next = reader.next_request(stream)?;
        if let Next::Reject(status, detail) = next {
            let line = reader.request_line_for_log();
            narrate!(
                n,
                "recv({}) -> a head that fails: {} {}",
                fd(stream),
                status.code,
                status.reason
            );
            shared.stats.requests.fetch_add(1, Ordering::Relaxed);
            let mut ex = Exchange::new(stream, &mut out, shared, false, false, false);
            ex.send_error(status, detail, &[])?;
            ex.log(peer, &line);
            linger_close(stream);
            return Ok(());
        }
        if let Next::Closed = next {
            return Ok(());
        }
        narrate!(
            n,
            "recv({}) -> head of {} bytes{}: {} {} HTTP/1.{}",
            fd(stream),
            reader.head.len,
            if had_pipelined > 0 { " (pipelined, already buffered)" } else { "" },
            reader.head.method,
            reader.head.target,
            reader.head.minor_version
        );
        shared.stats.requests.fetch_add(1, Ordering::Relaxed);
        shared.stats.in_flight.fetch_add(1, Ordering::SeqCst);
        let answered = answer(stream, &mut reader, &mut out, shared, peer);
        shared.stats.in_flight.fetch_sub(1, Ordering::SeqCst);
        let (keep_alive, status) = match answered {
            Ok(outcome) => outcome,
            Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                // Cut off at the send deadline: close with a reset (`SO_LINGER` 0), as nginx's
                // `reset_timedout_connection` does. A normal close would leave the kernel
                // trickling the megabytes still queued to the same slow client.
                let _ = socket2::SockRef::from(stream).set_linger(Some(Duration::ZERO));
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        if !keep_alive {
            if status >= 400 {
                linger_close(stream);
            }
            return Ok(());
        }
    }
}
// ANCHOR_END: serve_connection

/// Answers the request whose head is in `reader`, and logs it.
fn answer(
    stream: &TcpStream,
    reader: &mut RequestReader,
    out: &mut Vec<u8>,
    shared: &Shared,
    peer: SocketAddr,
) -> io::Result<Outcome> {
    let head = &reader.head;
    let http10 = head.minor_version == 0;
    // HTTP/1.1 keeps the connection unless told `close`; HTTP/1.0 closes unless told
    // `keep-alive`. A server that is stopping closes after this response.
    let keep_alive =
        (if http10 { head.keep_alive } else { !head.close }) && !shared.stop.is_stopping();
    let head_only = head.method == "HEAD";
    let mut ex = Exchange::new(stream, out, shared, keep_alive, http10, head_only);
    let result = ex.dispatch(reader);
    if !shared.quiet {
        // The head is still there: consuming it moved the buffer, not these strings.
        let head = &reader.head;
        let line = format!("{} {} HTTP/1.{}", head.method, head.target, head.minor_version);
        ex.log(peer, &line);
    }
    result.map(|()| (ex.keep_alive, ex.status))
}

// ANCHOR: linger
/// After an error that ends the connection, the client may still be sending (the rest of a
/// 9 KiB head, a body we refused). Closing a socket with unread data makes the kernel send a
/// reset (RST) instead of a FIN, and a client that gets the reset may throw away our error
/// response before it has read it. So, like nginx's `lingering_close`: `shutdown(Write)` (our
/// FIN goes out after the response), then read and drop what still comes, until the client
/// closes, [`LINGER_TIME`] passes or [`LINGER_BYTES`] have come, and only then close.
fn linger_close(mut stream: &TcpStream) {
    let _ = stream.shutdown(Shutdown::Write);
    let deadline = Instant::now() + LINGER_TIME;
    let mut sink = [0u8; 4096];
    let mut drained = 0;
    while drained < LINGER_BYTES {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            break;
        }
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => drained += n,
        }
    }
}
// ANCHOR_END: linger

impl<'a> Exchange<'a> {
    fn new(
        stream: &'a TcpStream,
        out: &'a mut Vec<u8>,
        shared: &'a Shared,
        keep_alive: bool,
        http10: bool,
        head_only: bool,
    ) -> Self {
        Self {
            stream,
            out,
            shared,
            keep_alive,
            http10,
            head_only,
            status: 0,
            body_sent: 0,
            deadline: None,
        }
    }

    // ANCHOR: dispatch
    /// Decides what the request gets, and sends it.
    fn dispatch(&mut self, reader: &mut RequestReader) -> io::Result<()> {
        let head = &reader.head;
        // 1. Framing. If we cannot tell where the body ends, we cannot find the next request:
        //    answer and close.
        if head.bad_length || (head.transfer_encoding && head.content_length.is_some()) {
            self.keep_alive = false;
            return self.send_error(
                Status::BAD_REQUEST,
                "The request's body length is unclear.",
                &[],
            );
        }
        if head.transfer_encoding {
            self.keep_alive = false;
            return self.send_error(
                Status::NOT_IMPLEMENTED,
                "Request bodies sent with Transfer-Encoding are not supported.",
                &[],
            );
        }
        if head.minor_version == 1 && head.hosts != 1 {
            // HTTP/1.1 requires exactly one Host header (RFC 9112, 3.2).
            self.keep_alive = false;
            return self.send_error(
                Status::BAD_REQUEST,
                "An HTTP/1.1 request needs one Host header.",
                &[],
            );
        }
        // 2. Method, then the body: a small one is read and dropped, so the connection can go
        //    on; a large one is refused and the connection closed without reading it.
        let body = head.content_length.unwrap_or(0);
        let refusal = match head.method.as_str() {
            "GET" | "HEAD" => None,
            "POST" | "PUT" | "DELETE" | "PATCH" | "OPTIONS" | "TRACE" | "CONNECT" => {
                Some((Status::METHOD_NOT_ALLOWED, "This server only reads files: GET and HEAD."))
            }
            _ => Some((Status::NOT_IMPLEMENTED, "This server does not know that method.")),
        };
        if body > self.shared.limits.max_body {
            self.keep_alive = false;
            return match refusal {
                Some((status, detail)) => {
                    self.send_error(status, detail, &[("Allow", "GET, HEAD")])
                }
                None => self.send_error(
                    Status::CONTENT_TOO_LARGE,
                    "The request carries a body larger than this server reads.",
                    &[],
                ),
            };
        }
        reader.consume_head();
        if body > 0 {
            narrate!(
                self.shared.narrator,
                "recv({}) -> {body} bytes of request body, dropped",
                fd(self.stream)
            );
            if reader.discard_body(self.stream, body).is_err() {
                self.keep_alive = false;
                return Ok(());
            }
        }
        if let Some((status, detail)) = refusal {
            return self.send_error(status, detail, &[("Allow", "GET, HEAD")]);
        }
        // 3. The path: origin-form (`/a/b?q`), or absolute-form (`http://host/a/b?q`), which
        //    HTTP/1.1 servers must accept too.
        let head = &reader.head;
        let Some((path, query)) = split_target(&head.target) else {
            return self.send_error(Status::BAD_REQUEST, "The request target is not a path.", &[]);
        };
        let relative = match files::relative_path(path) {
            Ok(relative) => relative,
            Err(PathError::Malformed(what)) => {
                let detail = format!("The path contains {what}.");
                return self.send_error(Status::BAD_REQUEST, &detail, &[]);
            }
            Err(PathError::Escapes) => {
                return self.send_error(
                    Status::FORBIDDEN,
                    "The path leads outside the served folder.",
                    &[],
                );
            }
        };
        // 4. The file system.
        self.serve_path(path, query, &relative, head)
    }
    // ANCHOR_END: dispatch

    fn serve_path(
        &mut self,
        path: &str,
        query: Option<&str>,
        relative: &str,
        head: &Head,
    ) -> io::Result<()> {
        let root = &self.shared.root;
        let file = match root.open_file(relative) {
            Ok(file) => file,
            Err(e) => return self.send_open_error(&e),
        };
        let meta = match file.metadata() {
            Ok(meta) => meta,
            Err(e) => return self.send_open_error(&e),
        };
        let folder_form = files::names_a_folder(path);
        if meta.is_file() {
            if folder_form {
                // `/a.txt/` asks for a folder named a.txt; the file is not that.
                return self.send_error(Status::NOT_FOUND, "Nothing here.", &[]);
            }
            return self.send_file(&file, &meta, relative, head);
        }
        if !meta.is_dir() {
            // A FIFO, a socket, a device: reading one could block forever or never end.
            return self.send_error(Status::FORBIDDEN, "That is not a regular file.", &[]);
        }
        if !folder_form {
            // Relative links in the listing (`a.txt`) resolve against the URL's folder, which
            // needs the slash: `/docs` + `a.txt` would be `/a.txt`. The Location is built from
            // the normalised path, never from the request's text: see `folder_location`.
            let mut location = files::folder_location(relative);
            if let Some(q) = query {
                location.push('?');
                location.push_str(q);
            }
            return self.send_error(
                Status::MOVED_PERMANENTLY,
                "This is a folder: its address ends with a slash.",
                &[("Location", &location)],
            );
        }
        let index = if relative.is_empty() {
            "index.html".to_owned()
        } else {
            format!("{relative}/index.html")
        };
        if let Ok(file) = root.open_file(&index) {
            if let Ok(meta) = file.metadata() {
                if meta.is_file() {
                    return self.send_file(&file, &meta, &index, head);
                }
            }
        }
        let shown = if relative.is_empty() { "/".to_owned() } else { format!("/{relative}/") };
        // The folder `file`, as opened beneath the root: listed by descriptor (see `listing`).
        match files::listing(root, file, relative, &shown) {
            Ok(html) => self.send_body(Status::OK, html.as_bytes(), &[]),
            Err(e) => self.send_open_error(&e),
        }
    }

    fn send_open_error(&mut self, err: &io::Error) -> io::Result<()> {
        narrate!(self.shared.narrator, "open -> {err}");
        match err.kind() {
            io::ErrorKind::PermissionDenied => {
                self.send_error(Status::FORBIDDEN, "You may not read that.", &[])
            }
            io::ErrorKind::NotFound => self.send_error(Status::NOT_FOUND, "Nothing here.", &[]),
            _ if is_lookup_error(err) => self.send_error(Status::NOT_FOUND, "Nothing here.", &[]),
            _ => {
                eprintln!("error: could not open a requested file: {err}");
                self.send_error(Status::INTERNAL_SERVER_ERROR, "The file could not be read.", &[])
            }
        }
    }

    // ANCHOR: send_file
    /// A regular file: 304 if the client's copy is current, 206 or 416 for a range, else 200.
    /// Every one of them carries the file's validators, `ETag` and `Last-Modified`.
    fn send_file(
        &mut self,
        file: &File,
        meta: &Metadata,
        name: &str,
        head: &Head,
    ) -> io::Result<()> {
        let len = meta.len();
        let modified = meta.modified().ok();
        let last_modified = modified.map(http_date);
        let etag = modified.map(|time| entity_tag(time, len));
        // RFC 9110, 13.2.2: If-None-Match, when sent, decides alone; If-Modified-Since is
        // looked at only without it (an ETag tells versions apart within one second, a date
        // cannot).
        let not_modified = if !head.if_none_match.is_empty() {
            none_match(&head.if_none_match, etag.as_deref())
        } else if let (Some(since), Some(modified)) = (head.if_modified_since, modified) {
            // HTTP dates have whole seconds: compare at that precision, or a file modified at
            // 08:05:00.300 would never match the `08:05:00` the client was given.
            whole_seconds(modified) <= whole_seconds(since)
        } else {
            false
        };
        if not_modified {
            self.status = Status::NOT_MODIFIED.code;
            start_head(self.out, Status::NOT_MODIFIED);
            if let Some(tag) = &etag {
                header(self.out, "ETag", tag);
            }
            if let Some(date) = &last_modified {
                header(self.out, "Last-Modified", date);
            }
            end_head(self.out, self.keep_alive, self.http10);
            return self.write_out();
        }
        // `If-Range`: send the range only if the file is still the one the client has part
        // of; otherwise the whole (new) file.
        let range_applies = !head.range.is_empty()
            && (head.if_range.is_empty()
                || if_range_holds(&head.if_range, etag.as_deref(), last_modified.as_ref()));
        let (status, start, count) = match range_applies.then(|| parse_range(&head.range, len)) {
            Some(RangeRequest::Part { start, end }) => {
                (Status::PARTIAL_CONTENT, start, end - start + 1)
            }
            Some(RangeRequest::Unsatisfiable) => {
                let content_range = format!("bytes */{len}");
                return self.send_error(
                    Status::RANGE_NOT_SATISFIABLE,
                    "The range asked for is not in the file.",
                    &[("Content-Range", &content_range)],
                );
            }
            Some(RangeRequest::Whole) | None => (Status::OK, 0, len),
        };
        self.status = status.code;
        start_head(self.out, status);
        let (mime, utf8) = files::content_type(std::path::Path::new(name));
        if utf8 {
            header(self.out, "Content-Type", format_args!("{mime}; charset=utf-8"));
        } else {
            header(self.out, "Content-Type", mime);
        }
        header(self.out, "Content-Length", count);
        if let Some(tag) = &etag {
            header(self.out, "ETag", tag);
        }
        if let Some(date) = &last_modified {
            header(self.out, "Last-Modified", date);
        }
        header(self.out, "Accept-Ranges", "bytes");
        if status == Status::PARTIAL_CONTENT {
            header(
                self.out,
                "Content-Range",
                format_args!("bytes {start}-{}/{len}", start + count - 1),
            );
        }
        end_head(self.out, self.keep_alive, self.http10);
        if self.head_only || count == 0 {
            return self.write_out();
        }
        if count <= SMALL_BODY {
            let mut file = file;
            if start > 0 {
                file.seek(SeekFrom::Start(start))?;
            }
            // Head and body in one buffer, one write. A file that shrank since fstat is our
            // problem, found before a byte is sent: a 500 instead of a short body.
            let at = self.out.len();
            self.out.resize(at + count as usize, 0);
            if let Err(e) = file.read_exact(&mut self.out[at..]) {
                eprintln!("error: could not read {name}: {e}");
                return self.send_error(
                    Status::INTERNAL_SERVER_ERROR,
                    "The file could not be read.",
                    &[],
                );
            }
            self.body_sent = count;
            return self.write_out();
        }
        // Large: the head, then the file straight from the page cache to the socket, both
        // under one deadline for the whole response.
        self.deadline = Some(SendDeadline::new(self.shared, self.out.len() as u64 + count));
        self.write_out()?;
        let sent = self.send_file_range(file, start, count)?;
        narrate!(
            self.shared.narrator,
            "sendfile({}, file, offset {start}) -> {sent} bytes",
            fd(self.stream)
        );
        if sent < count {
            // The file shrank after the head promised `count` bytes: the client would wait
            // for bytes that never come. Closing tells it the response is cut short.
            self.keep_alive = false;
        }
        Ok(())
    }
    // ANCHOR_END: send_file

    /// A response with a body from memory (a listing), as `text/html`.
    fn send_body(&mut self, status: Status, body: &[u8], extra: &[(&str, &str)]) -> io::Result<()> {
        self.status = status.code;
        start_head(self.out, status);
        header(self.out, "Content-Type", "text/html; charset=utf-8");
        header(self.out, "Content-Length", body.len());
        for (name, value) in extra {
            header(self.out, name, value);
        }
        end_head(self.out, self.keep_alive, self.http10);
        if !self.head_only {
            self.out.extend_from_slice(body);
            self.body_sent = body.len() as u64;
        }
        self.write_out()
    }

    /// An error (or redirect) status with its small HTML page.
    fn send_error(
        &mut self,
        status: Status,
        detail: &str,
        extra: &[(&str, &str)],
    ) -> io::Result<()> {
        let page = error_page(status, detail);
        self.send_body(status, page.as_bytes(), extra)
    }

    /// Sends what is in `out`, all of it, looping on short writes, under the response's
    /// deadline.
    fn write_out(&mut self) -> io::Result<()> {
        let shared = self.shared;
        let deadline =
            self.deadline.get_or_insert_with(|| SendDeadline::new(shared, self.out.len() as u64));
        let mut stream = self.stream;
        let mut rest = &self.out[..];
        while !rest.is_empty() {
            match deadline.write(self.stream, || stream.write(rest)) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => rest = &rest[n..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        narrate!(
            self.shared.narrator,
            "sendall({}, {} bytes) -> status {}",
            fd(self.stream),
            self.out.len(),
            self.status
        );
        self.shared.stats.bytes.fetch_add(self.out.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    fn log(&self, peer: SocketAddr, request_line: &str) {
        if !self.shared.quiet && self.status != 0 {
            crate::log::write(&crate::log::line(
                peer.ip(),
                request_line,
                self.status,
                self.body_sent,
            ));
        }
    }
}

// ANCHOR: zero_copy
impl Exchange<'_> {
    /// Sends `count` bytes of `file` from offset `start` with `sendfile(2)`: the kernel copies
    /// from the page cache into the socket's buffer, and the bytes never visit this process.
    /// The bytes are counted as each call returns, so the access log and the summary see a
    /// body cut short too.
    ///
    /// The socket is non-blocking meanwhile, and we wait for room with `poll(POLLOUT)`, for at
    /// most `--send-timeout` and never past the response's deadline. A blocking `sendfile`
    /// could not be bounded: `SO_SNDTIMEO` limits each wait *inside* it, and a client that
    /// reads a few bytes now and then keeps every wait short and the call going for ever.
    ///
    /// Not `io::copy(file, socket)`: std uses `sendfile` only where it cannot change what the
    /// caller sees, and a file's later changes could show up in bytes still queued in a
    /// socket, so for a file and a socket it falls back to `read` and `write` through an 8 KiB
    /// buffer. We accept that race on purpose, as nginx does: a file rewritten *while* it is
    /// being sent is sent mixed, whatever the server.
    ///
    /// Returns how many bytes went out: fewer than `count` if the file shrank meanwhile.
    #[cfg(target_os = "linux")]
    fn send_file_range(&mut self, file: &File, start: u64, count: u64) -> io::Result<u64> {
        self.stream.set_nonblocking(true)?;
        let result = self.sendfile_until_deadline(file, start, count);
        self.stream.set_nonblocking(false)?;
        result
    }

    #[cfg(target_os = "linux")]
    fn sendfile_until_deadline(&mut self, file: &File, start: u64, count: u64) -> io::Result<u64> {
        use rustix::event::{PollFd, PollFlags, poll};
        use rustix::io::Errno;
        let deadline = self.deadline.as_ref().expect("the head was sent under a deadline");
        let end = start + count;
        // The kernel advances `offset`; the file's own position is not used, nor changed.
        let mut offset = start;
        while offset < end {
            // Checked on every round, not only when `poll` times out: a client that reads
            // steadily, but slower than `--min-send-rate`, makes `poll` succeed every time.
            if Instant::now() >= deadline.at {
                return Err(too_slow());
            }
            let chunk = usize::try_from(end - offset).unwrap_or(usize::MAX).min(SENDFILE_CHUNK);
            match rustix::fs::sendfile(self.stream, file, Some(&mut offset), chunk) {
                Ok(0) => break, // End of file, earlier than its size said.
                Ok(n) => {
                    self.body_sent += n as u64;
                    self.shared.stats.bytes.fetch_add(n as u64, Ordering::Relaxed);
                }
                Err(Errno::AGAIN) => {
                    // The socket buffer is full: the client has not read what we sent.
                    let left = deadline.at.saturating_duration_since(Instant::now());
                    let wait = rustix::event::Timespec::try_from(left.min(deadline.idle))
                        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
                    let mut fds = [PollFd::new(self.stream, PollFlags::OUT)];
                    match poll(&mut fds, Some(&wait)) {
                        Ok(0) => return Err(too_slow()),
                        Ok(_) | Err(Errno::INTR) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                Err(Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(offset - start)
    }

    /// Elsewhere: a plain copy loop, from `start`, through a buffer.
    #[cfg(not(target_os = "linux"))]
    fn send_file_range(&mut self, mut file: &File, start: u64, count: u64) -> io::Result<u64> {
        let deadline = self.deadline.as_ref().expect("the head was sent under a deadline");
        file.seek(SeekFrom::Start(start))?;
        let mut buf = vec![0u8; SMALL_BODY as usize];
        let mut stream = self.stream;
        let mut sent = 0;
        while sent < count {
            let want = usize::try_from(count - sent).unwrap_or(usize::MAX).min(buf.len());
            let n = file.read(&mut buf[..want])?;
            if n == 0 {
                break;
            }
            let mut rest = &buf[..n];
            while !rest.is_empty() {
                let written = deadline.write(self.stream, || stream.write(rest))?;
                if written == 0 {
                    return Err(io::ErrorKind::WriteZero.into());
                }
                rest = &rest[written..];
                self.body_sent += written as u64;
                self.shared.stats.bytes.fetch_add(written as u64, Ordering::Relaxed);
            }
            sent += n as u64;
        }
        Ok(sent)
    }
}
// ANCHOR_END: zero_copy

/// The most one `sendfile` call is asked for: 1 MiB, small enough that the deadline and the
/// byte counts see progress often, large enough that the system call costs nothing next to
/// the copy. The kernel sends what the socket buffer takes and says how much.
#[cfg(target_os = "linux")]
const SENDFILE_CHUNK: usize = 1 << 20;

/// Splits a request target into its path and query; `None` for a target that is not a path.
fn split_target(target: &str) -> Option<(&str, Option<&str>)> {
    let path = if target.starts_with('/') {
        target
    } else {
        // absolute-form: `http://host:port/path?q`. The host part is not ours to check: we
        // serve one folder, whatever name the client used for us.
        let rest = target.strip_prefix("http://").or_else(|| target.strip_prefix("https://"))?;
        match rest.find('/') {
            Some(slash) => &rest[slash..],
            None => "/",
        }
    };
    let path = path.split('#').next().unwrap_or(path);
    Some(match path.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (path, None),
    })
}

// ANCHOR: validators
/// The file's strong entity-tag: its modification time, to the nanosecond, and its size, in
/// hex: `"187b3a9c1d2e4f00-c"`. nginx builds its ETag the same way, from the mtime in seconds;
/// nanoseconds tell apart two versions written within one second.
fn entity_tag(modified: std::time::SystemTime, len: u64) -> String {
    let nanos = modified.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("\"{nanos:x}-{len:x}\"")
}

/// The entity-tags in an `If-None-Match` or `If-Range` value: `"a", W/"b"` gives `"a"` and
/// `W/"b"`. A quoted tag may hold a comma, so the list is not simply split at commas. Anything
/// malformed comes out as itself, up to the next comma, and matches no tag of ours.
fn entity_tags(list: &str) -> impl Iterator<Item = &str> {
    let mut rest = list;
    std::iter::from_fn(move || {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            return None;
        }
        let opaque = if rest.starts_with("W/") { 2 } else { 0 };
        let end = match rest[opaque..].strip_prefix('"').and_then(|tag| tag.find('"')) {
            Some(close) => opaque + close + 2,
            None => rest.find(',').unwrap_or(rest.len()),
        };
        let (tag, after) = rest.split_at(end);
        rest = after;
        Some(tag)
    })
}

/// `If-None-Match`: does the client already hold this version? The weak comparison (RFC 9110,
/// 8.8.3.2): two tags match if their quoted parts are equal, `W/` or not. `*` matches any file
/// that exists.
fn none_match(list: &str, etag: Option<&str>) -> bool {
    if list.trim() == "*" {
        return true;
    }
    let Some(etag) = etag else { return false };
    let ours = etag.trim_start_matches("W/");
    entity_tags(list).any(|tag| tag.trim_start_matches("W/") == ours)
}

/// `If-Range`: is the part the client holds from this version of the file? An entity-tag
/// needs the strong comparison (a weak tag never matches: a range of a merely "equivalent"
/// file would splice two files together); a date must equal `Last-Modified`.
fn if_range_holds(value: &str, etag: Option<&str>, last_modified: Option<&impl ToString>) -> bool {
    let value = value.trim();
    if value.starts_with('"') || value.starts_with("W/") {
        !value.starts_with("W/") && etag == Some(value)
    } else {
        last_modified.is_some_and(|date| date.to_string() == value)
    }
}
// ANCHOR_END: validators

/// Whole seconds since 1970, the precision of an HTTP date.
fn whole_seconds(time: std::time::SystemTime) -> u64 {
    time.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// A lookup that failed on the path itself (a component that is a file, a name too long, a
/// symlink loop): as good as "not found" to the client.
///
/// By name, never by number: error numbers differ between systems (Linux's 62 is ETIME,
/// macOS's is ELOOP), and a number matched by hand turns unrelated errors into 404s.
#[cfg(target_os = "linux")]
fn is_lookup_error(err: &io::Error) -> bool {
    use rustix::io::Errno;
    matches!(Errno::from_io_error(err), Some(Errno::NOTDIR | Errno::NAMETOOLONG | Errno::LOOP))
}

/// Elsewhere, std's names. Only ENOTDIR's is within our minimum Rust (ENAMETOOLONG's came in
/// 1.87, ELOOP's is not stable yet), so there the other two are a 500.
#[cfg(not(target_os = "linux"))]
fn is_lookup_error(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::NotADirectory
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_tag_lists_are_read_as_lists() {
        let tags: Vec<_> = entity_tags(r#" "a" , W/"b,c",,"d" junk, "e""#).collect();
        assert_eq!(tags, [r#""a""#, r#"W/"b,c""#, r#""d""#, "junk", r#""e""#]);
        assert!(none_match(r#""x", W/"b,c""#, Some(r#""b,c""#)));
        assert!(!none_match(r#""x""#, Some(r#""b""#)));
        assert!(none_match("*", None));
        assert!(!none_match("junk", Some(r#""junk""#)));
    }

    #[test]
    fn targets_split_into_path_and_query() {
        assert_eq!(split_target("/a/b?x=1"), Some(("/a/b", Some("x=1"))));
        assert_eq!(split_target("/a#frag"), Some(("/a", None)));
        assert_eq!(split_target("http://example.com:80/x?y"), Some(("/x", Some("y"))));
        assert_eq!(split_target("http://example.com"), Some(("/", None)));
        assert_eq!(split_target("*"), None);
        assert_eq!(split_target("a/b"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn only_lookup_errors_count_as_not_found() {
        use rustix::io::Errno;
        for errno in [Errno::NOTDIR, Errno::NAMETOOLONG, Errno::LOOP] {
            assert!(is_lookup_error(&errno.into()), "{errno:?}");
        }
        // ETIME (62) and ENOSR (63) on Linux have nothing to do with a path: a 500, not a 404.
        for errno in [Errno::TIME, Errno::NOSR, Errno::IO, Errno::NOMEM] {
            assert!(!is_lookup_error(&errno.into()), "{errno:?}");
        }
    }
}
