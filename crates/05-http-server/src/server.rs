//! `serve`: the listening socket, a thread per connection, the limits, and a clean stop.
//!
//! **Why a thread per connection.** Each connection gets its own thread, blocking in `read`
//! and `write` like chapter 01's loop, so the request code reads top to bottom, timeouts are
//! the socket's own (`SO_RCVTIMEO`, `SO_SNDTIMEO`), and a large file goes out with
//! `sendfile`, waiting for the client as a `write` would (with `poll`, under the response's
//! deadline: see `send.rs`). A fixed pool of a few
//! threads would not do: HTTP/1.1 keeps connections open between requests, and eight browsers
//! holding their idle connections would hold all eight threads while a ninth client waited. So
//! the number of threads is bounded the way connections are, by `--max-connections` (a client
//! beyond it gets a 503 at once), and each thread's stack is small. Chapter 02's event loop
//! would hold idle connections more cheaply; measured here, a thread per connection keeps up
//! with nginx's event loop at 50 connections, and 500 idle ones slow nobody down (the book
//! page has the numbers).

use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread;
use std::time::Duration;

use anyhow::{Context, Result};
use ch01_echo::listen::ListenOptions;
use common::accept::AcceptPolicy;
use common::narrate;
use common::step;
use common::stop::Stop;
use common::text::plural;

use crate::config::{Config, DRAIN_TIMEOUT, THREAD_STACK};
use crate::files::Root;
use crate::response::{Status, end_head, error_page, header, start_head};
use crate::shared::{OpenConnections, Shared, Stats};

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
    // `0.0.0.0` and `::` are where we listen, not an address to browse: print a reachable one.
    let url_host = common::host::reachable(local);
    eprintln!("serving {} at http://{url_host}/", shared.root.path().display());
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
    // The listening socket: chapter 01's recipe (socket, SO_REUSEADDR, IPV6_V6ONLY off for
    // `::`, so that `-b ::` takes IPv4 clients too, as Python's http.server does, bind, listen).
    let addr = common::host::resolve(&config.host, config.port)?[0];
    let options = ListenOptions { backlog: config.backlog, reuse_address: true };
    let listener = ch01_echo::listen::listen(addr, &options, config.narrator)?;
    let shared = Arc::new(Shared {
        root,
        limits: config.limits,
        quiet: config.quiet,
        narrator: config.narrator,
        stop,
        stats: Stats::default(),
        open: OpenConnections::default(),
    });
    Ok((listener, shared))
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
        step!(n, &listener, "accept()");
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
        narrate!(n, (&listener, &stream), "accept() -> {}, peer {peer}", narrate::fd(&stream));
        if shared.open.len() >= shared.limits.max_connections {
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
    let stream = Arc::new(stream);
    let id = shared.open.insert(Arc::clone(&stream));
    shared.stats.connections.fetch_add(1, Ordering::Relaxed);
    let shared_for_thread = Arc::clone(shared);
    let started =
        thread::Builder::new().name("http".into()).stack_size(THREAD_STACK).spawn(move || {
            let shared = shared_for_thread;
            let n = shared.narrator;
            if let Err(e) = crate::connection::serve_connection(&stream, peer, &shared) {
                narrate!(n, &*stream, "connection on {}: {e}", narrate::fd(&*stream));
            }
            // The list of open connections holds a second handle: taken out, ours is the
            // last, so close() really closes the socket, and --kernel shows what is left.
            drop(shared.open.take(id));
            narrate::close(n, stream, "");
            shared.open.remove(id);
        });
    if let Err(e) = started {
        shared.open.remove(id);
        return Err(e);
    }
    Ok(())
}
// ANCHOR_END: start_connection

// ANCHOR: refuse
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
// ANCHOR_END: refuse

// ANCHOR: drain
/// Ctrl-C: let requests in flight finish, then close. `shutdown(Read)` wakes every thread
/// blocked waiting for a next request (its `read` returns end-of-stream) without touching a
/// response being written. Whatever is still running after [`DRAIN_TIMEOUT`] is cut with
/// `shutdown(Both)`.
fn drain(shared: &Shared) {
    let open = shared.open.lock();
    narrate!(shared.narrator, "stopping: {} connection(s) open, draining", open.len());
    // Said at once, without --trace: a download in flight can keep the server for a while.
    let busy = shared.stats.in_flight.load(Ordering::SeqCst);
    if busy > 0 {
        eprintln!(
            "stopping: waiting up to {} s for {} in flight (Ctrl-C again to stop now)",
            DRAIN_TIMEOUT.as_secs(),
            plural(busy as u64, "response")
        );
    }
    // (A `None` is a connection its own thread is closing.)
    for stream in open.values().flatten() {
        let _ = stream.shutdown(Shutdown::Read);
    }
    let open = shared.open.wait_all_closed(open, DRAIN_TIMEOUT);
    if !open.is_empty() {
        eprintln!(
            "stopping: cutting {} connection(s) still busy after {DRAIN_TIMEOUT:?}",
            open.len()
        );
        for stream in open.values().flatten() {
            let _ = stream.shutdown(Shutdown::Both);
        }
        drop(shared.open.wait_all_closed(open, Duration::from_secs(1)));
    }
}
// ANCHOR_END: drain
