//! Exercise 04-retry, a wrong answer: a timeout and no retry.
//!
//! It no longer hangs, and it gives up on the first lost datagram.

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
    socket.connect(&addr)?;
    // A timeout, so it cannot hang; but a lost datagram is never sent again.
    socket.set_read_timeout(Some(TIMEOUT))?;
    socket.send(message.as_bytes())?;
    let mut buf = [0u8; 1024];
    match socket.recv(&mut buf) {
        Ok(n) => {
            println!("Received {} (try 1)", py_bytes(&buf[..n]));
            Ok(ExitCode::SUCCESS)
        }
        Err(_) => {
            println!("no reply after {MAX_TRIES} tries");
            Ok(ExitCode::FAILURE)
        }
    }
}
