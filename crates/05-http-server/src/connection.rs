//! One connection, from its first request to its close: read a head, answer it, and go round
//! again while the connection is kept alive.
//!
//! HTTP/1.1 keeps a connection open between requests, so this is a loop: the
//! [`RequestReader`] waits for the next head (for at most the keep-alive timeout), the
//! [`Exchange`] answers it ([`crate::dispatch`]), and the response says whether the
//! connection goes on. A connection ends when the client closes or stays idle, when a response
//! says `Connection: close`, or when the client reads too slowly for the send deadline.

use std::io::{self, Read};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::narrate;
use common::narrate::fd;
use common::step;

use crate::exchange::Exchange;
use crate::request::{Next, RequestReader};
use crate::send::SMALL_BODY;
use crate::shared::Shared;

/// How long, at most, a connection closed after an error waits for the client to stop
/// sending (see `linger_close`).
pub const LINGER_TIME: Duration = Duration::from_secs(2);
/// How much, at most, it reads and drops meanwhile.
pub const LINGER_BYTES: usize = 256 << 10;

// ANCHOR: serve_connection
/// Serves requests on `stream` until the client closes, a timeout or an error ends the
/// connection, or a response says `Connection: close`.
///
/// # Errors
/// A read or write failed (the client reset the connection, or stopped reading for longer
/// than the send timeout).
pub fn serve_connection(stream: &TcpStream, peer: SocketAddr, shared: &Shared) -> io::Result<()> {
    let mut reader = RequestReader::new(shared.read_limits());
    // The response head, and small bodies after it, are written here and sent in one write.
    let mut out = Vec::with_capacity(SMALL_BODY as usize + 1024);
    loop {
        let had_pipelined = reader.buffered();
        // One pause for the whole head, however many recv() calls it takes to arrive. With
        // --kernel, it shows the bytes already waiting, or, between two requests of a kept-alive
        // connection, nothing yet.
        step!(shared.narrator, stream, "recv({})", fd(stream));
        let next = reader.next_request(stream)?;
        match next {
            Next::Request => {}
            Next::Closed | Next::Idle => {
                narrate_end(&next, stream, shared);
                return Ok(());
            }
            Next::Reject(status, detail) => {
                // Bytes that cannot become a request: say why, then close (nothing after
                // them can be trusted to start a request).
                let (code, reason) = (status.code, status.reason);
                narrate!(
                    shared.narrator,
                    stream,
                    "recv({}) -> a head that fails: {code} {reason}",
                    fd(stream)
                );
                shared.stats.requests.fetch_add(1, Ordering::Relaxed);
                let mut ex = Exchange::new(stream, &mut out, shared);
                ex.send_error(status, detail, &[])?;
                ex.log(peer, &reader.request_line_for_log());
                linger_close(stream);
                return Ok(());
            }
        }
        narrate_head(&reader, had_pipelined > 0, stream, shared);
        shared.stats.requests.fetch_add(1, Ordering::Relaxed);
        shared.stats.in_flight.fetch_add(1, Ordering::SeqCst);
        let answered = answer(stream, &mut reader, &mut out, shared, peer);
        shared.stats.in_flight.fetch_sub(1, Ordering::SeqCst);
        let (keep_alive, status) = answered.inspect_err(|e| reset_if_too_slow(stream, e))?;
        if !keep_alive {
            if status >= 400 {
                linger_close(stream);
            }
            return Ok(());
        }
    }
}
// ANCHOR_END: serve_connection

// ANCHOR: answer
/// Answers the request in `reader` and logs it: whether the connection stays open, and the status.
fn answer(
    stream: &TcpStream,
    reader: &mut RequestReader,
    out: &mut Vec<u8>,
    shared: &Shared,
    peer: SocketAddr,
) -> io::Result<(bool, u16)> {
    let head = &reader.head;
    let mut ex = Exchange::new(stream, out, shared);
    ex.http10 = head.minor_version == 0;
    // HTTP/1.1 keeps the connection unless told `close`; HTTP/1.0 closes unless told
    // `keep-alive`. A server that is stopping closes after this response.
    ex.keep_alive =
        (if ex.http10 { head.keep_alive } else { !head.close }) && !shared.stop.is_stopping();
    ex.head_only = head.method == "HEAD";
    let result = ex.dispatch(reader);
    if !shared.quiet {
        // The head is still there: consuming it moved the buffer, not these strings.
        let head = &reader.head;
        let line = format!("{} {} HTTP/1.{}", head.method, head.target, head.minor_version);
        ex.log(peer, &line);
    }
    result.map(|()| (ex.keep_alive, ex.status))
}
// ANCHOR_END: answer

// ANCHOR: reset
/// A response cut off at its send deadline: close with a reset (`SO_LINGER` 0), as nginx's
/// `reset_timedout_connection` does. A normal close would leave the kernel trickling the
/// megabytes still queued to the same slow client.
fn reset_if_too_slow(stream: &TcpStream, err: &io::Error) {
    if err.kind() == io::ErrorKind::TimedOut {
        let _ = socket2::SockRef::from(stream).set_linger(Some(Duration::ZERO));
    }
}
// ANCHOR_END: reset

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

/// `--trace`: the last `recv` of a connection that ends between requests. With `--kernel`, a
/// client's close shows as CLOSE-WAIT: its FIN is in, and our `close()` is still to come.
fn narrate_end(next: &Next, stream: &TcpStream, shared: &Shared) {
    let why = match next {
        Next::Idle => "timed out: idle for the keep-alive timeout",
        // Ctrl-C's drain wakes an idle connection with shutdown(SHUT_RD), which reads as 0 too.
        _ if shared.stop.is_stopping() => "0 bytes (stopping: our shutdown(SHUT_RD) woke it)",
        _ => "0 bytes (the client closed)",
    };
    narrate!(shared.narrator, stream, "recv({}) -> {why}", fd(stream));
}

/// `--trace`: the request line of the head just read, and whether it had already arrived
/// behind the previous one (pipelined).
fn narrate_head(reader: &RequestReader, pipelined: bool, stream: &TcpStream, shared: &Shared) {
    let head = &reader.head;
    narrate!(
        shared.narrator,
        stream,
        "recv({}) -> head of {} bytes{}: {} {} HTTP/1.{}",
        fd(stream),
        head.len,
        if pipelined { " (pipelined, already buffered)" } else { "" },
        head.method,
        head.target,
        head.minor_version
    );
}
