//! Exercise 07-reuseaddr (fix it): a server that cannot be restarted for a minute.
//!
//! It greets each client with `hello` and closes the connection first. Stop it and start it
//! again on the same port, and bind fails: `Address already in use`. Make it restart at once,
//! then: `cargo exercise check 07-reuseaddr`.
//!
//! Try it by hand: `cargo run -q -p ex07-reuseaddr`, then `nc 127.0.0.1 65432`, Ctrl-C the
//! server, start it again, and look at `ss -tan | grep 65432`. The book:
//! docs/src/07-ip-notes.md, "Experiment: TIME_WAIT and SO_REUSEADDR".

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
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}
