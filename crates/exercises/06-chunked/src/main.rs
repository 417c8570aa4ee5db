//! Exercise 06-chunked (write it): decode a `Transfer-Encoding: chunked` body.
//!
//! This client sends `GET /`, reads the head, and writes the body to stdout (or to the file
//! given as its second argument). A chunked body comes as chunks, each a size line in hex,
//! maybe with extensions after a `;`, then that many bytes and `\r\n`; a chunk of size 0 ends
//! it, followed by trailer lines (headers) up to a blank line:
//!
//! ```text
//! 5\r\nhello\r\n7;note=ignored\r\n, world\r\n0\r\nX-Checksum: 42\r\n\r\n
//! ```
//!
//! Write `decode_chunked`, then: `cargo exercise check 06-chunked`. Try it by hand:
//! `cargo run -q -p ch06-http-client -- demo` shows chunked responses; or serve one with
//! `printf 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n' | nc -l 8080`
//! and run `cargo run -q -p ex06-chunked`. The book: docs/src/06-http-client.md, "Where a
//! response ends".
//!
//! What the grader expects: the body's bytes, exactly; exit 0 as soon as the last chunk and the
//! trailers are read (the server keeps the connection open); exit 1 with a message, not a
//! panic, on a malformed size; memory that does not grow with the body.

// A skeleton's parameters are unused until you write the body; the lint would only shout.
#![allow(unused_variables)]

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;

/// The address used when none is given.
const DEFAULT_ADDR: &str = "127.0.0.1:8080";

/// The longest line (status, header, chunk size, trailer) read before giving up.
const MAX_LINE: usize = 8 * 1024;

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| DEFAULT_ADDR.to_owned());
    let mut out: Box<dyn Write> = match args.next() {
        Some(path) => Box::new(File::create(path)?),
        None => Box::new(io::stdout().lock()),
    };
    let mut conn = TcpStream::connect(&addr)?;
    write!(conn, "GET / HTTP/1.1\r\nHost: {addr}\r\n\r\n")?;
    let mut reader = BufReader::new(conn);
    // The head: the status line, then headers up to a blank line.
    let status = read_line(&mut reader)?;
    let mut chunked = false;
    let mut length = None;
    loop {
        let line = read_line(&mut reader)?;
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').unwrap_or((&line, ""));
        let value = value.trim();
        if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.eq_ignore_ascii_case("chunked");
        } else if name.eq_ignore_ascii_case("content-length") {
            length = value.parse::<u64>().ok();
        }
    }
    eprintln!("{status}");
    // The body ends where its framing says, never at the close: the server keeps the
    // connection open for the next request.
    let received = if chunked {
        decode_chunked(&mut reader, &mut out)?
    } else {
        let length = length.ok_or_else(|| invalid("neither chunked nor a Content-Length"))?;
        io::copy(&mut (&mut reader).take(length), &mut out)?
    };
    out.flush()?;
    eprintln!("body: {received} bytes");
    Ok(())
}

/// Copies the chunks' bytes to `out` until the last chunk and its trailers; returns the total.
fn decode_chunked(reader: &mut impl BufRead, out: &mut impl Write) -> io::Result<u64> {
    todo!("size line (hex, before any ';'), that many bytes to out, \\r\\n; at 0, the trailers")
}

/// One line without its `\r\n`, at most MAX_LINE bytes; an error if the connection ends first.
fn read_line(reader: &mut impl BufRead) -> io::Result<String> {
    let mut line = Vec::new();
    reader.take(MAX_LINE as u64 + 1).read_until(b'\n', &mut line)?;
    if !line.ends_with(b"\n") {
        return Err(invalid("a line too long, or the connection closed in the middle of one"));
    }
    line.pop();
    if line.ends_with(b"\r") {
        line.pop();
    }
    String::from_utf8(line).map_err(|_| invalid("a line that is not UTF-8"))
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}
