//! Exercise 05-fix-response (fix it): the tutorial's HTTP response.
//!
//! This server answers every request with what the tutorial's page sends: headers and
//! `hello world\r\n`, with no status line and no `Content-Length`, then it closes. curl
//! refuses it (`Received HTTP/0.9 when not allowed`) and a browser shows a blank page. Make it
//! a real HTTP/1.1 answer: `HTTP/1.1 200 OK`, a `Content-Length` that counts the body's bytes
//! (13: `hello world` and its `\r\n`), and the connection kept open for the next request, as
//! HTTP/1.1 clients expect, unless the request says `Connection: close`.
//! Then: `cargo exercise check 05-fix-response`.
//!
//! Try it by hand: `cargo run -q -p ex05-fix-response`, then `curl -v http://127.0.0.1:8080/`.
//! The book: docs/src/05-http-server.md, "Why the broken version fails".

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;

/// The address used when none is given.
const DEFAULT_ADDR: &str = "127.0.0.1:8080";

/// The longest request head read: a stranger's bytes are bounded before they are kept.
const MAX_HEAD: usize = 8 * 1024;

fn main() -> io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| DEFAULT_ADDR.to_owned());
    let listener = TcpListener::bind(&addr)?;
    println!("listening on {}", listener.local_addr()?);
    for conn in listener.incoming() {
        let conn = match conn {
            Ok(conn) => conn,
            Err(e) => {
                eprintln!("accept failed: {e}");
                continue;
            }
        };
        // A thread per connection, so a client that keeps its connection open holds up no one.
        thread::spawn(move || {
            if let Err(e) = serve(conn) {
                eprintln!("connection ended with an error: {e}");
            }
        });
    }
    Ok(())
}

/// What the tutorial's page answers: headers and a body, no status line, no Content-Length.
const RESPONSE: &[u8] = b"Content-Type: text/plain\r\n\r\nhello world\r\n";

/// Reads a request, answers it, closes.
fn serve(mut conn: TcpStream) -> io::Result<()> {
    let mut buf = Vec::new();
    if read_head(&mut conn, &mut buf)?.is_none() {
        return Ok(());
    }
    conn.write_all(RESPONSE)
}

/// Reads one request head off `conn`. Bytes after its blank line stay in `buf` for the next
/// request (a client may send two at once). `None` when the client closed first.
fn read_head(conn: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<Option<String>> {
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..i + 4]).into_owned();
            buf.drain(..i + 4);
            return Ok(Some(head));
        }
        if buf.len() > MAX_HEAD {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "request head too long"));
        }
        let n = conn.read(&mut chunk)?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}
