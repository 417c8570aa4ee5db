//! Exercise 07-reuseaddr, the reference: SO_REUSEADDR, set before bind.
//!
//! Run: `cargo run -q -p exercise --bin ref-07-reuseaddr -- 127.0.0.1:65432`

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
    // Before bind: a connection this server closed first leaves a TIME_WAIT entry on this
    // port for a minute, and without SO_REUSEADDR bind() refuses the port while it is there.
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}
