//! Exercise 04-retry (fix it): the tutorial's UDP client, which waits forever.
//!
//! It sends one datagram and waits for the echo. When the datagram is lost, and UDP loses
//! datagrams, nothing ever comes and it waits for ever. Make it wait `TIMEOUT` for a reply,
//! send again, up to `MAX_TRIES` times in all, and print one of:
//!
//! ```text
//! Received b'Hello, world' (try 2)
//! no reply after 3 tries        (and exit with status 1)
//! ```
//!
//! Only the server's reply counts. Then: `cargo exercise check 04-retry`. Try it by hand:
//! `cargo run -q -p ch04-udp -- server --drop 0.5`, then `cargo run -q -p ex04-retry`.
//! The book: docs/src/04-udp.md, "The tutorial's client waits forever".

// TIMEOUT and MAX_TRIES are here for your fix; until then nothing uses them.
#![allow(dead_code)]

use std::io;
use std::net::UdpSocket;
use std::process::ExitCode;
use std::time::Duration;

/// The tutorial's UDP server address.
const DEFAULT_ADDR: &str = "127.0.0.1:5005";

/// The tutorial's message.
const DEFAULT_MESSAGE: &str = "Hello, world";

/// How long to wait for a reply before sending again: loopback answers in microseconds.
const TIMEOUT: Duration = Duration::from_millis(300);

/// Sends in all, before giving up.
const MAX_TRIES: u32 = 3;

/// Bytes shown the way Python prints them: `b'Hello, world'`.
fn py_bytes(data: &[u8]) -> String {
    let mut out = String::from("b'");
    for &byte in data {
        match byte {
            b'\\' => out.push_str("\\\\"),
            b'\'' => out.push_str("\\'"),
            b'\n' => out.push_str("\\n"),
            0x20..=0x7e => out.push(char::from(byte)),
            _ => out.push_str(&format!("\\x{byte:02x}")),
        }
    }
    out.push('\'');
    out
}

fn main() -> io::Result<ExitCode> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| DEFAULT_ADDR.to_owned());
    let message = args.next().unwrap_or_else(|| DEFAULT_MESSAGE.to_owned());

    let socket = UdpSocket::bind("0.0.0.0:0")?;
    socket.send_to(message.as_bytes(), &addr)?;
    let mut buf = [0u8; 1024];
    let (n, _from) = socket.recv_from(&mut buf)?;
    println!("Received {} (try 1)", py_bytes(&buf[..n]));
    Ok(ExitCode::SUCCESS)
}
