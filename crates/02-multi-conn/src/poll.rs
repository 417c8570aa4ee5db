//! `--mode poll`: one thread serves every client, with non-blocking sockets and an event loop.
//!
//! The loop asks the kernel one question, over and over: "which of my sockets can I use
//! without waiting?" (`poll`: epoll on Linux, kqueue on macOS). Then it does exactly that
//! much work on each ready socket, and asks again. No call ever blocks, so one slow client
//! cannot stop the others. What a blocking server keeps on its thread's stack, the loop keeps
//! in a [`Connection`] per client: the bytes received but not yet echoed.
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

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use anyhow::{Context, Result};
use common::accept::{AcceptPolicy, AcceptStep};
use common::narrate;
use common::narrate::Narrator;
use common::stop::Stop;
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Registry, Token, Waker};

use crate::server::{Config, Stats};

/// Pending output per connection before we stop reading from it: a slow reader costs us at
/// most this much memory (plus one read).
pub const MAX_PENDING_OUTPUT: usize = 256 << 10;
/// Bytes asked for in each `recv`.
const READ_CHUNK: usize = 64 << 10;
/// An emptied output buffer larger than this is freed rather than kept for the next echo.
const IDLE_BUFFER_KEEP: usize = 16 << 10;
/// Events handled per `poll`: more are simply reported by the next one.
const EVENTS_CAPACITY: usize = 1024;

const LISTENER: Token = Token(0);
const WAKER: Token = Token(1);
/// Connection tokens start here: a connection's token is its slot number plus this.
const FIRST_CONNECTION: usize = 2;

// ANCHOR: connection
/// What the event loop remembers about one client.
struct Connection {
    stream: TcpStream,
    peer: SocketAddr,
    /// Echo bytes not yet sent: `out[sent..]`.
    out: Vec<u8>,
    sent: usize,
    /// The interest currently registered, to re-register only when it changes.
    interest: Interest,
    /// The client closed its sending side (`recv` returned 0): send what is left, then close.
    peer_closed: bool,
}

impl Connection {
    fn pending(&self) -> usize {
        self.out.len() - self.sent
    }

    /// What to ask `poll` about: reading unless the client is too far behind (or done
    /// sending), writing only while there is something to write.
    fn wanted_interest(&self) -> Option<Interest> {
        let read = !self.peer_closed && self.pending() < MAX_PENDING_OUTPUT;
        let write = self.pending() > 0;
        match (read, write) {
            (true, true) => Some(Interest::READABLE | Interest::WRITABLE),
            (true, false) => Some(Interest::READABLE),
            (false, true) => Some(Interest::WRITABLE),
            (false, false) => None, // Nothing left to do: close.
        }
    }
}
// ANCHOR_END: connection

/// The connections, in slots reused as clients come and go (a token names a slot).
#[derive(Default)]
struct Slots {
    slots: Vec<Option<Connection>>,
    free: Vec<usize>,
}

impl Slots {
    fn insert(&mut self, conn: Connection) -> usize {
        match self.free.pop() {
            Some(slot) => {
                self.slots[slot] = Some(conn);
                slot
            }
            None => {
                self.slots.push(Some(conn));
                self.slots.len() - 1
            }
        }
    }

    fn get(&mut self, slot: usize) -> Option<&mut Connection> {
        self.slots.get_mut(slot).and_then(Option::as_mut)
    }

    fn remove(&mut self, slot: usize) -> Option<Connection> {
        let conn = self.slots.get_mut(slot)?.take()?;
        self.free.push(slot);
        Some(conn)
    }

    fn drain(&mut self) -> impl Iterator<Item = Connection> + '_ {
        self.free.clear();
        self.slots.drain(..).flatten()
    }
}

// ANCHOR: event_loop
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
    let mut poll = Poll::new().context("could not create the poller (epoll/kqueue)")?;
    poll.registry().register(&mut listener, LISTENER, Interest::READABLE)?;
    narrate!(n, "register(listener, READABLE)");
    // Ctrl-C arrives on another thread; the waker makes our poll() return.
    let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
    let _wake = stop.watch(move || {
        let _ = waker.wake();
    });

    let mut events = Events::with_capacity(EVENTS_CAPACITY);
    let mut conns = Slots::default();
    let mut scratch = vec![0u8; READ_CHUNK];
    let mut accept_again_at: Option<Instant> = None;
    let mut accept_errors = AcceptPolicy::new(n);
    while !stop.is_stopping() {
        // Block until something is ready: no busy loop, 0 % CPU when idle.
        let timeout = accept_again_at.map(|at| at.saturating_duration_since(Instant::now()));
        match poll.poll(&mut events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).context("poll failed"),
        }
        if accept_again_at.is_some_and(|at| Instant::now() >= at) {
            // The back-off is over: accept what queued up meanwhile (or back off again).
            accept_again_at = accept_all(
                &listener,
                poll.registry(),
                &mut conns,
                &mut accept_errors,
                config,
                stats,
            )
            .context("accept failed")?;
        }
        for event in events.iter() {
            match event.token() {
                LISTENER if accept_again_at.is_none() => {
                    accept_again_at = accept_all(
                        &listener,
                        poll.registry(),
                        &mut conns,
                        &mut accept_errors,
                        config,
                        stats,
                    )
                    .context("accept failed")?;
                }
                LISTENER | WAKER => {}
                Token(token) => {
                    let slot = token - FIRST_CONNECTION;
                    let Some(conn) = conns.get(slot) else { continue };
                    // A plain "readable" lets pump stop at a short read; an event that also says
                    // "closed" or "error" (or only "writable") must be worked to WouldBlock.
                    let plain_read =
                        event.is_readable() && !event.is_read_closed() && !event.is_error();
                    let token = Token(token);
                    let keep = match pump(
                        conn,
                        token,
                        poll.registry(),
                        &mut scratch,
                        plain_read,
                        stats,
                        n,
                    ) {
                        // Done when the client has closed and its echo is all sent.
                        Ok(()) => conn.wanted_interest().is_some(),
                        // A reset or the like: that connection is over, the others go on.
                        Err(e) => {
                            narrate!(n, "connection {}: {e}", conn.peer);
                            false
                        }
                    };
                    if !keep {
                        close(conns.remove(slot), poll.registry(), stats, n);
                    }
                }
            }
        }
    }
    let open = stats.live.load(Ordering::Relaxed);
    narrate!(n, "stopping: closing {open} connection(s)");
    for conn in conns.drain() {
        close(Some(conn), poll.registry(), stats, n);
    }
    Ok(())
}
// ANCHOR_END: event_loop

// ANCHOR: accept_all
/// Accepts every connection waiting in the queue. The listener is edge-triggered: one event
/// may stand for many clients, so we accept until `WouldBlock` says the queue is empty.
/// Returns when to try again, if descriptors ran out.
///
/// # Errors
/// When the listener itself is broken (see `common::accept`).
fn accept_all(
    listener: &TcpListener,
    registry: &Registry,
    conns: &mut Slots,
    accept_errors: &mut AcceptPolicy,
    config: &Config,
    stats: &Stats,
) -> io::Result<Option<Instant>> {
    let n = config.narrator;
    loop {
        let (stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            // WouldBlock: the queue is empty. A client that gave up while queued: next. Out of
            // file descriptors: the clients stay queued in the kernel; stop accepting until the
            // back-off timer, instead of spinning on an error that will repeat.
            Err(e) => match accept_errors.after_error(&e) {
                AcceptStep::WaitForReadiness => return Ok(None),
                AcceptStep::AcceptAgain => continue,
                AcceptStep::BackOff(pause) => return Ok(Some(Instant::now() + pause)),
                AcceptStep::GiveUp => return Err(e),
            },
        };
        accept_errors.accepted();
        if stats.live.load(Ordering::Relaxed) >= config.max_conns {
            // Refuse politely: accept and close at once, so the client hears a clean FIN.
            stats.refused.fetch_add(1, Ordering::Relaxed);
            narrate!(
                n,
                "accept() -> {}, peer {peer}: refused, {} open (--max-conns)",
                common::narrate::fd(&stream),
                config.max_conns
            );
            continue;
        }
        // Small echoes should go out at once, not wait for Nagle's algorithm.
        let _ = stream.set_nodelay(true);
        let fd = common::narrate::fd(&stream);
        let conn = Connection {
            stream,
            peer,
            out: Vec::new(),
            sent: 0,
            interest: Interest::READABLE,
            peer_closed: false,
        };
        let slot = conns.insert(conn);
        let token = Token(slot + FIRST_CONNECTION);
        let Some(conn) = conns.get(slot) else { continue };
        if let Err(e) = registry.register(&mut conn.stream, token, Interest::READABLE) {
            eprintln!("could not register {peer}: {e}");
            conns.remove(slot);
            continue;
        }
        stats.opened();
        narrate!(n, "accept() -> {fd}, peer {peer}; register({fd}, READABLE)");
    }
}
// ANCHOR_END: accept_all

// ANCHOR: pump
/// Does all the work a ready connection allows: send pending echo, read what has arrived
/// (while under the backpressure limit), send again, then register the interest that fits.
/// Readiness is edge-triggered, so each direction is worked until `WouldBlock`, or until a
/// short read when `plain_read` says the event reported new data and nothing else.
fn pump(
    conn: &mut Connection,
    token: Token,
    registry: &Registry,
    scratch: &mut [u8],
    plain_read: bool,
    stats: &Stats,
    n: Narrator,
) -> io::Result<()> {
    flush(conn, n)?;
    while !conn.peer_closed && conn.pending() < MAX_PENDING_OUTPUT {
        match conn.stream.read(scratch) {
            Ok(0) => {
                narrate!(n, "recv({}) -> 0 bytes (peer closed)", common::narrate::fd(&conn.stream));
                conn.peer_closed = true;
            }
            Ok(received) => {
                narrate!(n, "recv({}) -> {received} bytes", common::narrate::fd(&conn.stream));
                stats.bytes.fetch_add(received as u64, Ordering::Relaxed);
                conn.out.extend_from_slice(&scratch[..received]);
                flush(conn, n)?;
                // A short read means the receive buffer is empty right now (epoll(7) says so for
                // stream sockets), and data arriving later raises a new edge: stop here instead
                // of paying one more recv() just to hear WouldBlock. Not when the event also
                // reported the peer's FIN: that was already queued behind the data, no new edge
                // will announce it, and only reading on finds it (recv() returning 0).
                if plain_read && received < scratch.len() {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    if let Some(wanted) = conn.wanted_interest() {
        if wanted != conn.interest {
            registry.reregister(&mut conn.stream, token, wanted)?;
            narrate!(
                n,
                "reregister({}, {wanted:?}) ({} bytes pending)",
                common::narrate::fd(&conn.stream),
                conn.pending()
            );
            conn.interest = wanted;
        }
    }
    Ok(())
}

/// Sends pending output until it is all gone or the socket's send buffer is full. A `send`
/// on a non-blocking socket takes what fits and returns: a partial write is normal here.
fn flush(conn: &mut Connection, n: Narrator) -> io::Result<()> {
    while conn.pending() > 0 {
        match conn.stream.write(&conn.out[conn.sent..]) {
            Ok(written) => {
                narrate!(
                    n,
                    "send({}, {} bytes) -> {written}",
                    common::narrate::fd(&conn.stream),
                    conn.pending()
                );
                let short = written < conn.pending();
                conn.sent += written;
                // A short send means the send buffer is full: the next send would only say
                // WouldBlock. Write interest (set by pump) reports when there is room again.
                if short {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    if conn.pending() == 0 {
        conn.sent = 0;
        // An idle connection should not keep the buffer a burst made it grow: free it.
        if conn.out.capacity() > IDLE_BUFFER_KEEP {
            conn.out = Vec::new();
        } else {
            conn.out.clear();
        }
    } else if conn.sent >= MAX_PENDING_OUTPUT {
        // Forget what was sent, so the buffer stays bounded however a client reads.
        conn.out.drain(..conn.sent);
        conn.sent = 0;
    }
    Ok(())
}
// ANCHOR_END: pump

/// Deregisters and closes a connection. (On Linux closing alone would do, but mio asks for a
/// deregister first, and other pollers need it.)
fn close(conn: Option<Connection>, registry: &Registry, stats: &Stats, n: Narrator) {
    if let Some(mut conn) = conn {
        let _ = registry.deregister(&mut conn.stream);
        narrate!(n, "close({}) peer {}", common::narrate::fd(&conn.stream), conn.peer);
        stats.closed();
    }
}
