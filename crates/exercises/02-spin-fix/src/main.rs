//! Exercise 02-spin-fix (fix it): a `poll()` loop, the tutorial's selectors server in Rust.
//!
//! It echoes correctly, and it burns a whole core while its clients sit idle. Make it sleep in
//! `poll()` when there is nothing to do, then: `cargo exercise check 02-spin-fix`.
//!
//! Try it by hand: `cargo run -q -p ex02-spin-fix`, connect with
//! `nc 127.0.0.1 65433`, and watch `top`. The book: docs/src/02-multi-conn.md,
//! "The busy loop, measured".

use std::io::{self, ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsFd;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

/// Chapter 02's address, used when no address is given.
const DEFAULT_ADDR: &str = "127.0.0.1:65433";

/// The size of one read.
const BUF_SIZE: usize = 16 * 1024;

/// Bytes kept for a client that does not read its echo; past this we stop reading from it.
const MAX_PENDING: usize = 256 * 1024;

/// One client: its socket, the echo its send buffer has not taken yet, and whether it is done.
struct Connection {
    stream: TcpStream,
    pending: Vec<u8>,
    read_closed: bool,
    open: bool,
}

impl Connection {
    /// What to ask poll() about this connection, as the tutorial does:
    /// `selectors.EVENT_READ | selectors.EVENT_WRITE`.
    fn interest(&self) -> PollFlags {
        let mut flags = PollFlags::POLLOUT;
        if !self.read_closed && self.pending.len() < MAX_PENDING {
            flags |= PollFlags::POLLIN;
        }
        flags
    }

    /// One step, for what poll() reported: one read, one write (poll() is level-triggered,
    /// so whatever is left is reported again).
    fn service(&mut self, ready: PollFlags) -> io::Result<()> {
        let mut buf = [0u8; BUF_SIZE];
        if ready.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR) {
            match self.stream.read(&mut buf) {
                Ok(0) => self.read_closed = true,
                Ok(n) => self.pending.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        if ready.contains(PollFlags::POLLOUT) && !self.pending.is_empty() {
            match self.stream.write(&self.pending) {
                Ok(n) => {
                    self.pending.drain(..n);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        if self.read_closed && self.pending.is_empty() {
            self.open = false;
        }
        Ok(())
    }
}

fn main() -> io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| DEFAULT_ADDR.to_owned());
    let listener = TcpListener::bind(&addr)?;
    listener.set_nonblocking(true)?;
    println!("listening on {}", listener.local_addr()?);
    let mut conns: Vec<Connection> = Vec::new();
    loop {
        // The descriptors borrow the sockets, so poll in a block and keep only the answers.
        let ready: Vec<PollFlags> = {
            let mut fds = vec![PollFd::new(listener.as_fd(), PollFlags::POLLIN)];
            fds.extend(conns.iter().map(|c| PollFd::new(c.stream.as_fd(), c.interest())));
            poll(&mut fds, PollTimeout::NONE)?;
            fds.iter().map(|fd| fd.revents().unwrap_or(PollFlags::empty())).collect()
        };
        for (conn, flags) in conns.iter_mut().zip(&ready[1..]) {
            if let Err(e) = conn.service(*flags) {
                eprintln!("connection ended with an error: {e}");
                conn.open = false;
            }
        }
        conns.retain(|c| c.open);
        if ready[0].contains(PollFlags::POLLIN) {
            accept_all(&listener, &mut conns)?;
        }
    }
}

/// Accepts every waiting connection, non-blocking.
fn accept_all(listener: &TcpListener, conns: &mut Vec<Connection>) -> io::Result<()> {
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(true)?;
                conns.push(Connection {
                    stream,
                    pending: Vec::new(),
                    read_closed: false,
                    open: true,
                });
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == ErrorKind::ConnectionAborted => {}
            Err(e) => return Err(e),
        }
    }
}
