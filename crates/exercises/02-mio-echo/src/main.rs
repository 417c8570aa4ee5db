//! Exercise 02-mio-echo (write it): one thread, one event loop, many clients.
//!
//! The loop in `main` is written; fill in the three `todo!()`s: what to ask the kernel about
//! (`interest`), accepting (`accept_all`) and moving bytes (`pump`). Then:
//! `cargo exercise check 02-mio-echo`. The grader keeps a silent client and one that never
//! reads its echo connected while others must still be served, and the one that never read
//! must get every byte back once it reads.
//!
//! Try it by hand: `cargo run -q -p ex02-mio-echo`, then
//! `cargo run -q -p ch02-multi-conn -- client --port 65433`. The book: docs/src/02-multi-conn.md,
//! "One thread and an event loop" and "Backpressure: a client that does not read".

// A skeleton's parameters are unused until you write the bodies; the lint would only shout.
#![allow(unused_variables, unused_imports, unused_mut, dead_code)]

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
        todo!(
            "READABLE while pending has room, WRITABLE while pending is not empty, None when both are off"
        )
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
    todo!("accept() until WouldBlock; register each stream with its own Token, READABLE")
}

/// Moves a connection as far as it goes without blocking: read what there is room for,
/// write what the send buffer takes. Returns whether the connection stays open.
fn pump(conn: &mut Connection) -> io::Result<bool> {
    todo!(
        "read until WouldBlock (into pending, up to MAX_PENDING), then write pending until WouldBlock"
    )
}
