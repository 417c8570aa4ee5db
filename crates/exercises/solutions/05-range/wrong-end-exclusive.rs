//! Exercise 05-range, a wrong answer: the range's end taken as exclusive.
//!
//! `body[first..last]` is Rust's half-open range; HTTP's `bytes=0-99` includes byte 99, so the
//! answer is one byte short of what its Content-Range says.

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
    if method != "GET" && method != "HEAD" {
        let text = b"only GET and HEAD here\n".to_vec();
        let allow = ["Allow: GET, HEAD".to_owned()];
        return (response_head("405 Method Not Allowed", &allow, text.len()), text);
    }
    let ranges = "Accept-Ranges: bytes".to_owned();
    let (head, body) = match byte_range(header(head, "Range"), body.len()) {
        Range::Whole => (response_head("200 OK", &[ranges], body.len()), body),
        Range::Part(first, last) => {
            let content_range = format!("Content-Range: bytes {first}-{last}/{}", body.len());
            let part = body[first..last].to_vec();
            (response_head("206 Partial Content", &[ranges, content_range], part.len()), part)
        }
        Range::Unsatisfiable => {
            let content_range = format!("Content-Range: bytes */{}", body.len());
            (response_head("416 Range Not Satisfiable", &[content_range], 0), Vec::new())
        }
    };
    // HEAD: the head GET would have, Content-Length included, and not one byte of body.
    if method == "HEAD" { (head, Vec::new()) } else { (head, body) }
}

/// What a `Range` header asks of a body of `len` bytes.
enum Range {
    /// No header, or one this server does not serve (several ranges, other units): 200.
    Whole,
    /// Bytes FIRST to LAST, both included: 206.
    Part(usize, usize),
    /// A range that starts past the end: 416.
    Unsatisfiable,
}

fn byte_range(value: Option<&str>, len: usize) -> Range {
    let Some(spec) = value.and_then(|v| v.strip_prefix("bytes=")) else { return Range::Whole };
    let Some((start, end)) = spec.split_once('-') else { return Range::Whole };
    let last_byte = len.saturating_sub(1);
    if start.is_empty() {
        // bytes=-COUNT: the last COUNT bytes.
        return match end.parse::<usize>() {
            Ok(0) => Range::Unsatisfiable,
            Ok(count) => Range::Part(len.saturating_sub(count), last_byte),
            Err(_) => Range::Whole,
        };
    }
    let Ok(first) = start.parse::<usize>() else { return Range::Whole };
    let last = match end {
        "" => last_byte,
        end => match end.parse::<usize>() {
            Ok(last) if last >= first => last.min(last_byte),
            _ => return Range::Whole,
        },
    };
    if first >= len { Range::Unsatisfiable } else { Range::Part(first, last) }
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
