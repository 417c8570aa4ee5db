//! Exercise 04-udp-echo (fix it): a UDP echo server written with TCP habits.
//!
//! It works for short messages. It has two habits from TCP code that are wrong for UDP; find
//! them (the grader will show you), then: `cargo exercise check 04-udp-echo`.
//!
//! Try it by hand: `cargo run -q -p ex04-udp-echo`, then
//! `cargo run -q -p ch04-udp -- client --size 2000` and
//! `python3 -c "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b'', ('127.0.0.1', 5005))"`.
//! The book: docs/src/04-udp.md, "Datagram boundaries and truncation".

use std::io;
use std::net::UdpSocket;

/// The tutorial's UDP address, used when no address is given.
const DEFAULT_ADDR: &str = "127.0.0.1:5005";

/// The size of one recv, as in the TCP chapters.
const BUF_SIZE: usize = 1024;

fn main() -> io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| DEFAULT_ADDR.to_owned());
    let socket = UdpSocket::bind(&addr)?;
    println!("listening on {}", socket.local_addr()?);
    let mut buf = [0u8; BUF_SIZE];
    loop {
        let (n, peer) = socket.recv_from(&mut buf)?;
        if n == 0 {
            // The peer closed.
            break;
        }
        socket.send_to(&buf[..n], peer)?;
    }
    Ok(())
}
