//! Exercise 06-short-read, the reference: the head to its blank line, then Content-Length.
//!
//! Run: `cargo run -q -p exercise --bin ref-06-short-read -- 127.0.0.1:8080`

use std::io::{self, Read, Write};
use std::net::TcpStream;

/// The address used when none is given.
const DEFAULT_ADDR: &str = "127.0.0.1:8080";

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| DEFAULT_ADDR.to_owned());
    let mut conn = TcpStream::connect(&addr)?;
    write!(conn, "GET / HTTP/1.1\r\nHost: {addr}\r\n\r\n")?;
    let body = read_body(&mut conn)?;
    io::stdout().write_all(&body)
}

/// The longest head read before giving up.
const MAX_HEAD: usize = 64 * 1024;

/// Reads the response and returns its body: the head up to its blank line, then exactly
/// `Content-Length` bytes, however the reads cut them.
fn read_body(conn: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut response = Vec::new();
    let mut buf = [0u8; 4096];
    // A read returns what has arrived, not a message: loop until the head is complete.
    let head_end = loop {
        if let Some(i) = response.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if response.len() > MAX_HEAD {
            return Err(invalid("a head without its blank line"));
        }
        let n = conn.read(&mut buf)?;
        if n == 0 {
            return Err(invalid("the server closed before the end of the head"));
        }
        response.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&response[..head_end]).into_owned();
    let length = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse::<usize>().ok())
        .ok_or_else(|| invalid("no Content-Length"))?;
    // What came with the head is the start of the body; read exactly the rest. Not until the
    // close: the server keeps the connection open for the next request.
    let mut body = response[head_end..].to_vec();
    if body.len() < length {
        let mut rest = vec![0u8; length - body.len()];
        conn.read_exact(&mut rest)?;
        body.extend_from_slice(&rest);
    }
    body.truncate(length);
    Ok(body)
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}
