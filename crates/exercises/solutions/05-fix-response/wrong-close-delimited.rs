//! Exercise 05-fix-response, a wrong answer: a status line, and the close as the end of the body.
//!
//! curl is happy; a client that keeps the connection open cannot tell where the body ends.

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

/// The body: the tutorial's `hello world` and the `\r\n` its triple-quoted string ended with.
const BODY: &[u8] = b"hello world\r\n";

/// Reads a request, answers it with a status line, closes: the end of the body is the close.
fn serve(mut conn: TcpStream) -> io::Result<()> {
    let mut buf = Vec::new();
    if read_head(&mut conn, &mut buf)?.is_none() {
        return Ok(());
    }
    let mut response = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n".to_vec();
    response.extend_from_slice(BODY);
    conn.write_all(&response)
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
