//! Exercise 01-line-echo, the reference: whole lines, and a limit on each line.
//!
//! Run: `cargo run -q -p exercise --bin ref-01-line-echo -- 127.0.0.1:65432`

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

/// What a line that is too long gets, before the server hangs up.
const TOO_LONG: &[u8] = b"error: line too long\n";

/// Echoes whole lines until the client closes, or sends a line over the limit.
fn echo_until_closed(mut conn: TcpStream) -> io::Result<()> {
    let mut buf = [0u8; BUF_SIZE];
    // Bytes received but not yet sent back: the start of a line whose `\n` has not come.
    let mut pending: Vec<u8> = Vec::new();
    loop {
        let n = conn.read(&mut buf)?;
        if n == 0 {
            // An unfinished last line is dropped: only whole lines are echoed.
            return Ok(());
        }
        pending.extend_from_slice(&buf[..n]);
        // One read may hold several lines, or the end of one and the start of the next.
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            conn.write_all(&line)?;
        }
        // The limit is on the line, however many reads it took to arrive.
        if pending.len() > MAX_LINE_LEN {
            conn.write_all(TOO_LONG)?;
            return Ok(());
        }
    }
}
