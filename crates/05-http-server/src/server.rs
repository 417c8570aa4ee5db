//! `serve`: the listening socket, a thread per connection, the limits, and a clean stop.
//!
//! **Why a thread per connection.** Each connection gets its own thread, blocking in `read`
//! and `write` like chapter 01's loop, so the request code reads top to bottom, timeouts are
//! the socket's own (`SO_RCVTIMEO`, `SO_SNDTIMEO`), and a large file goes out with
//! `sendfile`, waiting for the client as a `write` would (with `poll`, under the response's
//! deadline: see `connection.rs`). A fixed pool of a few
//! threads would not do: HTTP/1.1 keeps connections open between requests, and eight browsers
//! holding their idle connections would hold all eight threads while a ninth client waited. So
//! the number of threads is bounded the way connections are, by `--max-connections` (a client
//! beyond it gets a 503 at once), and each thread's stack is small. Chapter 02's event loop
//! would hold idle connections more cheaply; measured here, a thread per connection keeps up
//! with nginx's event loop at 50 connections, and 500 idle ones slow nobody down (the book
//! page has the numbers).

use std::collections::HashMap;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use common::accept::AcceptPolicy;
use common::narrate;
use common::narrate::Narrator;
use common::stop::Stop;
use common::text::human_bytes;
use socket2::{Domain, Protocol, Socket, Type};

use crate::files::Root;
use crate::request::ReadLimits;
use crate::response::{Status, end_head, error_page, header, start_head};

/// The tutorial's port for its HTTP server.
pub const DEFAULT_PORT: u16 = 9990;
/// `listen()` backlog: handshakes the kernel completes before we accept them (wrk opens 50
/// at once, a browser six per host).
pub const DEFAULT_BACKLOG: i32 = 1024;

// ANCHOR: limits
/// Request line plus headers, in bytes: 8 KiB, nginx's buffer for them. A head that does not
/// fit is refused (414 or 431), so a client cannot make us buffer without end.
pub const MAX_HEAD: usize = 8 << 10;
/// Header lines per request; real browsers send about 15. More is 431.
pub const MAX_HEADERS: usize = 100;
/// From the first byte of a request head to its blank line. A client slower than this (a
/// slowloris, holding the connection one byte at a time) gets 408 and is closed.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a kept-alive connection may sit idle before its next request. Browsers reuse a
/// connection within seconds; an idle one costs a thread here.
pub const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a response may wait for a client that reads nothing at all, and the fixed part of
/// every response's send deadline (see [`MIN_SEND_RATE`]).
pub const SEND_TIMEOUT: Duration = Duration::from_secs(30);
/// Bytes per second the slowest client we still serve reads at: a response of `n` bytes must
/// be sent within `SEND_TIMEOUT + n / MIN_SEND_RATE`, or it is cut off. A timeout per `write`
/// alone would not do: a client that reads a few bytes now and then makes every write succeed
/// and holds the connection forever. 64 KiB/s is a poor mobile link.
pub const MIN_SEND_RATE: u64 = 64 << 10;
/// Connections served at once, each with a thread. One more gets `503` and is closed.
pub const MAX_CONNECTIONS: usize = 1024;
/// A request body this server reads and drops (a `GET` with a small body, a `POST` it refuses)
/// to keep the connection; a larger one gets 413 (or 405) and the connection is closed.
pub const MAX_BODY: u64 = 64 << 10;
/// On Ctrl-C, how long requests in flight may take to finish before their connections are cut.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Each connection thread's stack. Its buffers are on the heap; 256 KiB is ample, and 1024
/// threads then reserve 256 MiB of address space, of which they touch a few pages each.
pub const THREAD_STACK: usize = 256 << 10;
// ANCHOR_END: limits

/// The limits, all of which are command-line flags.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// See [`MAX_HEAD`].
    pub max_head: usize,
    /// See [`MAX_HEADERS`].
    pub max_headers: usize,
    /// See [`HEADER_TIMEOUT`].
    pub header_timeout: Duration,
    /// See [`KEEP_ALIVE_TIMEOUT`].
    pub keep_alive_timeout: Duration,
    /// See [`SEND_TIMEOUT`].
    pub send_timeout: Duration,
    /// See [`MIN_SEND_RATE`].
    pub min_send_rate: u64,
    /// See [`MAX_CONNECTIONS`].
    pub max_connections: usize,
    /// See [`MAX_BODY`].
    pub max_body: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_head: MAX_HEAD,
            max_headers: MAX_HEADERS,
            header_timeout: HEADER_TIMEOUT,
            keep_alive_timeout: KEEP_ALIVE_TIMEOUT,
            send_timeout: SEND_TIMEOUT,
            min_send_rate: MIN_SEND_RATE,
            max_connections: MAX_CONNECTIONS,
            max_body: MAX_BODY,
        }
    }
}

/// Everything `serve` needs, from the command line.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to bind (literal or name).
    pub host: String,
    /// Port; 0 lets the kernel pick.
    pub port: u16,
    /// The folder to serve.
    pub root: PathBuf,
    /// Serve files whose real path is outside the root (through symlinks).
    pub follow_symlinks: bool,
    /// No access log.
    pub quiet: bool,
    /// `listen()` backlog.
    pub backlog: i32,
    /// The limits.
    pub limits: Limits,
    /// Narration (`--trace`).
    pub narrator: Narrator,
}

/// Counters for the summary line.
#[derive(Debug, Default)]
pub struct Stats {
    /// Connections accepted and served.
    pub connections: AtomicU64,
    /// Requests answered (including errors).
    pub requests: AtomicU64,
    /// Bytes sent, heads and bodies.
    pub bytes: AtomicU64,
    /// Connections turned away with 503 (`--max-connections`).
    pub refused: AtomicU64,
    /// Requests being answered right now, for the stop's "waiting for" line.
    pub in_flight: AtomicUsize,
}

impl std::fmt::Display for Stats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let plural = |n: u64| if n == 1 { "" } else { "s" };
        let connections = self.connections.load(Ordering::Relaxed);
        let requests = self.requests.load(Ordering::Relaxed);
        write!(
            f,
            "served {requests} request{} on {connections} connection{}, sent {}",
            plural(requests),
            plural(connections),
            human_bytes(self.bytes.load(Ordering::Relaxed))
        )?;
        match self.refused.load(Ordering::Relaxed) {
            0 => Ok(()),
            n => write!(f, ", refused {n} (--max-connections)"),
        }
    }
}

/// What every connection thread shares.
pub struct Shared {
    /// The served folder.
    pub root: Root,
    /// The limits.
    pub limits: Limits,
    /// No access log.
    pub quiet: bool,
    /// Narration.
    pub narrator: Narrator,
    /// Ctrl-C.
    pub stop: Arc<Stop>,
    /// Counters.
    pub stats: Stats,
    /// The open connections, so a stop can wake and, if need be, cut them.
    open: Mutex<HashMap<u64, Arc<TcpStream>>>,
    /// Notified whenever a connection closes, for the drain.
    closed: Condvar,
    next_id: AtomicUsize,
}

impl Shared {
    /// The limits the request reader enforces.
    pub fn read_limits(&self) -> ReadLimits {
        ReadLimits {
            max_head: self.limits.max_head,
            max_headers: self.limits.max_headers,
            header_timeout: self.limits.header_timeout,
            keep_alive_timeout: self.limits.keep_alive_timeout,
        }
    }

    fn open(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<TcpStream>>> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

// ANCHOR: listen
/// The listening socket, built call by call as in chapter 01.
///
/// # Errors
/// When the host does not resolve, or `bind`/`listen` fail.
pub fn listen(host: &str, port: u16, backlog: i32, n: Narrator) -> Result<TcpListener> {
    let addr: SocketAddr = common::host::resolve(host, port)?[0];
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
        .context("could not create a socket")?;
    narrate!(
        n,
        "socket({}, SOCK_STREAM) -> {}",
        common::narrate::family(addr.ip()),
        common::narrate::fd(&socket)
    );
    socket.set_reuse_address(true).context("could not set SO_REUSEADDR")?;
    narrate!(n, "setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)");
    if addr.is_ipv6() && addr.ip().is_unspecified() {
        // `::` then takes IPv4 clients too (as ::ffff:a.b.c.d), like Python's http.server
        // with `--bind ::`.
        socket.set_only_v6(false).context("could not clear IPV6_V6ONLY")?;
        narrate!(n, "setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 0)");
    }
    socket.bind(&addr.into()).with_context(|| format!("could not bind {addr}"))?;
    narrate!(n, "bind({addr})");
    socket.listen(backlog).with_context(|| format!("could not listen on {addr}"))?;
    narrate!(n, "listen(backlog={backlog})");
    Ok(socket.into())
}
// ANCHOR_END: listen

/// The `serve` command: listen, announce, serve until Ctrl-C, drain, print a summary.
///
/// # Errors
/// When the folder cannot be opened or the listening socket cannot be set up.
pub fn run(config: Config) -> Result<()> {
    let stop = Stop::new();
    let (listener, shared) = prepare(&config, Arc::clone(&stop))?;
    // A second Ctrl-C exits at once, and still says what was served.
    let for_summary = Arc::clone(&shared);
    stop.trigger_on_ctrl_c_then(move || {
        eprintln!("server stopped at once: {}", for_summary.stats);
    })?;
    let local = listener.local_addr().context("could not read the bound address")?;
    println!("listening on {local}");
    eprintln!("serving {} at http://{}/", shared.root.path().display(), url_host(local));
    serve(listener, &shared)?;
    eprintln!("server stopped: {}", shared.stats);
    Ok(())
}

/// Opens the folder, raises the open-files limit and listens: everything before `serve`.
///
/// # Errors
/// When the folder cannot be opened or the listening socket cannot be set up.
pub fn prepare(config: &Config, stop: Arc<Stop>) -> Result<(TcpListener, Arc<Shared>)> {
    // Formatted into a plain message: the I/O error's generic hint is about sockets.
    let root = Root::open(&config.root, config.follow_symlinks).map_err(|e| {
        anyhow::anyhow!("could not serve the folder {}: {e}", config.root.display())
    })?;
    // Each connection is a descriptor, and so is each file being sent: 1024 connections need
    // more than the usual soft limit of 1024.
    if let Ok(raised) = rlimit::increase_nofile_limit(u64::MAX) {
        narrate!(config.narrator, "setrlimit(RLIMIT_NOFILE, {raised})");
    }
    let listener = listen(&config.host, config.port, config.backlog, config.narrator)?;
    let shared = Arc::new(Shared {
        root,
        limits: config.limits,
        quiet: config.quiet,
        narrator: config.narrator,
        stop,
        stats: Stats::default(),
        open: Mutex::new(HashMap::new()),
        closed: Condvar::new(),
        next_id: AtomicUsize::new(0),
    });
    Ok((listener, shared))
}

/// `127.0.0.1:9990`, or `[::1]:9990`, for the `serving ... at http://...` line.
fn url_host(addr: SocketAddr) -> SocketAddr {
    common::host::reachable(addr)
}

// ANCHOR: accept_loop
/// Accepts connections and starts a thread for each, until the stop triggers; then drains.
///
/// # Errors
/// When the listener's address cannot be read.
pub fn serve(listener: TcpListener, shared: &Arc<Shared>) -> Result<()> {
    let n = shared.narrator;
    let bound = listener.local_addr().context("could not read the bound address")?;
    // accept() blocks, and a flag does not wake it: on stop, connect to ourselves.
    let _wake = shared.stop.watch(move || common::stop::wake_accept(bound));
    let mut accept_errors = AcceptPolicy::new(n);
    while !shared.stop.is_stopping() {
        let (stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            // A client that gave up while queued (ECONNABORTED): next. Out of descriptors
            // (EMFILE): the queued clients wait while we pause, instead of spinning.
            Err(e) => match accept_errors.recover(e) {
                Ok(()) => continue,
                Err(e) => {
                    drain(shared);
                    return Err(e).context("accept failed");
                }
            },
        };
        accept_errors.accepted();
        if shared.stop.is_stopping() {
            common::stop::discard_woken(&stream);
            break;
        }
        narrate!(n, "accept() -> {}, peer {peer}", common::narrate::fd(&stream));
        if shared.open().len() >= shared.limits.max_connections {
            refuse(stream, shared);
            continue;
        }
        if let Err(e) = start_connection(stream, peer, shared) {
            eprintln!("could not start a thread for {peer}: {e}");
        }
    }
    drain(shared);
    Ok(())
}
// ANCHOR_END: accept_loop

/// Every slot is taken: say so with a 503 and close. Written without reading the request (a
/// thread to read it is exactly what we do not have); `shutdown(Write)` sends our FIN after
/// the response, so the client reads the whole 503 before end-of-stream.
fn refuse(stream: TcpStream, shared: &Shared) {
    shared.stats.refused.fetch_add(1, Ordering::Relaxed);
    let mut out = Vec::new();
    let page = error_page(Status::SERVICE_UNAVAILABLE, "Too many connections; try again soon.");
    start_head(&mut out, Status::SERVICE_UNAVAILABLE);
    header(&mut out, "Content-Type", "text/html; charset=utf-8");
    header(&mut out, "Content-Length", page.len());
    header(&mut out, "Retry-After", 1);
    end_head(&mut out, false, false);
    out.extend_from_slice(page.as_bytes());
    let _ = stream.set_write_timeout(Some(Duration::from_millis(100)));
    let _ = std::io::Write::write_all(&mut &stream, &out);
    let _ = stream.shutdown(Shutdown::Write);
}

// ANCHOR: start_connection
/// Registers the connection and starts its thread.
fn start_connection(
    stream: TcpStream,
    peer: SocketAddr,
    shared: &Arc<Shared>,
) -> std::io::Result<()> {
    // Small responses should leave at once, not wait for Nagle's algorithm to collect more:
    // with a head written first and a file after it, Nagle plus the client's delayed ACK would
    // cost 40 ms per response.
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(shared.limits.keep_alive_timeout))?;
    stream.set_write_timeout(Some(shared.limits.send_timeout))?;
    let id = shared.next_id.fetch_add(1, Ordering::Relaxed) as u64;
    let stream = Arc::new(stream);
    shared.open().insert(id, Arc::clone(&stream));
    shared.stats.connections.fetch_add(1, Ordering::Relaxed);
    let shared_for_thread = Arc::clone(shared);
    let started =
        thread::Builder::new().name("http".into()).stack_size(THREAD_STACK).spawn(move || {
            let shared = shared_for_thread;
            let fd = common::narrate::fd(&*stream);
            if let Err(e) = crate::connection::serve_connection(&stream, peer, &shared) {
                narrate!(shared.narrator, "connection on {fd}: {e}");
            }
            narrate!(shared.narrator, "close({fd})");
            drop(stream);
            shared.open().remove(&id);
            shared.closed.notify_all();
        });
    if let Err(e) = started {
        shared.open().remove(&id);
        return Err(e);
    }
    Ok(())
}
// ANCHOR_END: start_connection

// ANCHOR: drain
/// Ctrl-C: let requests in flight finish, then close. `shutdown(Read)` wakes every thread
/// blocked waiting for a next request (its `read` returns end-of-stream) without touching a
/// response being written. Whatever is still running after [`DRAIN_TIMEOUT`] is cut with
/// `shutdown(Both)`.
fn drain(shared: &Shared) {
    let mut open = shared.open();
    narrate!(shared.narrator, "stopping: {} connection(s) open, draining", open.len());
    // Said at once, without --trace: a download in flight can keep the server for a while.
    let busy = shared.stats.in_flight.load(Ordering::SeqCst);
    if busy > 0 {
        eprintln!(
            "stopping: waiting up to {} s for {busy} response{} in flight (Ctrl-C again to stop \
             now)",
            DRAIN_TIMEOUT.as_secs(),
            if busy == 1 { "" } else { "s" }
        );
    }
    for stream in open.values() {
        let _ = stream.shutdown(Shutdown::Read);
    }
    let deadline = Instant::now() + DRAIN_TIMEOUT;
    while !open.is_empty() {
        let Some(left) = deadline.checked_duration_since(Instant::now()) else { break };
        open = shared.closed.wait_timeout(open, left).unwrap_or_else(PoisonError::into_inner).0;
    }
    if !open.is_empty() {
        eprintln!(
            "stopping: cutting {} connection(s) still busy after {DRAIN_TIMEOUT:?}",
            open.len()
        );
        for stream in open.values() {
            let _ = stream.shutdown(Shutdown::Both);
        }
        let deadline = Instant::now() + Duration::from_secs(1);
        while !open.is_empty() {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else { break };
            open = shared.closed.wait_timeout(open, left).unwrap_or_else(PoisonError::into_inner).0;
        }
    }
}
// ANCHOR_END: drain
