//! Exercise 01-echo-server, a wrong answer: one recv, one send, close.
//!
//! It passes a quick test by hand (a short message arrives in one piece on loopback), and
//! loses everything after the first recv of a long or slow message.
//!
//! Run: `cargo run -q -p exercise --bin wrong-01-echo-server-single-recv -- 127.0.0.1:65432`

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};

use socket2::{Domain, Socket, Type};

/// The tutorial's address, used when no address is given.
const DEFAULT_ADDR: &str = "127.0.0.1:65432";

/// How many connections the kernel may queue while we serve one: the chapter's default.
const BACKLOG: i32 = 128;

/// The size of one recv: any size works, since a loop reads until the peer closes.
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
        // One client's failure (a reset, a timeout) ends that connection, not the server.
        let result = conn.and_then(echo_until_closed);
        if let Err(e) = result {
            eprintln!("connection ended with an error: {e}");
        }
    }
    Ok(())
}

/// socket, setsockopt(SO_REUSEADDR), bind, listen: the listening socket.
fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    // Restarting the server must not wait for old connections' TIME_WAIT to expire.
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

/// One recv, as if it returned the whole message; then the stream closes.
fn echo_until_closed(mut conn: TcpStream) -> io::Result<()> {
    let mut buf = [0u8; BUF_SIZE];
    let n = conn.read(&mut buf)?;
    conn.write_all(&buf[..n])
}
