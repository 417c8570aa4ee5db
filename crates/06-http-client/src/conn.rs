//! One connection to a server: TCP, optionally TLS on top, a read buffer, and timeouts.
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
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Context;
use common::narrate;
use rustls::pki_types::ServerName;

use crate::error::{Kind, fail, fail_because, kind_of_io, kind_of_tls};
use crate::target::{Origin, Scheme, Target};
use crate::wire::Wire;

/// 128 KiB: the read buffer. Large enough that a fast download costs few `recv` calls (curl
/// reads in 100 KiB pieces by default); also the ceiling of a response head, below.
pub const READ_BUF_SIZE: usize = 128 * 1024;

/// Which address families `-4`/`-6` allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Whatever the resolver returns, in its order.
    Any,
    /// IPv4 only (`-4`).
    V4,
    /// IPv6 only (`-6`).
    V6,
}

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
    fn next_wait(&self, wait: Duration) -> anyhow::Result<Duration> {
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

    fn timeout_error(&self, what: &str, wait: Duration) -> anyhow::Error {
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
enum Stream {
    Plain(TcpStream),
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

// ANCHOR: connect
/// Resolves the target's host, connects to the first address that answers, and, for https,
/// runs the TLS handshake over that same TCP socket.
///
/// # Errors
/// Resolve (6), connect (7), timeout (28), TLS (35) and certificate (60) failures.
pub fn open(
    target: &Target,
    id: u32,
    family: Family,
    tls: Option<&Arc<rustls::ClientConfig>>,
    timeouts: Timeouts,
    wire: &Wire,
) -> anyhow::Result<Connection> {
    let resolved = resolve(target, &timeouts)?;
    if target.host.parse::<std::net::IpAddr>().is_err() {
        let list: Vec<String> = resolved.iter().map(|a| a.ip().to_string()).collect();
        wire.info(&format!("Host {} was resolved to {}", target.host, list.join(", ")));
    }
    // -4 / -6 keep one family.
    let addrs: Vec<SocketAddr> = resolved
        .into_iter()
        .filter(|a| match family {
            Family::Any => true,
            Family::V4 => a.is_ipv4(),
            Family::V6 => a.is_ipv6(),
        })
        .collect();
    if addrs.is_empty() {
        let want = if family == Family::V4 { "IPv4" } else { "IPv6" };
        return Err(fail(Kind::Resolve, format!("{} has no {want} address", target.host)));
    }
    let mut last_err = None;
    for addr in addrs {
        wire.info(&format!("  Trying {addr}..."));
        narrate!(wire.narrator, "socket({}, SOCK_STREAM)", common::narrate::family(addr.ip()));
        let wait = timeouts.next_wait(timeouts.connect)?;
        match TcpStream::connect_timeout(&addr, wait) {
            Ok(tcp) => {
                narrate!(wire.narrator, "connect({addr}) -> {}", common::narrate::fd(&tcp));
                // The request head goes out in one write, but a body may follow in a second:
                // without TCP_NODELAY, Nagle's algorithm would hold it back until the first
                // is acknowledged, and the server's delayed ACK can make that 40 ms.
                tcp.set_nodelay(true).context("could not set TCP_NODELAY")?;
                narrate!(wire.narrator, "setsockopt(IPPROTO_TCP, TCP_NODELAY, 1)");
                wire.info(&format!(
                    "Connected to {} ({}) port {} (#{id})",
                    target.host,
                    addr.ip(),
                    addr.port()
                ));
                let stream = match tls {
                    None => Stream::Plain(tcp),
                    Some(config) => handshake(tcp, target, config, &timeouts, wire)?,
                };
                return Ok(Connection {
                    stream,
                    origin: target.origin(),
                    id,
                    peer: addr,
                    buf: vec![0; READ_BUF_SIZE].into_boxed_slice(),
                    start: 0,
                    end: 0,
                    eof: false,
                    tls_unclean_close: false,
                    timeouts,
                    wire: wire.clone(),
                });
            }
            Err(err) => {
                wire.info(&format!("connect to {addr} failed: {err}"));
                last_err = Some((addr, err));
            }
        }
    }
    let (addr, err) = last_err.expect("at least one address was tried");
    let kind = match err.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => Kind::Timeout,
        _ => Kind::Connect,
    };
    Err(fail_because(kind, format!("could not connect to {addr}"), err))
}
// ANCHOR_END: connect

/// getaddrinfo(): a name may stand for several addresses, IPv6 and IPv4. The call has no
/// timeout of its own and a slow DNS server can make it block for many seconds, so a name is
/// resolved on a helper thread and we wait for it at most the connect timeout; a thread that
/// takes longer is left to finish on its own. A literal address needs no resolver.
fn resolve(target: &Target, timeouts: &Timeouts) -> anyhow::Result<Vec<SocketAddr>> {
    let resolved = |result: anyhow::Result<Vec<SocketAddr>>| {
        result.map_err(|e| fail(Kind::Resolve, format!("{e:#}")))
    };
    let (host, port) = (target.host.clone(), target.port);
    if host.parse::<std::net::IpAddr>().is_ok() {
        return resolved(common::host::resolve(&host, port));
    }
    let wait = timeouts.next_wait(timeouts.connect)?;
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(common::host::resolve(&host, port));
    });
    match rx.recv_timeout(wait) {
        Ok(result) => resolved(result),
        Err(_) => Err(timeouts.timeout_error(&format!("resolving {}", target.host), wait)),
    }
}

// ANCHOR: handshake
/// TLS is a layer over the socket we already have: the handshake is a few records sent and
/// received over the same TCP connection, and afterwards every `read`/`write` goes through the
/// TLS session, which encrypts into TLS records on the way out and decrypts on the way in.
fn handshake(
    mut tcp: TcpStream,
    target: &Target,
    config: &Arc<rustls::ClientConfig>,
    timeouts: &Timeouts,
    wire: &Wire,
) -> anyhow::Result<Stream> {
    // The name the certificate must carry; an IP literal is checked against the IP SANs.
    let name = ServerName::try_from(target.host.clone())
        .map_err(|e| fail(Kind::Tls, format!("{:?} is not a TLS server name: {e}", target.host)))?;
    let mut session = rustls::ClientConnection::new(Arc::clone(config), name)
        .map_err(|e| fail(kind_of_tls(&e), format!("could not start TLS: {e}")))?;
    let wait = timeouts.next_wait(timeouts.connect)?;
    tcp.set_read_timeout(Some(wait))?;
    tcp.set_write_timeout(Some(wait))?;
    wire.info("TLS handshake: ClientHello ->");
    while session.is_handshaking() {
        if let Err(err) = session.complete_io(&mut tcp) {
            // Whatever ends the handshake early (a close, a reset, an alert) is a TLS failure
            // (35), as curl counts it; only a certificate the check refused is 60.
            let what = match kind_of_io(&err) {
                Kind::Timeout => {
                    return Err(timeouts.timeout_error("in the TLS handshake", wait));
                }
                Kind::Certificate => Kind::Certificate,
                _ => Kind::Tls,
            };
            return Err(fail_because(
                what,
                format!("TLS handshake with {} failed", target.host),
                err,
            ));
        }
    }
    let version = session.protocol_version().map_or("?".into(), |v| format!("{v:?}"));
    let suite =
        session.negotiated_cipher_suite().map_or("?".into(), |s| format!("{:?}", s.suite()));
    wire.info(&format!("TLS connection using {version} / {suite}"));
    let alpn = session.alpn_protocol().map(String::from_utf8_lossy);
    wire.info(&format!("ALPN: server accepted {}", alpn.as_deref().unwrap_or("(none)")));
    Ok(Stream::Tls(Box::new(rustls::StreamOwned::new(session, tcp))))
}
// ANCHOR_END: handshake

impl Connection {
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
        let result = match &mut self.stream {
            Stream::Plain(tcp) => tcp.write_all(data),
            Stream::Tls(tls) => tls.write_all(data).and_then(|()| tls.flush()),
        };
        match result {
            Ok(()) => {
                narrate!(self.wire.narrator, "sendall({} bytes)", data.len());
                Ok(())
            }
            Err(e) if matches!(e.kind(), io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock) => {
                Err(self.timeouts.timeout_error("sending", wait))
            }
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
                narrate!(self.wire.narrator, "recv(non-blocking) -> EAGAIN (idle, reusable)");
                IdleState::Quiet
            }
            Ok(0) | Err(_) => {
                narrate!(self.wire.narrator, "recv(non-blocking) -> 0 bytes (peer closed)");
                self.eof = true;
                IdleState::Closed
            }
            Ok(n) => {
                narrate!(self.wire.narrator, "recv(non-blocking) -> {n} bytes (unasked for)");
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
        match result {
            Ok(n) => {
                let call =
                    if matches!(self.stream, Stream::Plain(_)) { "recv" } else { "tls read" };
                narrate!(self.wire.narrator, "{call}({}) -> {n} bytes", self.buf.len() - self.end);
                self.wire.received(&self.buf[self.end..self.end + n]);
                self.end += n;
                self.eof = n == 0;
                Ok(n)
            }
            Err(e) if matches!(e.kind(), io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock) => {
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
    // ANCHOR_END: fill

    /// Closes the connection; for TLS, says goodbye with a close_notify alert first.
    pub fn close(mut self) {
        if let Stream::Tls(tls) = &mut self.stream {
            tls.conn.send_close_notify();
            let _ = tls.conn.write_tls(&mut tls.sock);
        }
        narrate!(self.wire.narrator, "close({})", common::narrate::fd(self.stream.tcp()));
    }
}

/// The scheme decides whether a connection needs TLS.
pub fn needs_tls(target: &Target) -> bool {
    target.scheme == Scheme::Https
}
