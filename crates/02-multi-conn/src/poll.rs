//! `--mode poll`: one thread serves every client, with non-blocking sockets and an event loop.
//!
//! The loop asks the kernel one question, over and over: "which of my sockets can I use
//! without waiting?" (`poll`: epoll on Linux, kqueue on macOS). Then it does exactly that
//! much work on each ready socket, and asks again. No call ever blocks, so one slow client
//! cannot stop the others. What a blocking server keeps on its thread's stack, the loop keeps
//! in a `Connection` per client: the bytes received but not yet echoed.
//!
//! Interest is the lesson the tutorial's `selectors` server gets wrong. A socket is almost
//! always *writable* (its send buffer has room), so registering write interest all the time
//! makes `poll` return at once, forever: 100 % CPU with nothing to do. Here read interest is
//! always on (unless the client is too far behind, see below), and write interest is on
//! **only while output is pending**.
//!
//! Backpressure: a client that sends but never reads would make us buffer its echo without
//! end. When a connection's pending output reaches [`MAX_PENDING_OUTPUT`], we stop reading
//! from it until it drains; then the kernel's buffers fill, and TCP's flow control slows that
//! client down, and only that client.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use anyhow::{Context, Result};
use common::accept::{AcceptPolicy, AcceptStep};
use common::narrate;
use common::narrate::Narrator;
use common::step;
use common::stop::Stop;
use mio::event::Event;
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Registry, Token, Waker};

use crate::shared::{Config, Stats};
use crate::slots::Slots;
use common::narrate::would_block;

mod connection;

pub use connection::MAX_PENDING_OUTPUT;
use connection::{Connection, pump};

/// Bytes asked for in each `recv`.
const READ_CHUNK: usize = 64 << 10;
/// Events handled per `poll`: more are simply reported by the next one.
const EVENTS_CAPACITY: usize = 1024;

const LISTENER: Token = Token(0);
const WAKER: Token = Token(1);
/// Connection tokens start here: a connection's token is its slot number plus this.
const FIRST_CONNECTION: usize = 2;

// ANCHOR: serve
/// Serves every client from this one thread until `stop` triggers.
///
/// # Errors
/// When the poller cannot be created or `poll` itself fails.
pub fn serve(
    listener: std::net::TcpListener,
    config: &Config,
    stop: &Arc<Stop>,
    stats: &Stats,
) -> Result<()> {
    let n = config.narrator;
    listener.set_nonblocking(true).context("could not make the listener non-blocking")?;
    let mut listener = TcpListener::from_std(listener);
    let poll = Poll::new().context("could not create the poller (epoll/kqueue)")?;
    step!(n, &listener, "register(listener, READABLE)");
    poll.registry().register(&mut listener, LISTENER, Interest::READABLE)?;
    narrate!(n, &listener, "register(listener, READABLE)");
    // Ctrl-C arrives on another thread; the waker makes our poll() return.
    let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
    let _wake = stop.watch(move || {
        let _ = waker.wake();
    });
    // ANCHOR_END: serve
    // ANCHOR: serve_run
    let mut event_loop = EventLoop {
        listener,
        poll,
        conns: Slots::default(),
        scratch: vec![0u8; READ_CHUNK],
        accept_errors: AcceptPolicy::new(n),
        accept_again_at: None,
        config,
        stats,
    };
    event_loop.run(stop)?;
    event_loop.close_all();
    Ok(())
}
// ANCHOR_END: serve_run

// ANCHOR: event_loop_state
/// The event loop's state: what a thread-per-connection server keeps on its threads' stacks.
struct EventLoop<'a> {
    listener: TcpListener,
    poll: Poll,
    /// Every open connection, in a slot its token names.
    conns: Slots<Connection>,
    /// Where each `recv` lands before its bytes join a connection's output.
    scratch: Vec<u8>,
    accept_errors: AcceptPolicy,
    /// While out of file descriptors: when to try `accept` again.
    accept_again_at: Option<Instant>,
    config: &'a Config,
    stats: &'a Stats,
}
// ANCHOR_END: event_loop_state

impl EventLoop<'_> {
    // ANCHOR: event_loop
    // ANCHOR: event_loop_wait
    /// Waits until some sockets are ready, handles each event, and waits again, until `stop`.
    fn run(&mut self, stop: &Stop) -> Result<()> {
        let mut events = Events::with_capacity(EVENTS_CAPACITY);
        while !stop.is_stopping() {
            // Block until something is ready: no busy loop, 0 % CPU when idle.
            let timeout =
                self.accept_again_at.map(|at| at.saturating_duration_since(Instant::now()));
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e).context("poll failed"),
            }
            // ANCHOR_END: event_loop_wait
            if self.accept_again_at.is_some_and(|at| Instant::now() >= at) {
                // The back-off is over: accept what queued up meanwhile (or back off again).
                self.accept_all().context("accept failed")?;
            }
            // ANCHOR: event_loop_dispatch
            for event in events.iter() {
                match event.token() {
                    LISTENER if self.accept_again_at.is_none() => {
                        self.accept_all().context("accept failed")?;
                    }
                    LISTENER | WAKER => {}
                    Token(token) => self.ready(token - FIRST_CONNECTION, event),
                }
            }
        }
        Ok(())
    }
    // ANCHOR_END: event_loop_dispatch
    // ANCHOR_END: event_loop

    // ANCHOR: accept_all
    /// Accepts every connection waiting in the queue. The listener is edge-triggered: one event
    /// may stand for many clients, so we accept until `WouldBlock` says the queue is empty.
    /// Sets when to try again, if descriptors ran out.
    ///
    /// # Errors
    /// When the listener itself is broken (see `common::accept`).
    fn accept_all(&mut self) -> io::Result<()> {
        let n = self.config.narrator;
        self.accept_again_at = None;
        loop {
            step!(n, &self.listener, "accept()");
            let (stream, peer) = match self.listener.accept() {
                Ok(accepted) => accepted,
                // WouldBlock: the queue is empty. A client that gave up while queued: next. Out of
                // file descriptors: the clients stay queued in the kernel; stop accepting until the
                // back-off timer, instead of spinning on an error that will repeat.
                Err(e) => match self.accept_errors.after_error(&e) {
                    AcceptStep::WaitForReadiness => {
                        would_block(n, &self.listener, || "accept()".to_owned(), "queue empty");
                        return Ok(());
                    }
                    AcceptStep::AcceptAgain => continue,
                    AcceptStep::BackOff(pause) => {
                        self.accept_again_at = Some(Instant::now() + pause);
                        return Ok(());
                    }
                    AcceptStep::GiveUp => return Err(e),
                },
            };
            // ANCHOR_END: accept_all
            // ANCHOR: refuse
            self.accept_errors.accepted();
            if self.stats.full(self.config.max_conns) {
                // Refuse politely: accept and close at once, so the client hears a clean FIN.
                self.stats.refused_one();
                narrate!(
                    n,
                    (&self.listener, &stream),
                    "accept() -> {}, peer {peer}: refused, {} open (--max-conns)",
                    narrate::fd(&stream),
                    self.config.max_conns
                );
                continue;
            }
            self.admit(stream, peer);
        }
    }
    // ANCHOR_END: refuse

    // ANCHOR: admit
    /// Keeps a new connection in a slot and registers it for reading: nothing is pending yet,
    /// so there is nothing to write.
    fn admit(&mut self, stream: TcpStream, peer: SocketAddr) {
        let n = self.config.narrator;
        // Small echoes should go out at once, not wait for Nagle's algorithm.
        let _ = stream.set_nodelay(true);
        let conn = Connection {
            stream,
            peer,
            out: Vec::new(),
            sent: 0,
            interest: Interest::READABLE,
            peer_closed: false,
        };
        let slot = self.conns.insert(conn);
        let token = Token(slot + FIRST_CONNECTION);
        let Some(conn) = self.conns.get(slot) else { return };
        if let Err(e) = self.poll.registry().register(&mut conn.stream, token, Interest::READABLE) {
            eprintln!("could not register {peer}: {e}");
            self.conns.remove(slot);
            return;
        }
        self.stats.opened();
        let fd = || narrate::fd(&conn.stream);
        narrate!(
            n,
            (&self.listener, &conn.stream),
            "accept() -> {}, peer {peer}; register({}, READABLE)",
            fd(),
            fd()
        );
    }
    // ANCHOR_END: admit

    // ANCHOR: ready
    /// One connection's event: move it forward, and close it when it is done or broken.
    fn ready(&mut self, slot: usize, event: &Event) {
        let n = self.config.narrator;
        let Some(conn) = self.conns.get(slot) else { return };
        // A plain "readable" lets pump stop at a short read; an event that also says "closed" or
        // "error" (or only "writable") must be worked to WouldBlock.
        let plain_read = event.is_readable() && !event.is_read_closed() && !event.is_error();
        let token = Token(slot + FIRST_CONNECTION);
        let registry = self.poll.registry();
        let keep = match pump(conn, token, registry, &mut self.scratch, plain_read, self.stats, n) {
            // Done when the client has closed and its echo is all sent.
            Ok(()) => conn.wanted_interest().is_some(),
            // A reset or the like: that connection is over, the others go on.
            Err(e) => {
                narrate!(n, "connection {}: {e}", conn.peer);
                false
            }
        };
        if !keep {
            close(self.conns.remove(slot), registry, self.stats, n);
        }
    }
    // ANCHOR_END: ready

    /// Ctrl-C: closes every connection still open.
    fn close_all(&mut self) {
        let n = self.config.narrator;
        let open = self.stats.live.load(Ordering::Relaxed);
        narrate!(n, "stopping: closing {open} connection(s)");
        for conn in self.conns.drain() {
            close(Some(conn), self.poll.registry(), self.stats, n);
        }
    }
}

/// Deregisters and closes a connection. (On Linux closing alone would do, but mio asks for a
/// deregister first, and other pollers need it.)
fn close(conn: Option<Connection>, registry: &Registry, stats: &Stats, n: Narrator) {
    if let Some(mut conn) = conn {
        let _ = registry.deregister(&mut conn.stream);
        // Built only when narrating: closing is on the busy path of a server with many clients.
        let note = if n.is_on() { format!(" peer {}", conn.peer) } else { String::new() };
        narrate::close(n, conn.stream, &note);
        stats.closed();
    }
}
