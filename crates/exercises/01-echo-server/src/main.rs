//! Exercise 01-echo-server (write it): an echo server, from `socket()` to `close()`.
//!
//! Fill in the two `todo!()`s, then: `cargo exercise check 01-echo-server`.
//! Try it by hand: `cargo run -q -p ex01-echo-server` in one terminal, and
//! `cargo run -q -p ch01-echo -- client` in another.
//!
//! What the grader expects: the first line on stdout is `listening on ADDR` (already written
//! below); every byte a client sends comes back; the server serves one client after another
//! and keeps running when a client misbehaves. The book: docs/src/01-echo.md.

// A skeleton's parameters are unused until you write the bodies; the lint would only shout.
#![allow(unused_variables, unused_imports, unused_mut, dead_code)]

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};

use socket2::{Domain, Socket, Type};

/// The tutorial's address, used when no address is given.
const DEFAULT_ADDR: &str = "127.0.0.1:65432";

/// How many connections the kernel may queue while we serve one.
const BACKLOG: i32 = 128;

/// The size of one recv.
const BUF_SIZE: usize = 1024;

fn main() -> io::Result<()> {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| DEFAULT_ADDR.to_owned())
        .parse()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let listener = listen(addr)?;
    // The readiness line: the real address, after bind() chose a port for port 0.
    println!("listening on {}", listener.local_addr()?);
    for conn in listener.incoming() {
        echo_until_closed(conn?)?;
    }
    Ok(())
}

/// socket, setsockopt(SO_REUSEADDR), bind, listen: the listening socket.
fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    todo!("socket(), setsockopt(SO_REUSEADDR, 1), bind(addr), listen(BACKLOG) with socket2")
}

/// recv until the peer closes, sending back every piece; then close.
fn echo_until_closed(mut conn: TcpStream) -> io::Result<()> {
    todo!("recv into a buffer until it returns 0 bytes, sendall what each recv returned")
}
