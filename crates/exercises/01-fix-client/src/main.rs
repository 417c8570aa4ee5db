//! Exercise 01-fix-client (fix it): the tutorial's echo client, with its single `recv(1024)`.
//!
//! It sends a message, reads the echo with one recv, prints it and exits. On loopback it
//! usually works. Make it always print the whole echo, then: `cargo exercise check 01-fix-client`.
//!
//! Usage: `ex01-fix-client [ADDR] [MESSAGE]`, by default `127.0.0.1:65432` and `Hello, world`.
//! Try it by hand against chapter 01's server: `cargo run -q -p ch01-echo -- server`, then
//! `cargo run -q -p ex01-fix-client`. The book: docs/src/01-echo.md, "The single recv(1024)".

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
    let mut data = [0u8; 1024];
    let n = conn.read(&mut data)?;
    println!("Received {}", py_bytes(&data[..n]));
    Ok(())
}
