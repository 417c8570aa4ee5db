//! Exercise 05-range (extend it): HEAD and `Range` for a server of one resource.
//!
//! This server answers `GET /` with a 1000-byte body and every other method with 405. Add:
//! - `HEAD`: the same head as GET (status, `Content-Length: 1000`), and no body;
//! - `Range: bytes=FIRST-LAST`, `bytes=FIRST-` and `bytes=-COUNT` (the last COUNT bytes):
//!   `206 Partial Content`, `Content-Range: bytes FIRST-LAST/1000`, and those bytes, LAST
//!   included (an end past the last byte means the last byte);
//! - a start at or past the end: `416 Range Not Satisfiable` with `Content-Range: bytes */1000`;
//! - a `Range` header that is not one byte range: ignored, the whole body with 200.
//!
//! Then: `cargo exercise check 05-range`. Try it by hand: `cargo run -q -p ex05-range`, then
//! `curl -v -r 0-99 http://127.0.0.1:8080/` and `curl -I http://127.0.0.1:8080/`.
//! The book: docs/src/05-http-server.md, "Sending a file: 304, 206 and zero-copy".
//!
//! (Why it matters: a download that broke off resumes with `Range`, and a video player seeks
//! with it; HEAD tells a client the size without the bytes.)

// `header` is here for you to use: until you do, it is unused.
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};

/// The address used when none is given.
const DEFAULT_ADDR: &str = "127.0.0.1:8080";

/// The longest request head read: a stranger's bytes are bounded before they are kept.
const MAX_HEAD: usize = 8 * 1024;

/// The one resource this server has: the alphabet, again and again, 1000 bytes.
fn body() -> Vec<u8> {
    (0..1000u32).map(|i| b'a' + (i % 26) as u8).collect()
}

fn main() -> io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| DEFAULT_ADDR.to_owned());
    let listener = TcpListener::bind(&addr)?;
    println!("listening on {}", listener.local_addr()?);
    for conn in listener.incoming() {
        if let Err(e) = conn.and_then(serve) {
            eprintln!("connection ended with an error: {e}");
        }
    }
    Ok(())
}

/// One request, one answer, then close.
fn serve(mut conn: TcpStream) -> io::Result<()> {
    let Some(head) = read_head(&mut conn)? else { return Ok(()) };
    let (response_head, body) = respond(&head);
    conn.write_all(&[response_head.into_bytes(), body].concat())
}

/// The answer to a request head: the response head, and the body to send after it.
fn respond(head: &str) -> (String, Vec<u8>) {
    let method = head.split(' ').next().unwrap_or("");
    let body = body();
    match method {
        "GET" => (response_head("200 OK", &[], body.len()), body),
        _ => {
            let body = b"only GET here\n".to_vec();
            let allow = ["Allow: GET".to_owned()];
            (response_head("405 Method Not Allowed", &allow, body.len()), body)
        }
    }
}

/// A response head: the status line, `Content-Length`, `Connection: close`, `extra` headers.
fn response_head(status: &str, extra: &[String], length: usize) -> String {
    let mut head =
        format!("HTTP/1.1 {status}\r\nContent-Length: {length}\r\nConnection: close\r\n");
    for line in extra {
        head.push_str(line);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    head
}

/// The value of the header `name` in `head` (names are case-insensitive).
fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        .map(|(_, value)| value.trim())
}

/// Reads up to the blank line that ends a request head; `None` when the client closed first.
fn read_head(conn: &mut TcpStream) -> io::Result<Option<String>> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.ends_with(b"\r\n\r\n") {
        let n = conn.read(&mut buf)?;
        if n == 0 {
            return Ok(None);
        }
        head.extend_from_slice(&buf[..n]);
        if head.len() > MAX_HEAD {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "request head too long"));
        }
    }
    Ok(Some(String::from_utf8_lossy(&head).into_owned()))
}
