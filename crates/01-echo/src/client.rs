//! The echo client: connect, send, and read back exactly what was sent.
//!
//! The tutorial's client calls `recv(1024)` once and prints what came back. That works on
//! loopback with a short message and is still a bug: `recv` returns what has *arrived*, which
//! can be part of the echo. This client reads until it has as many bytes as it sent.
//!
//! Read it top to bottom: [`run`] connects with chapter 01's recipe ([`crate::connect`]), then
//! does one of three jobs on the connection, and closes it:
//! - [`send_and_receive`] for `--message` and `--stdin`: one round trip per message;
//! - [`bulk`] for `--bytes N`: stream N bytes and verify every byte of the echo;
//! - [`round_trips`] for `--round-trips N`: many small round trips, timed (the latency bench).
//!
//! The jobs work on any [`Stream`], so `--unix PATH` ([`run_unix`]) only connects differently.

use std::io::{self, BufRead, Read, Write};
use std::net::Shutdown;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use common::narrate;
use common::narrate::{Narrator, Watch};
use common::step;

use crate::stream::Stream;

/// The tutorial's message.
pub const DEFAULT_MESSAGE: &str = "Hello, world";
/// Bytes per `send` and `recv` in bulk mode: big enough that system calls are not the cost.
const BULK_CHUNK: usize = 256 << 10;
/// The bulk pattern repeats every 251 bytes: a prime, so it never lines up with a buffer size
/// and a misplaced chunk shows up as a mismatch.
const PATTERN_PERIOD: usize = 251;

// ANCHOR: run_client
/// The `client` command: connect over TCP, do the job, close.
///
/// # Errors
/// As [`crate::connect::connect`], [`send_and_receive`] and [`bulk`].
pub fn run(host: &str, port: u16, job: Job, n: Narrator) -> Result<()> {
    // socket() and connect(), trying each address the host resolves to.
    let conn = crate::connect::connect(host, port, None, n)?;
    run_job(conn, job, n)
}
// ANCHOR_END: run_client

/// The `client --unix PATH` command: the same jobs over a Unix-domain socket.
///
/// # Errors
/// As [`crate::unix::connect`] and [`run`].
#[cfg(unix)]
pub fn run_unix(path: &std::path::Path, job: Job, n: Narrator) -> Result<()> {
    run_job(crate::unix::connect(path, n)?, job, n)
}

// ANCHOR: run_job
/// Does `job` on a connected socket, prints the result, and closes the socket.
fn run_job<S: Stream>(mut conn: S, job: Job, n: Narrator) -> Result<()> {
    match job {
        Job::Message(message) => {
            let reply = send_and_receive(&mut conn, message.as_bytes(), n)?;
            println!("Received {}", common::text::py_bytes(&reply));
        }
        Job::Stdin => {
            for line in io::stdin().lock().lines() {
                let line = line.context("could not read standard input")?;
                let reply = send_and_receive(&mut conn, line.as_bytes(), n)?;
                println!("Received {}", common::text::py_bytes(&reply));
            }
        }
        // bulk() narrates its own close: the socket is split between two threads.
        Job::Bulk(total) => return print_bulk(&bulk(conn, total, n)?),
        Job::RoundTrips { count, size } => {
            return print_latency(&round_trips(&mut conn, count, size)?, count, size);
        }
    }
    narrate::close(n, conn, "");
    Ok(())
}
// ANCHOR_END: run_job

// ANCHOR: send_and_receive
/// Sends `message` and reads until the whole echo is back.
///
/// # Errors
/// When the connection fails, or the server closes before echoing everything.
pub fn send_and_receive<S: Read + Write + Watch>(
    conn: &mut S,
    message: &[u8],
    n: Narrator,
) -> Result<Vec<u8>> {
    step!(n, &*conn, "sendall({} bytes)", message.len());
    conn.write_all(message).context("could not send")?;
    narrate!(n, &*conn, "sendall({} bytes)", message.len());

    // One recv() is not enough: it returns what has arrived so far, which may be only the
    // start of the echo. Keep reading until every byte we sent has come back.
    let mut reply = vec![0u8; message.len()];
    let mut received = 0;
    while received < reply.len() {
        let wanted = reply.len() - received;
        step!(n, &*conn, "recv({wanted})");
        let got = conn.read(&mut reply[received..]).context("could not receive")?;
        narrate!(n, &*conn, "recv({wanted}) -> {got} bytes");
        if got == 0 {
            bail!(
                "server closed the connection after echoing {received} of {} bytes",
                message.len()
            );
        }
        received += got;
    }
    Ok(reply)
}
// ANCHOR_END: send_and_receive

// ANCHOR: bulk_send
/// Streams `total` bytes through the echo server and checks every byte that comes back.
///
/// Sending and receiving run at the same time, on two threads. Sending everything first would
/// deadlock for large `total`: the echoes would fill our receive buffer, then the server's send
/// buffer; the server would block in `sendall` and stop reading; our send buffer would fill,
/// and our `send` would block too. Both sides waiting on each other, forever.
///
/// # Errors
/// On a connection error, a mismatched byte, or a server that closes early.
pub fn bulk<S: Stream>(conn: S, total: u64, n: Narrator) -> Result<BulkReport> {
    let pattern = pattern();
    let mut sender = conn.try_clone().context("could not clone the socket")?;
    let started = Instant::now();
    let sending = thread::spawn({
        let pattern = pattern.clone();
        move || -> io::Result<()> {
            let (mut sent, mut calls) = (0u64, 0u64);
            while sent < total {
                let chunk = expected_at(&pattern, sent, total - sent);
                sender.write_all(chunk)?;
                sent += chunk.len() as u64;
                calls += 1;
            }
            // One line for all the sends: a line each would bury the lesson (and cost time).
            narrate!(n, "sendall({BULK_CHUNK}) x {calls}: {sent} bytes sent");
            // Half-close: "no more data from me". The server echoes what is left, sees
            // recv() return 0, and closes, which our reader sees as the end.
            step!(n, &sender, "shutdown({}, SHUT_WR)", sender.fd());
            sender.shutdown(Shutdown::Write)?;
            narrate!(n, &sender, "shutdown({}, SHUT_WR)", sender.fd());
            Ok(())
        }
    });
    // ANCHOR_END: bulk_send

    // ANCHOR: bulk_receive
    let mut receiver = conn;
    let mut buf = vec![0u8; BULK_CHUNK];
    let (mut received, mut calls) = (0u64, 0u64);
    while received < total {
        let got = receiver.read(&mut buf).context("could not receive")?;
        calls += 1;
        if got == 0 {
            bail!("server closed the connection after echoing {received} of {total} bytes");
        }
        let expected = expected_at(&pattern, received, got as u64);
        if buf[..got] != *expected {
            let at = buf.iter().zip(expected).position(|(a, b)| a != b).unwrap_or(0);
            bail!(
                "echo differs at byte {}: sent {}, got {}",
                received + at as u64,
                expected[at],
                buf[at]
            );
        }
        received += got as u64;
    }
    let elapsed = started.elapsed();
    narrate!(n, &receiver, "recv({BULK_CHUNK}) x {calls}: {received} bytes received and checked");
    sending
        .join()
        .map_err(|_| anyhow::anyhow!("the sending thread panicked"))?
        .context("could not send")?;
    narrate::close(n, receiver, "");
    Ok(BulkReport { bytes: total, elapsed })
}
// ANCHOR_END: bulk_receive

// ANCHOR: round_trips
/// Sends `count` messages of `size` bytes, one at a time, and times each round trip.
///
/// # Errors
/// As [`send_and_receive`].
pub fn round_trips<S: Stream>(conn: &mut S, count: u64, size: usize) -> Result<Latency> {
    // Nagle's algorithm holds back a small segment while earlier data is unacknowledged; for
    // request/reply traffic that adds delay, so latency-minded clients turn it off.
    // (A Unix socket has no Nagle delay; there this does nothing.)
    conn.set_nodelay(true).context("could not set TCP_NODELAY")?;
    let message = vec![b'x'; size];
    let mut sorted = Vec::with_capacity(count as usize);
    let started = Instant::now();
    for _ in 0..count {
        let sent_at = Instant::now();
        // Not narrated, even with --trace: thousands of lines would bury the result, and
        // printing them would be part of what we time.
        send_and_receive(conn, &message, Narrator::new("client", false))?;
        sorted.push(sent_at.elapsed());
    }
    let elapsed = started.elapsed();
    sorted.sort_unstable();
    Ok(Latency { sorted, elapsed })
}
// ANCHOR_END: round_trips

/// What the `client` command does once connected.
#[derive(Debug, Clone)]
pub enum Job {
    /// Send one message and print its echo.
    Message(String),
    /// Send each line of standard input and print each echo.
    Stdin,
    /// Stream this many bytes and verify the echo.
    Bulk(u64),
    /// Time this many round trips of `size` bytes.
    RoundTrips {
        /// How many round trips.
        count: u64,
        /// Bytes per message.
        size: usize,
    },
}

/// Prints what `--bytes` measured.
fn print_bulk(report: &BulkReport) -> Result<()> {
    println!(
        "echoed and verified {} in {:.3} s: {:.1} MiB/s",
        common::text::human_bytes(report.bytes),
        report.elapsed.as_secs_f64(),
        report.mib_per_sec()
    );
    Ok(())
}

/// Prints what `--round-trips` measured.
fn print_latency(latency: &Latency, count: u64, size: usize) -> Result<()> {
    let micros = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "{count} round trips of {size} bytes in {:.3} s: p50 {:.1} µs, p99 {:.1} µs, mean {:.1} µs",
        latency.elapsed.as_secs_f64(),
        micros(latency.percentile(50.0)),
        micros(latency.percentile(99.0)),
        micros(latency.elapsed) / count as f64,
    );
    Ok(())
}

/// What a bulk run measured.
#[derive(Debug, Clone, Copy)]
pub struct BulkReport {
    /// Bytes sent, echoed and verified.
    pub bytes: u64,
    /// From the first send to the last verified byte.
    pub elapsed: Duration,
}

impl BulkReport {
    /// Echo throughput in MiB per second (each byte crossed the connection twice).
    pub fn mib_per_sec(&self) -> f64 {
        self.bytes as f64 / (1 << 20) as f64 / self.elapsed.as_secs_f64()
    }
}

/// Round-trip times of a run of small messages.
#[derive(Debug, Clone)]
pub struct Latency {
    /// Every round trip, sorted, shortest first.
    pub sorted: Vec<Duration>,
    /// From the first send to the last receive.
    pub elapsed: Duration,
}

impl Latency {
    /// The `p`-th percentile (0–100).
    pub fn percentile(&self, p: f64) -> Duration {
        let last = self.sorted.len().saturating_sub(1);
        let index = ((p / 100.0) * last as f64).round() as usize;
        self.sorted.get(index.min(last)).copied().unwrap_or_default()
    }
}

/// The repeating byte pattern, long enough to slice any chunk from any offset.
fn pattern() -> std::sync::Arc<[u8]> {
    (0..PATTERN_PERIOD + BULK_CHUNK).map(|i| (i % PATTERN_PERIOD) as u8).collect()
}

/// The bytes the stream holds at `offset`, at most `len` and at most one chunk.
fn expected_at(pattern: &[u8], offset: u64, len: u64) -> &[u8] {
    let start = (offset % PATTERN_PERIOD as u64) as usize;
    let len = len.min(BULK_CHUNK as u64) as usize;
    &pattern[start..start + len]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_slices_continue_across_chunks() {
        let pattern = pattern();
        let whole: Vec<u8> = (0..1000u64).map(|i| (i % PATTERN_PERIOD as u64) as u8).collect();
        let mut stitched = Vec::new();
        let mut offset = 0;
        while offset < 1000 {
            let piece = expected_at(&pattern, offset, 333.min(1000 - offset));
            stitched.extend_from_slice(piece);
            offset += piece.len() as u64;
        }
        assert_eq!(stitched, whole);
    }

    #[test]
    fn percentiles_pick_from_sorted_samples() {
        let latency = Latency {
            sorted: (1..=100).map(Duration::from_micros).collect(),
            elapsed: Duration::from_millis(1),
        };
        assert_eq!(latency.percentile(50.0), Duration::from_micros(51));
        assert_eq!(latency.percentile(99.0), Duration::from_micros(99));
        assert_eq!(latency.percentile(100.0), Duration::from_micros(100));
    }
}
