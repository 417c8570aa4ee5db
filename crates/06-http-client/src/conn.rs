//! One connection to a server: TCP, optionally TLS on top, a read buffer, and timeouts.
//! `connect.rs` opens it; this module sends on it, reads from it and closes it.
//!
//! The HTTP code above never touches the socket: it asks this module for "the bytes buffered so
//! far" and "more bytes, please", and says how many it used. That one buffer serves the response
//! head (parsed in place), chunk-size lines and body bytes alike, so bytes that arrive together
//! with the head are never lost, and bytes of the next response on a kept-alive connection stay
//! buffered for it.
//!
//! Every wait is bounded: connecting by `--connect-timeout`, each read by the idle timeout, the
//! whole transfer by `--max-time`.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::timeout::is_timeout;
use common::{narrate, step};

use crate::error::{Kind, fail, fail_because, kind_of_io};
use crate::target::Origin;
use crate::wire::Wire;

/// 128 KiB: the read buffer. Large enough that a fast download costs few `recv` calls (curl
/// reads in 100 KiB pieces by default); also the ceiling of a response head, below.
pub const READ_BUF_SIZE: usize = 128 * 1024;

/// The time limits of one run.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// For each `connect()` and the TLS handshake.
    pub connect: Duration,
    /// The longest silence between two reads before we give up on the server.
    pub idle: Duration,
    /// `--max-time`: when the whole run must be over.
    pub deadline: Option<Instant>,
}

impl Timeouts {
    /// How long the next wait may take, or a timeout error when the deadline has passed.
    ///
    /// # Errors
    /// A timeout (28) when `--max-time` has run out.
    pub fn next_wait(&self, wait: Duration) -> anyhow::Result<Duration> {
        match self.deadline {
            None => Ok(wait),
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    Err(fail(Kind::Timeout, "--max-time ran out"))
                } else {
                    Ok(wait.min(left))
                }
            }
        }
    }

    /// The error for a wait of `wait` that ran out while doing `what`: `--max-time`'s, when
    /// the deadline is what cut it short.
    pub fn timeout_error(&self, what: &str, wait: Duration) -> anyhow::Error {
        match self.deadline {
            Some(deadline) if Instant::now() + Duration::from_millis(5) >= deadline => {
                fail(Kind::Timeout, format!("--max-time ran out while {what}"))
            }
            _ => fail(
                Kind::Timeout,
                format!("no answer for {:.1} s while {what}", wait.as_secs_f64()),
            ),
        }
    }
}

/// The bytes underneath: a TCP socket, or a TLS session over one.
pub enum Stream {
    /// Plain http: the socket itself.
    Plain(TcpStream),
    /// https: a rustls session that encrypts into, and decrypts from, the socket.
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(tcp) => tcp,
            Stream::Tls(tls) => &tls.sock,
        }
    }
}

/// What [`Connection::check_idle`] found on a kept-alive connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdleState {
    /// Nothing: the connection can carry the next request.
    Quiet,
    /// The server closed it (or reset it) while it was idle.
    Closed,
    /// This many bytes arrived that no request asked for.
    Unsolicited(usize),
}

/// An open connection to one origin (scheme, host, port).
pub struct Connection {
    stream: Stream,
    origin: Origin,
    /// The connection's number in this run, as `-v` shows it (`Connection #0`).
    pub id: u32,
    peer: SocketAddr,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    /// The peer closed its side: no more bytes will come.
    eof: bool,
    /// The TLS peer closed TCP without a close_notify alert first.
    pub tls_unclean_close: bool,
    timeouts: Timeouts,
    wire: Wire,
}

impl Connection {
    /// A connection over `stream`, just opened, with an empty read buffer.
    pub fn new(
        stream: Stream,
        origin: Origin,
        id: u32,
        peer: SocketAddr,
        timeouts: Timeouts,
        wire: Wire,
    ) -> Self {
        Connection {
            stream,
            origin,
            id,
            peer,
            buf: vec![0; READ_BUF_SIZE].into_boxed_slice(),
            start: 0,
            end: 0,
            eof: false,
            tls_unclean_close: false,
            timeouts,
            wire,
        }
    }

    /// The scheme, host and port this connection reaches.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// The address we connected to.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// A new `--max-time` deadline for later requests on this connection.
    pub fn set_timeouts(&mut self, timeouts: Timeouts) {
        self.timeouts = timeouts;
    }

    /// Sends all of `data` (looping over short writes, as `sendall` does).
    ///
    /// # Errors
    /// A timeout or the peer's reset.
    pub fn send_all(&mut self, data: &[u8]) -> anyhow::Result<()> {
        let wait = self.timeouts.next_wait(self.timeouts.idle)?;
        self.stream.tcp().set_write_timeout(Some(wait))?;
        self.wire.sent(data);
        step!(self.wire.narrator, self.stream.tcp(), "sendall({} bytes)", data.len());
        let result = match &mut self.stream {
            Stream::Plain(tcp) => tcp.write_all(data),
            Stream::Tls(tls) => tls.write_all(data).and_then(|()| tls.flush()),
        };
        match result {
            Ok(()) => {
                narrate!(self.wire.narrator, self.stream.tcp(), "sendall({} bytes)", data.len());
                Ok(())
            }
            Err(e) if is_timeout(&e) => Err(self.timeouts.timeout_error("sending", wait)),
            Err(e) => {
                // A reset or a closed connection while sending is curl's "failure sending"
                // (55), unless TLS itself failed.
                let kind = match kind_of_io(&e) {
                    kind @ (Kind::Tls | Kind::Certificate) => kind,
                    _ => Kind::Send,
                };
                Err(fail_because(kind, "could not send the request", e))
            }
        }
    }

    /// The bytes received but not yet used.
    pub fn buffered(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Marks the first `n` buffered bytes as used.
    pub fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Has the server closed its side (a read returned 0)?
    pub fn at_eof(&self) -> bool {
        self.eof
    }

    /// Looks, without waiting, at a kept-alive connection before a new request goes out on
    /// it: a server has nothing to say on an idle HTTP/1.1 connection, so anything that
    /// arrived is either its close (it timed out the connection) or bytes that belong to no
    /// request of ours. Either way the connection must not be reused.
    pub fn check_idle(&mut self) -> IdleState {
        if !self.buffered().is_empty() {
            return IdleState::Unsolicited(self.buffered().len());
        }
        // With --kernel, the pause shows what the kernel holds: a FIN from the server turns
        // the connection to CLOSE-WAIT before any recv() notices it.
        step!(self.wire.narrator, self.stream.tcp(), "recv(non-blocking)");
        if self.eof || self.stream.tcp().set_nonblocking(true).is_err() {
            return IdleState::Closed;
        }
        // The buffer is empty, so reading starts at its beginning.
        let result = match &mut self.stream {
            Stream::Plain(tcp) => tcp.read(&mut self.buf),
            // rustls handles records without data (a late session ticket) and reports no
            // bytes for them, so only application data counts.
            Stream::Tls(tls) => tls.read(&mut self.buf),
        };
        if self.stream.tcp().set_nonblocking(false).is_err() {
            return IdleState::Closed;
        }
        match result {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                narrate!(
                    self.wire.narrator,
                    self.stream.tcp(),
                    "recv(non-blocking) -> EAGAIN (idle, reusable)"
                );
                IdleState::Quiet
            }
            Ok(0) | Err(_) => {
                narrate!(
                    self.wire.narrator,
                    self.stream.tcp(),
                    "recv(non-blocking) -> 0 bytes (peer closed)"
                );
                self.eof = true;
                IdleState::Closed
            }
            Ok(n) => {
                narrate!(
                    self.wire.narrator,
                    self.stream.tcp(),
                    "recv(non-blocking) -> {n} bytes (unasked for)"
                );
                self.wire.received(&self.buf[..n]);
                self.start = 0;
                self.end = n;
                IdleState::Unsolicited(n)
            }
        }
    }

    // ANCHOR: fill
    /// Reads once more from the connection into the buffer, waiting at most the idle timeout
    /// (and never past `--max-time`). Returns how many bytes arrived; 0 means the server closed
    /// its side, which is the end of a read-to-close body and an error anywhere else.
    ///
    /// # Errors
    /// A timeout, a reset, a TLS error, or a full buffer (the caller's limit was too high).
    pub fn fill(&mut self) -> anyhow::Result<usize> {
        if self.eof {
            return Ok(0);
        }
        if self.end == self.buf.len() {
            // Move the unused bytes to the front to make room.
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            return Err(fail(Kind::Protocol, "read buffer full (a limit above 128 KiB?)"));
        }
        let wait = self.timeouts.next_wait(self.timeouts.idle)?;
        self.stream.tcp().set_read_timeout(Some(wait))?;
        let call = if matches!(self.stream, Stream::Plain(_)) { "recv" } else { "tls read" };
        step!(self.wire.narrator, self.stream.tcp(), "{call}({})", self.buf.len() - self.end);
        let into = &mut self.buf[self.end..];
        let result = match &mut self.stream {
            Stream::Plain(tcp) => tcp.read(into),
            Stream::Tls(tls) => match tls.read(into) {
                // A TLS server should send close_notify before closing TCP; without it, an
                // attacker could have cut the stream. It only matters for read-to-close
                // bodies, so the caller decides.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    self.tls_unclean_close = true;
                    Ok(0)
                }
                other => other,
            },
        };
        // ANCHOR_END: fill
        // ANCHOR: fill_result
        match result {
            Ok(n) => {
                let (conn, left) = (self.stream.tcp(), self.buf.len() - self.end);
                narrate!(self.wire.narrator, conn, "{call}({left}) -> {n} bytes");
                self.wire.received(&self.buf[self.end..self.end + n]);
                self.end += n;
                self.eof = n == 0;
                Ok(n)
            }
            Err(e) if is_timeout(&e) => {
                Err(self.timeouts.timeout_error("waiting for the server", wait))
            }
            Err(e) => {
                // A reset (RST) lands here: curl's "failure receiving" (56).
                let kind = match kind_of_io(&e) {
                    Kind::Other | Kind::Partial => Kind::Recv,
                    kind => kind,
                };
                Err(fail_because(kind, "could not read from the server", e))
            }
        }
    }
    // ANCHOR_END: fill_result

    /// Closes the connection; for TLS, says goodbye with a close_notify alert first.
    ///
    /// With `--kernel`, the line after `close()` shows what the kernel keeps: FIN-WAIT while
    /// the server has not closed its side yet (we closed first, as a client usually does),
    /// gone when it had already closed.
    pub fn close(self) {
        let tcp = match self.stream {
            Stream::Plain(tcp) => tcp,
            Stream::Tls(mut tls) => {
                tls.conn.send_close_notify();
                let _ = tls.conn.write_tls(&mut tls.sock);
                tls.sock
            }
        };
        narrate::close(self.wire.narrator, tcp, "");
    }
}
