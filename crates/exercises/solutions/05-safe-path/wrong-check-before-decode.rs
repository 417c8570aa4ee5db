//! Exercise 05-safe-path, a wrong answer: checks for `..` before decoding.
//!
//! The check looks at the raw target, where `..` may still be spelled `%2e%2e`: decoding after
//! the check brings it back, and `/%2e%2e/secret.txt` leaves the root.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};

/// The address used when none is given.
const DEFAULT_ADDR: &str = "127.0.0.1:8080";

/// The longest request head read: a stranger's bytes are bounded before they are kept.
const MAX_HEAD: usize = 8 * 1024;

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| DEFAULT_ADDR.to_owned());
    let root = PathBuf::from(args.next().unwrap_or_else(|| ".".to_owned()));
    let listener = TcpListener::bind(&addr)?;
    println!("listening on {}", listener.local_addr()?);
    println!("serving {}", root.display());
    for conn in listener.incoming() {
        if let Err(e) = conn.and_then(|conn| serve(conn, &root)) {
            eprintln!("connection ended with an error: {e}");
        }
    }
    Ok(())
}

/// One request, one answer, then close: the file `resolve` names, or 404.
fn serve(mut conn: TcpStream, root: &Path) -> io::Result<()> {
    let Some(head) = read_head(&mut conn)? else { return Ok(()) };
    // The request line: `GET /path?query HTTP/1.1`. The target is the stranger's text.
    let mut words = head.lines().next().unwrap_or("").split(' ');
    let target = match (words.next(), words.next()) {
        (Some("GET"), Some(target)) => Some(target),
        _ => None,
    };
    let (status, body) = match target.map(|target| resolve(root, target)) {
        None => ("400 Bad Request", b"bad request\n".to_vec()),
        Some(None) => ("404 Not Found", b"not found\n".to_vec()),
        // A folder, a missing file, a name with NUL: read() fails, and the answer is 404.
        Some(Some(path)) => match std::fs::read(&path) {
            Ok(bytes) => ("200 OK", bytes),
            Err(_) => ("404 Not Found", b"not found\n".to_vec()),
        },
    };
    let head =
        format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
    conn.write_all(head.as_bytes())?;
    conn.write_all(&body)
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

/// The file for `target` under `root`, or `None` when there is none to send safely.
fn resolve(root: &Path, target: &str) -> Option<PathBuf> {
    let path = target.split('?').next().unwrap_or("");
    if !path.starts_with('/') || path.contains("..") {
        return None;
    }
    let decoded = percent_decode(path)?;
    let mut file = root.join(decoded.trim_start_matches('/'));
    if decoded.ends_with('/') {
        file.push("index.html");
    }
    Some(file)
}

/// `%XX` escapes decoded (`a%20b` is `a b`); `None` for a bad escape or bytes that are not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}
