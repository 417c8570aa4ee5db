//! Exercise 06-short-read (fix it): the tutorial client that reads until a short read.
//!
//! This client sends `GET /` and prints the response's body. Like the tutorial's, it reads
//! with `recv(4096)` until a read returns fewer than 4096 bytes, and takes that for the end.
//! On loopback that is often true. Make it print the whole body however the response arrives:
//! the head in one piece and the body later, or the body in pieces, while the server keeps
//! the connection open for the next request. Then: `cargo exercise check 06-short-read`.
//!
//! Try it by hand: `cargo run -q -p ch06-http-client -- demo` runs a server with a `/slow`
//! path; or `cargo run -q -p ex06-short-read -- 127.0.0.1:PORT` against any server.
//! The book: docs/src/06-http-client.md, "Why \"recv until short\" is wrong".

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

/// Reads the response and returns its body.
fn read_body(conn: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut response = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = conn.read(&mut buf)?;
        response.extend_from_slice(&buf[..n]);
        // A short read means the server has sent everything.
        if n < buf.len() {
            break;
        }
    }
    let start =
        response.windows(4).position(|w| w == b"\r\n\r\n").map_or(response.len(), |i| i + 4);
    Ok(response[start..].to_vec())
}
