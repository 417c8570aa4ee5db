//! Exercise 02-mio-echo, a wrong answer: never asks for WRITABLE.
//!
//! What does not fit in the send buffer waits in `pending`, but nothing ever wakes the loop
//! to send it: a client that reads late gets the start of its echo, then nothing.
//!
//! Run: `cargo run -q -p exercise --bin wrong-02-mio-echo-no-writable -- 127.0.0.1:65433`

use std::collections::HashMap;
use std::io::{self, ErrorKind, Read, Write};
use std::net::SocketAddr;

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Registry, Token};

/// Chapter 02's address, used when no address is given.
const DEFAULT_ADDR: &str = "127.0.0.1:65433";

/// The listening socket's token; connections get 1, 2, 3...
const LISTENER: Token = Token(0);

/// The size of one read.
const BUF_SIZE: usize = 16 * 1024;

/// Bytes kept for a client that does not read its echo: past this, we stop reading from it
/// until it catches up (backpressure), so one slow client cannot fill our memory.
const MAX_PENDING: usize = 256 * 1024;

/// One client: its socket, and the echo not yet accepted by its send buffer.
struct Connection {
    stream: TcpStream,
    pending: Vec<u8>,
    /// The client closed its sending side: finish sending `pending`, then close.
    read_closed: bool,
}

impl Connection {
    /// What to ask the kernel about: read while there is room, write while something waits.
    fn interest(&self) -> Option<Interest> {
        let read = !self.read_closed && self.pending.len() < MAX_PENDING;
        let write = !self.pending.is_empty();
        match (read, write) {
            (true, _) => Some(Interest::READABLE),
            // Nothing to read for now; stay registered so that the connection is kept.
            (false, true) => Some(Interest::READABLE),
            (false, false) => None,
        }
    }
}

fn main() -> io::Result<()> {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| DEFAULT_ADDR.to_owned())
        .parse()
        .map_err(|e| io::Error::new(ErrorKind::InvalidInput, e))?;
    let mut listener = TcpListener::bind(addr)?;
    println!("listening on {}", listener.local_addr()?);

    let mut poll = Poll::new()?;
    poll.registry().register(&mut listener, LISTENER, Interest::READABLE)?;
    let mut events = Events::with_capacity(1024);
    let mut conns: HashMap<Token, Connection> = HashMap::new();
    let mut next_token = 1;
    loop {
        // Sleep until the kernel has news about one of our sockets.
        if let Err(e) = poll.poll(&mut events, None) {
            if e.kind() == ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        for event in &events {
            if event.token() == LISTENER {
                accept_all(&listener, poll.registry(), &mut conns, &mut next_token)?;
                continue;
            }
            let token = event.token();
            let Some(conn) = conns.get_mut(&token) else { continue };
            let open = pump(conn).unwrap_or(false);
            let interest = conn.interest();
            match (open, interest) {
                (true, Some(interest)) => {
                    poll.registry().reregister(&mut conn.stream, token, interest)?;
                }
                _ => {
                    // Dropping the stream closes it (and removes it from epoll).
                    conns.remove(&token);
                }
            }
        }
    }
}

/// Accepts every waiting connection: edge-triggered, so until WouldBlock.
fn accept_all(
    listener: &TcpListener,
    registry: &Registry,
    conns: &mut HashMap<Token, Connection>,
    next_token: &mut usize,
) -> io::Result<()> {
    loop {
        match listener.accept() {
            Ok((mut stream, _peer)) => {
                let token = Token(*next_token);
                *next_token += 1;
                registry.register(&mut stream, token, Interest::READABLE)?;
                conns.insert(token, Connection { stream, pending: Vec::new(), read_closed: false });
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            // A connection that failed before we accepted it is that client's problem.
            Err(e) if e.kind() == ErrorKind::ConnectionAborted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Moves a connection as far as it goes without blocking: read what there is room for,
/// write what the send buffer takes. Returns whether the connection stays open.
fn pump(conn: &mut Connection) -> io::Result<bool> {
    let mut buf = [0u8; BUF_SIZE];
    while !conn.read_closed && conn.pending.len() < MAX_PENDING {
        match conn.stream.read(&mut buf) {
            Ok(0) => conn.read_closed = true,
            Ok(n) => conn.pending.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    while !conn.pending.is_empty() {
        match conn.stream.write(&conn.pending) {
            Ok(n) => {
                conn.pending.drain(..n);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    // Done when the client has said all it will and has got all of it back.
    Ok(!(conn.read_closed && conn.pending.is_empty()))
}
