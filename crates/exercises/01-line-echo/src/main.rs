//! Exercise 01-line-echo (extend it): from a byte echo to a line echo with a length limit.
//!
//! Today this server sends back bytes as they arrive. Make it send back whole lines: collect
//! bytes until `\n`, then send the line. A line longer than `MAX_LINE_LEN` bytes (not counting
//! the `\n`) gets `error: line too long\n`, and the connection is closed. Then:
//! `cargo exercise check 01-line-echo`.
//!
//! Try it by hand: `cargo run -q -p ex01-line-echo`, then type lines into
//! `nc 127.0.0.1 65432`. The book: docs/src/01-echo.md, "Limits".

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};

/// The tutorial's address, used when no address is given.
const DEFAULT_ADDR: &str = "127.0.0.1:65432";

/// The longest line served, not counting its `\n`: without a limit, a client that never sends
/// `\n` makes the server buffer without end.
const MAX_LINE_LEN: usize = 1024;

/// The size of one recv.
const BUF_SIZE: usize = 1024;

fn main() -> io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| DEFAULT_ADDR.to_owned());
    let listener = TcpListener::bind(&addr)?;
    println!("listening on {}", listener.local_addr()?);
    println!("lines of at most {MAX_LINE_LEN} bytes");
    for conn in listener.incoming() {
        if let Err(e) = conn.and_then(echo_until_closed) {
            eprintln!("connection ended with an error: {e}");
        }
    }
    Ok(())
}

/// Echoes everything the client sends until it closes.
fn echo_until_closed(mut conn: TcpStream) -> io::Result<()> {
    let mut buf = [0u8; BUF_SIZE];
    loop {
        let n = conn.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        conn.write_all(&buf[..n])?;
    }
}
