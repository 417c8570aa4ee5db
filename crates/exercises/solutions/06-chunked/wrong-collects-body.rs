//! Exercise 06-chunked, a wrong answer: the whole body kept in memory, written at the end.
//!
//! Right for small bodies; a download of gigabytes needs gigabytes of memory. The grader sends
//! 160 MiB and stops the program when it passes its memory cap.

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
    let mut total = 0;
    // The whole body, to write at the end.
    let mut body = Vec::new();
    loop {
        // `1a;name=value`: the size in hex, and extensions we do not use.
        let line = read_line(reader)?;
        let hex = line.split(';').next().unwrap_or("").trim();
        let size = u64::from_str_radix(hex, 16).map_err(|_| invalid("a bad chunk size"))?;
        if size == 0 {
            // The trailers: header lines up to a blank one. Read them all, so the connection
            // is ready for the next response.
            while !read_line(reader)?.is_empty() {}
            out.write_all(&body)?;
            return Ok(total);
        }
        let mut chunk = Vec::new();
        let copied = reader.take(size).read_to_end(&mut chunk)? as u64;
        body.extend_from_slice(&chunk);
        if copied < size {
            return Err(invalid("the connection closed in the middle of a chunk"));
        }
        total += size;
        if !read_line(reader)?.is_empty() {
            return Err(invalid("no \\r\\n after a chunk's bytes"));
        }
    }
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
