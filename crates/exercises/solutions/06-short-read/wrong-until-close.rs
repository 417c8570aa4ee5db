//! Exercise 06-short-read, a wrong answer: reads until the server closes.
//!
//! Right for HTTP/1.0; an HTTP/1.1 server keeps the connection open for the next request, and
//! this client waits for ever.

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

/// Reads the response until the server closes, and returns its body.
fn read_body(conn: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut response = Vec::new();
    conn.read_to_end(&mut response)?;
    let start =
        response.windows(4).position(|w| w == b"\r\n\r\n").map_or(response.len(), |i| i + 4);
    Ok(response[start..].to_vec())
}
