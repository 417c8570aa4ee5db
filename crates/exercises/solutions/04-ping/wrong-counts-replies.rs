//! Exercise 04-ping, a wrong answer: every reply counts as received.
//!
//! A duplicate then hides a loss: two probes lost and two duplicated look like a perfect run.
//!
//! Run: `cargo run -q -p exercise --bin wrong-04-ping-counts-replies -- 127.0.0.1:5005 20 300`

use std::collections::HashSet;
use std::io::{self, ErrorKind};
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

/// The tutorial's UDP server address.
const DEFAULT_ADDR: &str = "127.0.0.1:5005";

/// Every probe starts with these bytes: anything else is not an answer to us.
const MAGIC: &[u8; 4] = b"PING";

/// A probe: MAGIC, then the sequence number as 4 bytes, big-endian (network order).
const PROBE_LEN: usize = 8;

/// What the program counted.
#[derive(Default)]
struct Tally {
    seen: HashSet<u32>,
    replies: u32,
    highest: Option<u32>,
    duplicates: u32,
    reordered: u32,
}

impl Tally {
    /// One reply, counted as received: every reply is a probe that came back, is it not?
    fn record(&mut self, seq: u32) {
        self.replies += 1;
        if !self.seen.insert(seq) {
            self.duplicates += 1;
        }
        match self.highest {
            Some(high) if seq < high => self.reordered += 1,
            _ => self.highest = Some(seq),
        }
    }
}

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr: SocketAddr = args
        .next()
        .unwrap_or_else(|| DEFAULT_ADDR.to_owned())
        .parse()
        .map_err(|e| io::Error::new(ErrorKind::InvalidInput, e))?;
    let count: u32 = args.next().and_then(|c| c.parse().ok()).unwrap_or(10);
    let wait_ms: u64 = args.next().and_then(|w| w.parse().ok()).unwrap_or(1000);

    // Port 0: the kernel picks our port. connect() on UDP sends nothing; it fixes the peer, so
    // the kernel drops datagrams from anyone else and reports ICMP errors to us.
    let unspecified = if addr.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
    let socket = UdpSocket::bind(unspecified)?;
    socket.connect(addr)?;
    for seq in 0..count {
        let mut probe = [0u8; PROBE_LEN];
        probe[..4].copy_from_slice(MAGIC);
        probe[4..].copy_from_slice(&seq.to_be_bytes());
        socket.send(&probe)?;
    }

    // Replies until the network has been quiet for wait_ms: UDP never says "that is all".
    socket.set_read_timeout(Some(Duration::from_millis(wait_ms.max(1))))?;
    let mut tally = Tally::default();
    let mut buf = [0u8; 64];
    loop {
        match socket.recv(&mut buf) {
            Ok(n) => {
                // Only our own probes count: a datagram is whatever someone sent.
                if n == PROBE_LEN && &buf[..4] == MAGIC {
                    let seq = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
                    if seq < count {
                        tally.record(seq);
                    }
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
            // An ICMP "port unreachable" for an earlier probe: nobody listens there.
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let received = tally.replies;
    println!(
        "sent {count} received {received} lost {} duplicates {} reordered {}",
        count.saturating_sub(received),
        tally.duplicates,
        tally.reordered
    );
    Ok(())
}
