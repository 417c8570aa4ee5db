//! One client of the event loop: what the loop remembers about it ([`Connection`]), the work
//! one readiness event allows on it ([`pump`], [`flush`]). They are kept in a
//! [`crate::slots::Slots`] table.
//!
//! A blocking server keeps this state on a thread's stack without naming it; an event loop
//! must write it down, because it leaves each connection after every `WouldBlock` and comes
//! back to it with the next event.

use std::io::{self, Read, Write};
use std::net::SocketAddr;

use common::narrate;
use common::narrate::Narrator;
use common::step;
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use crate::shared::Stats;
use common::narrate::would_block;

/// Pending output per connection before we stop reading from it: a slow reader costs us at
/// most this much memory (plus one read).
pub const MAX_PENDING_OUTPUT: usize = 256 << 10;
/// An emptied output buffer larger than this is freed rather than kept for the next echo.
const IDLE_BUFFER_KEEP: usize = 16 << 10;

// ANCHOR: connection
/// What the event loop remembers about one client.
pub(super) struct Connection {
    pub(super) stream: TcpStream,
    pub(super) peer: SocketAddr,
    /// Echo bytes not yet sent: `out[sent..]`.
    pub(super) out: Vec<u8>,
    pub(super) sent: usize,
    /// The interest currently registered, to re-register only when it changes.
    pub(super) interest: Interest,
    /// The client closed its sending side (`recv` returned 0): send what is left, then close.
    pub(super) peer_closed: bool,
}
// ANCHOR_END: connection

impl Connection {
    // ANCHOR: wanted_interest
    /// Bytes of echo waiting to be sent.
    pub(super) fn pending(&self) -> usize {
        self.out.len() - self.sent
    }

    /// What to ask `poll` about: reading unless the client is too far behind (or done
    /// sending), writing only while there is something to write.
    pub(super) fn wanted_interest(&self) -> Option<Interest> {
        let read = !self.peer_closed && self.pending() < MAX_PENDING_OUTPUT;
        let write = self.pending() > 0;
        match (read, write) {
            (true, true) => Some(Interest::READABLE | Interest::WRITABLE),
            (true, false) => Some(Interest::READABLE),
            (false, true) => Some(Interest::WRITABLE),
            (false, false) => None, // Nothing left to do: close.
        }
    }
    // ANCHOR_END: wanted_interest

    // ANCHOR: reregister
    /// Tells the kernel the interest that now fits, if it changed (`epoll_ctl(MOD)`).
    fn reregister(&mut self, token: Token, registry: &Registry, n: Narrator) -> io::Result<()> {
        match self.wanted_interest() {
            Some(wanted) if wanted != self.interest => {
                step!(n, &self.stream, "reregister({}, {wanted:?})", narrate::fd(&self.stream));
                registry.reregister(&mut self.stream, token, wanted)?;
                narrate!(
                    n,
                    &self.stream,
                    "reregister({}, {wanted:?}) ({} bytes pending)",
                    narrate::fd(&self.stream),
                    self.pending()
                );
                self.interest = wanted;
                Ok(())
            }
            _ => Ok(()),
        }
    }
    // ANCHOR_END: reregister
}

// ANCHOR: pump
/// Does all the work a ready connection allows: send pending echo, read what has arrived
/// (while under the backpressure limit), send again, then register the interest that fits.
/// Readiness is edge-triggered, so each direction is worked until `WouldBlock`, or until a
/// short read when `plain_read` says the event reported new data and nothing else.
pub(super) fn pump(
    conn: &mut Connection,
    token: Token,
    registry: &Registry,
    scratch: &mut [u8],
    plain_read: bool,
    stats: &Stats,
    n: Narrator,
) -> io::Result<()> {
    flush(conn, n)?;
    // ANCHOR_END: pump
    // ANCHOR: pump_read
    while !conn.peer_closed && conn.pending() < MAX_PENDING_OUTPUT {
        step!(n, &conn.stream, "recv({})", fd(conn));
        match conn.stream.read(scratch) {
            Ok(0) => {
                narrate!(n, &conn.stream, "recv({}) -> 0 bytes (peer closed)", fd(conn));
                conn.peer_closed = true;
            }
            Ok(received) => {
                narrate!(n, &conn.stream, "recv({}) -> {received} bytes", fd(conn));
                stats.echoed(received as u64);
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
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                would_block(n, &conn.stream, || format!("recv({})", fd(conn)), "nothing received");
                break;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    conn.reregister(token, registry, n)
}

// ANCHOR_END: pump_read

// ANCHOR: flush
/// Sends pending output until it is all gone or the socket's send buffer is full. A `send`
/// on a non-blocking socket takes what fits and returns: a partial write is normal here.
pub(super) fn flush(conn: &mut Connection, n: Narrator) -> io::Result<()> {
    while conn.pending() > 0 {
        step!(n, &conn.stream, "send({}, {} bytes)", fd(conn), conn.pending());
        match conn.stream.write(&conn.out[conn.sent..]) {
            Ok(written) => {
                narrate!(
                    n,
                    &conn.stream,
                    "send({}, {} bytes) -> {written}",
                    fd(conn),
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
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let call = || format!("send({})", fd(conn));
                would_block(n, &conn.stream, call, "send buffer full");
                break;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    // ANCHOR_END: flush
    // ANCHOR: flush_tidy
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
// ANCHOR_END: flush_tidy

/// A connection's descriptor as narration names it: `fd 6`.
fn fd(conn: &Connection) -> String {
    narrate::fd(&conn.stream)
}
