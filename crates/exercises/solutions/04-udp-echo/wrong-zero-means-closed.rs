//! Exercise 04-udp-echo, a wrong answer: the buffer is fixed, `0 bytes = closed` stays.
//!
//! An empty datagram is a datagram; this server takes it for a close, and stops serving
//! everyone.

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
        let (n, peer) = match socket.recv_from(&mut buf) {
            // The buffer is fixed; the TCP habit stays: 0 bytes means the peer closed.
            Ok((0, _)) => return Ok(()),
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
