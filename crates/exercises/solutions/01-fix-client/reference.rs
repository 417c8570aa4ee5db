//! Exercise 01-fix-client, the reference: read until the whole echo is back.
//!
//! Run: `cargo run -q -p exercise --bin ref-01-fix-client -- 127.0.0.1:65432 'Hello, world'`

use std::io::{self, Read, Write};
use std::net::TcpStream;

/// The tutorial's server address.
const DEFAULT_ADDR: &str = "127.0.0.1:65432";

/// The tutorial's message.
const DEFAULT_MESSAGE: &str = "Hello, world";

/// Bytes shown the way Python prints them: `b'Hello, world'`.
fn py_bytes(data: &[u8]) -> String {
    let mut out = String::from("b'");
    for &byte in data {
        match byte {
            b'\\' => out.push_str("\\\\"),
            b'\'' => out.push_str("\\'"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x20..=0x7e => out.push(char::from(byte)),
            _ => out.push_str(&format!("\\x{byte:02x}")),
        }
    }
    out.push('\'');
    out
}

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| DEFAULT_ADDR.to_owned());
    let message = args.next().unwrap_or_else(|| DEFAULT_MESSAGE.to_owned());

    let mut conn = TcpStream::connect(&addr)?;
    conn.write_all(message.as_bytes())?;
    // An echo returns exactly as many bytes as we sent, in as many pieces as the network
    // likes: read until we have them all. 0 bytes means the server closed before that.
    let mut reply = vec![0u8; message.len()];
    let mut received = 0;
    while received < reply.len() {
        match conn.read(&mut reply[received..])? {
            0 => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "server closed early")),
            n => received += n,
        }
    }
    println!("Received {}", py_bytes(&reply));
    Ok(())
}
