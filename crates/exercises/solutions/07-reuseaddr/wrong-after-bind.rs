//! Exercise 07-reuseaddr, a wrong answer: SO_REUSEADDR set after bind.
//!
//! The option is read by bind(); set afterwards it changes nothing for this socket.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener};

use socket2::{Domain, Socket, Type};

/// The tutorial's address, used when no address is given.
const DEFAULT_ADDR: &str = "127.0.0.1:65432";

/// How many connections the kernel may queue.
const BACKLOG: i32 = 128;

fn main() -> io::Result<()> {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| DEFAULT_ADDR.to_owned())
        .parse()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let listener = listen(addr)?;
    println!("listening on {}", listener.local_addr()?);
    for conn in listener.incoming() {
        // The greeting, then close: the server closes first.
        if let Err(e) = conn.and_then(|mut c| c.write_all(b"hello\n")) {
            eprintln!("connection ended with an error: {e}");
        }
    }
    Ok(())
}

/// socket, bind, listen. (std's TcpListener::bind would hide the bug: on Unix it sets one
/// option for you. socket2 shows every call.)
fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.bind(&addr.into())?;
    // Too late: bind() has already checked the port, without the option.
    socket.set_reuse_address(true)?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}
