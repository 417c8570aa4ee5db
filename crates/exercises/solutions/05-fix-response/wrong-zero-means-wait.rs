//! Exercise 05-fix-response, a wrong answer: `recv` returning 0 taken for "nothing yet".
//!
//! 0 bytes means the client closed. Waiting for more instead keeps the thread, and the socket,
//! forever: one descriptor leaked per connection, until accept() fails with EMFILE.

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

/// Answers request after request on one connection (HTTP/1.1 keeps it open) until the client
/// closes it or asks for `Connection: close`.
fn serve(mut conn: TcpStream) -> io::Result<()> {
    let mut buf = Vec::new();
    while let Some(head) = read_head(&mut conn, &mut buf)? {
        let close = head.lines().any(|line| {
            let line = line.to_ascii_lowercase();
            line.starts_with("connection:") && line.contains("close")
        });
        // The status line first, then a Content-Length that counts the body's bytes, so the
        // client knows where this answer ends and the next one starts.
        let mut response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n{}\r\n",
            BODY.len(),
            if close { "Connection: close\r\n" } else { "" }
        )
        .into_bytes();
        response.extend_from_slice(BODY);
        // One write: a head and a body in two small writes can wait for Nagle's algorithm.
        conn.write_all(&response)?;
        if close {
            return Ok(());
        }
    }
    Ok(())
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
            // Nothing yet: wait a little for the rest of the request.
            thread::sleep(std::time::Duration::from_millis(10));
            continue;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}
