//! Exercise 04-udp-echo, the reference: a buffer as large as a datagram, and no "close".
//!
//! Run: `cargo run -q -p exercise --bin ref-04-udp-echo -- 127.0.0.1:5005`

use std::io;
use std::net::UdpSocket;

/// The tutorial's UDP address, used when no address is given.
const DEFAULT_ADDR: &str = "127.0.0.1:5005";

/// The size of one recv: the largest UDP payload over IPv4 (65,535 minus the IP and UDP
/// headers). A datagram longer than the buffer is cut, and the rest is gone for good.
const BUF_SIZE: usize = 65_507;

fn main() -> io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| DEFAULT_ADDR.to_owned());
    let socket = UdpSocket::bind(&addr)?;
    println!("listening on {}", socket.local_addr()?);
    let mut buf = vec![0u8; BUF_SIZE];
    loop {
        // 0 bytes is an empty datagram, not a close: UDP has no connection to close.
        let (n, peer) = match socket.recv_from(&mut buf) {
            Ok(got) => got,
            // On Linux an ICMP error for an earlier reply can surface here: it is about that
            // peer, not about this socket.
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => continue,
            Err(e) => return Err(e),
        };
        // Each reply goes to the address this datagram came from: one socket, many peers.
        if let Err(e) = socket.send_to(&buf[..n], peer) {
            eprintln!("could not reply to {peer}: {e}");
        }
    }
}
