//! Exercise 04-ping (write it): a UDP ping with sequence numbers.
//!
//! `ex04-ping ADDR COUNT WAIT_MS` sends COUNT probes to a UDP echo server (each: `PING` and a
//! 4-byte big-endian sequence number, 0 to COUNT-1), collects the replies until none has come
//! for WAIT_MS, and prints one line:
//!
//! ```text
//! sent 20 received 18 lost 2 duplicates 2 reordered 1
//! ```
//!
//! received: distinct sequence numbers that came back; lost: sent - received; duplicates:
//! replies whose number came back before; reordered: replies (not duplicates) with a number
//! lower than the highest seen so far. Only your own probes count.
//!
//! Fill in the `todo!()`s, then: `cargo exercise check 04-ping`. The grader's echo server is a
//! lossy relay: it drops, duplicates and delays some probes, always the same ones. Try it by
//! hand against the chapter's server: `cargo run -q -p ch04-udp -- server --drop 0.2`, then
//! `cargo run -q -p ex04-ping -- 127.0.0.1:5005 20 500`. The book: docs/src/04-udp.md.

// A skeleton's parameters are unused until you write the bodies; the lint would only shout.
#![allow(unused_variables, unused_imports, unused_mut, dead_code, unreachable_code)]

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
    highest: Option<u32>,
    duplicates: u32,
    reordered: u32,
}

impl Tally {
    /// One reply: a number seen before is a duplicate; one below the highest so far arrived
    /// out of order.
    fn record(&mut self, seq: u32) {
        todo!("insert into `seen` (a repeat is a duplicate); below `highest` is reordered")
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

    let mut tally = Tally::default();
    todo!(
        "socket (bind port 0, connect to addr), send the COUNT probes, then recv with a read \
           timeout of wait_ms, recording every probe of ours, until the timeout"
    );
    let received = tally.seen.len() as u32;
    println!(
        "sent {count} received {received} lost {} duplicates {} reordered {}",
        count - received,
        tally.duplicates,
        tally.reordered
    );
    Ok(())
}
