//! `--mode threads`: a thread per connection, Python's `ThreadingTCPServer`.
//!
//! The accept loop is chapter 01's, except that it hands each connection to a new thread and
//! goes straight back to `accept()`. Each thread runs chapter 01's echo loop, blocking in
//! `recv` for its own client; the kernel's scheduler runs whichever thread has data. The code
//! stays simple and sequential. The price: a thread per client, each with a stack and a kernel
//! task, and a server that can only refuse when it has as many as it will run (`--max-conns`).

use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use anyhow::{Context, Result};
use ch01_echo::echo::{Tally, echo_until_closed};
use common::accept::AcceptPolicy;
use common::narrate;
use common::narrate::Narrator;
use common::step;
use common::stop::Stop;

use crate::shared::{Config, Stats};

/// Each thread's stack. Rust's default is 2 MiB of address space; an echo loop needs a few
/// KiB (its buffer is on the heap), so 64 KiB is plenty and keeps 10,000 threads affordable.
pub const THREAD_STACK: usize = 64 << 10;
/// Bytes asked for in each `recv`.
const READ_CHUNK: usize = 16 << 10;

// ANCHOR: accept_loop
/// Accepts clients and starts a thread for each, until `stop` triggers; then waits for every
/// thread to finish.
///
/// # Errors
/// When the listener's address cannot be read.
pub fn serve(
    listener: TcpListener,
    config: &Config,
    stop: &Arc<Stop>,
    stats: &Arc<Stats>,
) -> Result<()> {
    let n = config.narrator;
    let bound = listener.local_addr().context("could not read the bound address")?;
    // accept() blocks and a flag does not wake it: on stop, connect to ourselves.
    let _wake = stop.watch(move || common::stop::wake_accept(bound));
    let mut workers: Vec<JoinHandle<()>> = Vec::new();
    let mut accept_errors = AcceptPolicy::new(n);
    while !stop.is_stopping() {
        step!(n, &listener, "accept()");
        let (stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            // A client that gave up while queued: next. Out of file descriptors: the clients
            // wait in the kernel's queue while we pause, once said; retrying at once would spin.
            Err(e) => match accept_errors.recover(e) {
                Ok(()) => continue,
                Err(e) => return Err(e).context("accept failed"),
            },
        };
        // ANCHOR_END: accept_loop
        // ANCHOR: after_accept
        accept_errors.accepted();
        if stop.is_stopping() {
            common::stop::discard_woken(&stream); // The wake-up connection: no TIME_WAIT.
            break;
        }
        workers.retain(|worker| !worker.is_finished());
        workers.extend(admit(&listener, stream, peer, config, stop, stats));
    }
    narrate!(n, "stopping: waiting for {} thread(s)", workers.len());
    for worker in workers {
        let _ = worker.join();
    }
    Ok(())
}
// ANCHOR_END: after_accept

// ANCHOR: admit
/// Gives a newly accepted client its thread, or refuses it when `--max-conns` threads are
/// busy or the system will not start another. (`listener` is only for `--kernel`: the accept
/// line shows its queue next to the new connection.)
fn admit(
    listener: &TcpListener,
    stream: TcpStream,
    peer: SocketAddr,
    config: &Config,
    stop: &Arc<Stop>,
    stats: &Arc<Stats>,
) -> Option<JoinHandle<()>> {
    let n = config.narrator;
    if stats.full(config.max_conns) {
        stats.refused_one();
        narrate!(
            n,
            (listener, &stream),
            "accept() -> peer {peer}: refused, {} threads busy (--max-conns)",
            config.max_conns
        );
        return None; // Dropping the stream closes it: the client reads end-of-stream.
    }
    // ANCHOR_END: admit
    // ANCHOR: admit_serve
    narrate!(n, (listener, &stream), "accept() -> {}, peer {peer}", narrate::fd(&stream));
    stats.opened();
    // Small echoes should go out at once, not wait for Nagle's algorithm (as in poll mode).
    let _ = stream.set_nodelay(true);
    match spawn_worker(stream, stop, stats, n) {
        Ok(worker) => Some(worker),
        Err(e) => {
            // The system will not give us another thread (EAGAIN): refuse this client.
            eprintln!("could not start a thread for {peer}: {e}");
            stats.closed();
            stats.refused_one();
            None
        }
    }
}
// ANCHOR_END: admit_serve

// ANCHOR: worker
/// Starts the thread that serves one client with chapter 01's blocking echo loop,
/// [`echo_until_closed`].
fn spawn_worker(
    stream: TcpStream,
    stop: &Arc<Stop>,
    stats: &Arc<Stats>,
    n: Narrator,
) -> io::Result<JoinHandle<()>> {
    // Ctrl-C: shut the socket down, so this thread's blocked recv() returns. The stop and the
    // thread share the one socket (no dup(), so one descriptor per client, not two).
    let stream = Arc::new(stream);
    let watch = stop.watch({
        let stream = Arc::clone(&stream);
        move || {
            let _ = stream.shutdown(Shutdown::Both);
        }
    });
    // ANCHOR_END: worker
    // ANCHOR: worker_thread
    let stats = Arc::clone(stats);
    thread::Builder::new().name("echo".into()).stack_size(THREAD_STACK).spawn(move || {
        let fd = narrate::fd(&*stream);
        // Chapter 01's loop: recv, sendall, until the client closes. The tally counts what
        // was echoed even when the connection ends in an error. (`Read` and `Write` are
        // implemented for `&TcpStream`: a socket needs no exclusive access to be used.)
        let mut conn = Tally::new(&*stream);
        let mut buf = vec![0u8; READ_CHUNK];
        if let Err(e) = echo_until_closed(&mut conn, &mut buf, n) {
            narrate!(n, "connection on {fd}: {e}");
        }
        stats.echoed(conn.sent());
        // The stop's copy of the socket goes with its watch: ours is the last, and dropping it
        // (in narrate::close) closes the socket.
        drop(watch);
        narrate::close(n, stream, "");
        stats.closed();
    })
}
// ANCHOR_END: worker_thread
