//! The client: many connections from one thread, with non-blocking sockets and an event loop,
//! like the tutorial's `multiconn-client.py` (which uses `selectors`).
//!
//! Three jobs:
//! - **verify** (the default): N connections each send M messages and check every echoed byte;
//!   with the defaults, the tutorial's 2 connections × 2 messages;
//! - **ping-pong** (`--duration`): each connection sends a message, waits for its echo, and
//!   sends the next, for a bounded time; reports messages per second and latency;
//! - **hold** (`--hold N`): opens N connections and keeps them idle, for the 10,000-connection
//!   experiment.
//!
//! Each connection is a small state machine: the bytes to send, how many are sent, how many
//! of the echo have come back. The loop moves each one forward as `poll` reports it ready.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use common::narrate;
use common::narrate::Narrator;
use common::stop::Stop;
use common::text::py_bytes_preview;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token, Waker};

/// The tutorial's messages.
pub const TUTORIAL_MESSAGES: [&str; 2] = ["Message 1 from client.", "Message 2 from client."];
/// Latency is counted in 1 µs buckets up to this many µs; slower round trips share the last.
const LATENCY_BUCKETS: usize = 100_000;
/// Bytes asked for in each `recv`.
const READ_CHUNK: usize = 64 << 10;
const WAKER: Token = Token(usize::MAX);

/// What the client does.
#[derive(Debug, Clone)]
pub enum Job {
    /// Send `messages` messages on each of `connections` and verify every echoed byte.
    Verify {
        /// How many connections.
        connections: usize,
        /// Messages per connection.
        messages: usize,
        /// Bytes per message; `None` sends the tutorial's messages.
        size: Option<usize>,
        /// Print each send and receive, as the tutorial's client does.
        verbose: bool,
    },
    /// Ping-pong `size`-byte messages on each connection for `duration`.
    PingPong {
        /// How many connections.
        connections: usize,
        /// Bytes per message.
        size: usize,
        /// How long.
        duration: Duration,
    },
    /// Open `connections` and keep them idle until Ctrl-C or `duration`.
    Hold {
        /// How many connections.
        connections: usize,
        /// How long, at most.
        duration: Option<Duration>,
    },
}

/// One connection's state.
struct Conn {
    stream: TcpStream,
    id: usize,
    connected: bool,
    /// What this connection sends; the echo must match it byte for byte.
    outbox: Vec<u8>,
    /// Where each message ends in `outbox`, for the tutorial-style printout.
    message_ends: Vec<usize>,
    sent: usize,
    received: usize,
    interest: Interest,
    /// Ping-pong: when the message in flight was sent.
    sent_at: Instant,
    done: bool,
}

/// Latency counts in 1 µs buckets: bounded memory however long the run.
struct Histogram {
    buckets: Vec<u64>,
    count: u64,
}

impl Histogram {
    fn new() -> Self {
        Self { buckets: vec![0; LATENCY_BUCKETS], count: 0 }
    }

    fn record(&mut self, latency: Duration) {
        let micros = (latency.as_micros() as usize).min(LATENCY_BUCKETS - 1);
        self.buckets[micros] += 1;
        self.count += 1;
    }

    /// The `p`-th percentile as text: `48 µs`, or `≥ 100000 µs` when it fell in the last
    /// bucket, where slower round trips are only counted, not measured.
    fn percentile_text(&self, p: f64) -> String {
        match self.percentile(p) {
            micros if micros == LATENCY_BUCKETS - 1 => format!("≥ {micros} µs"),
            micros => format!("{micros} µs"),
        }
    }

    /// The `p`-th percentile (0 to 100) in µs.
    fn percentile(&self, p: f64) -> usize {
        let rank = ((p / 100.0) * self.count as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (micros, count) in self.buckets.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return micros;
            }
        }
        LATENCY_BUCKETS - 1
    }
}

// ANCHOR: run
/// Runs `job` against `server`, all connections from this one thread.
///
/// # Errors
/// When a connection fails, an echo differs from what was sent, or the poller fails.
pub fn run(server: SocketAddr, job: &Job, n: Narrator) -> Result<()> {
    let stop = Stop::new();
    let _ = stop.trigger_on_ctrl_c(); // Already installed (the demo): Ctrl-C still works.
    crate::server::raise_open_files_limit(n)?;
    let mut poll = Poll::new().context("could not create the poller (epoll/kqueue)")?;
    let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
    let _wake = stop.watch(move || {
        let _ = waker.wake();
    });

    let (count, size) = match job {
        Job::Verify { connections, .. } | Job::Hold { connections, .. } => (*connections, 0),
        Job::PingPong { connections, size, .. } => (*connections, *size),
    };
    let started = Instant::now();
    let mut conns = Vec::with_capacity(count);
    for id in 0..count {
        // A non-blocking connect() returns at once; the socket becomes writable when the
        // handshake is done (or has failed: then take_error() tells why).
        let mut stream =
            TcpStream::connect(server).with_context(|| format!("could not connect to {server}"))?;
        narrate!(
            n,
            "connection {}: socket(), non-blocking connect({server}) -> {}",
            id + 1,
            common::narrate::fd(&stream)
        );
        let interest = Interest::READABLE | Interest::WRITABLE;
        poll.registry().register(&mut stream, Token(id), interest)?;
        let (outbox, message_ends) = outbox_for(job, id);
        let conn = Conn {
            stream,
            id,
            connected: false,
            outbox,
            message_ends,
            sent: 0,
            received: 0,
            interest,
            sent_at: started,
            done: false,
        };
        conns.push(Some(conn));
    }
    let verbose = matches!(job, Job::Verify { verbose: true, .. });
    let deadline = match job {
        Job::PingPong { duration, .. } => Some(started + *duration),
        Job::Hold { duration, .. } => duration.map(|d| started + d),
        Job::Verify { .. } => None,
    };
    let hold = matches!(job, Job::Hold { .. });
    let mut latency = Histogram::new();
    let mut scratch = vec![0u8; READ_CHUNK];
    let mut events = Events::with_capacity(1024);
    let (mut open, mut connected, mut announced) = (count, 0, false);
    let mut verified_bytes = 0;
    while open > 0 && !stop.is_stopping() {
        let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if timeout == Some(Duration::ZERO) {
            break;
        }
        match poll.poll(&mut events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).context("poll failed"),
        }
        for event in events.iter() {
            let Some(Some(conn)) = conns.get_mut(event.token().0) else { continue };
            if !conn.connected {
                if let Some(e) = conn.stream.take_error()? {
                    // Kept as the error's source, so the report can add its hint.
                    return Err(anyhow::Error::new(e)
                        .context(format!("connection {} to {server} failed", conn.id + 1)));
                }
                if conn.stream.peer_addr().is_err() {
                    continue; // Not connected yet: a spurious wake-up.
                }
                conn.connected = true;
                connected += 1;
                conn.sent_at = Instant::now();
                if verbose {
                    println!("Starting connection {} to {server}", conn.id + 1);
                }
            }
            step(conn, &mut scratch, &mut latency, deadline, verbose, size, n, poll.registry())
                .with_context(|| format!("connection {} to {server}", conn.id + 1))?;
            if conn.done {
                open -= 1;
                verified_bytes += conn.outbox.len();
                if verbose {
                    println!("Closing connection {}", conn.id + 1);
                }
                narrate!(n, "close({})", common::narrate::fd(&conn.stream));
                conns[event.token().0] = None; // Dropping the stream closes the socket.
            }
        }
        if hold && !announced && connected == count {
            announced = true;
            println!(
                "holding {count} connections (all connected in {:.3} s); Ctrl-C to close them",
                started.elapsed().as_secs_f64()
            );
        }
    }
    let outcome = Outcome { open, connected, verified_bytes, elapsed: started.elapsed() };
    report(job, &outcome, &latency)
}
// ANCHOR_END: run

/// The bytes connection `id` sends, and where each message ends.
fn outbox_for(job: &Job, id: usize) -> (Vec<u8>, Vec<usize>) {
    let mut outbox = Vec::new();
    let mut ends = Vec::new();
    match job {
        Job::Verify { messages, size: None, .. } => {
            for i in 0..*messages {
                outbox.extend_from_slice(TUTORIAL_MESSAGES[i % TUTORIAL_MESSAGES.len()].as_bytes());
                ends.push(outbox.len());
            }
        }
        Job::Verify { messages, size: Some(size), .. } => {
            for i in 0..*messages {
                // Distinct bytes per connection and message, so a mixed-up echo cannot pass.
                outbox.extend((0..*size).map(|b| (b + i * 7 + id * 13) as u8));
                ends.push(outbox.len());
            }
        }
        Job::PingPong { size, .. } => {
            outbox.extend((0..*size).map(|b| (b + id) as u8));
            ends.push(outbox.len());
        }
        Job::Hold { .. } => {}
    }
    (outbox, ends)
}

// ANCHOR: step
/// Moves one connection forward: send what is due, check what came back, and keep write
/// interest only while there is something to send. In ping-pong, a complete echo starts the
/// next message at once, for as long as the deadline allows.
#[allow(clippy::too_many_arguments)]
fn step(
    conn: &mut Conn,
    scratch: &mut [u8],
    latency: &mut Histogram,
    deadline: Option<Instant>,
    verbose: bool,
    size: usize,
    n: Narrator,
    registry: &mio::Registry,
) -> Result<()> {
    if conn.outbox.is_empty() {
        return Ok(()); // Holding: nothing to send, nothing expected.
    }
    loop {
        send_due(conn, verbose, n)?;
        receive_echo(conn, scratch, verbose, n)?;
        if conn.received < conn.outbox.len() {
            break; // The rest of the echo comes with a later event.
        }
        match deadline {
            // Ping-pong: the echo is complete; send the next message if there is time.
            Some(deadline) if size > 0 => {
                latency.record(conn.sent_at.elapsed());
                if Instant::now() >= deadline {
                    conn.done = true;
                    break;
                }
                (conn.sent, conn.received, conn.sent_at) = (0, 0, Instant::now());
            }
            _ => {
                conn.done = true;
                break;
            }
        }
    }
    let wanted = if conn.sent < conn.outbox.len() {
        Interest::READABLE | Interest::WRITABLE
    } else {
        Interest::READABLE
    };
    if !conn.done && wanted != conn.interest {
        registry.reregister(&mut conn.stream, Token(conn.id), wanted)?;
        conn.interest = wanted;
    }
    Ok(())
}

/// Sends as much of the outbox as the socket takes (a partial send is normal on a
/// non-blocking socket).
fn send_due(conn: &mut Conn, verbose: bool, n: Narrator) -> Result<()> {
    while conn.sent < conn.outbox.len() {
        let next_end = conn
            .message_ends
            .iter()
            .copied()
            .find(|&end| end > conn.sent)
            .unwrap_or(conn.outbox.len());
        match conn.stream.write(&conn.outbox[conn.sent..next_end]) {
            Ok(written) => {
                if verbose && written > 0 {
                    println!(
                        "Sending {} to connection {}",
                        py_bytes_preview(&conn.outbox[conn.sent..conn.sent + written], 64),
                        conn.id + 1
                    );
                }
                narrate!(
                    n,
                    "connection {}: send({} bytes) -> {written}",
                    conn.id + 1,
                    next_end - conn.sent
                );
                conn.sent += written;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).context("send failed"),
        }
    }
    Ok(())
}

/// Reads whatever has arrived and checks it against what was sent.
fn receive_echo(conn: &mut Conn, scratch: &mut [u8], verbose: bool, n: Narrator) -> Result<()> {
    loop {
        match conn.stream.read(scratch) {
            Ok(0) => bail!(
                "the server closed the connection after echoing {} of {} bytes",
                conn.received,
                conn.outbox.len()
            ),
            Ok(got) => {
                narrate!(n, "connection {}: recv({}) -> {got} bytes", conn.id + 1, scratch.len());
                let expected = conn.outbox.get(conn.received..conn.received + got);
                if expected != Some(&scratch[..got]) {
                    bail!("the echo differs from what was sent, at byte {}", conn.received);
                }
                if verbose {
                    println!(
                        "Received {} from connection {}",
                        py_bytes_preview(&scratch[..got], 64),
                        conn.id + 1
                    );
                }
                conn.received += got;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).context("recv failed"),
        }
    }
    Ok(())
}
// ANCHOR_END: step

/// How a run ended.
struct Outcome {
    /// Connections not finished (verify) or still open (hold, ping-pong).
    open: usize,
    /// Connections whose handshake completed.
    connected: usize,
    /// Bytes echoed and checked on finished connections.
    verified_bytes: usize,
    elapsed: Duration,
}

fn report(job: &Job, outcome: &Outcome, latency: &Histogram) -> Result<()> {
    let secs = outcome.elapsed.as_secs_f64();
    match job {
        Job::Verify { connections, messages, .. } => {
            if outcome.open > 0 {
                bail!("stopped with {} of {connections} connections unfinished", outcome.open);
            }
            println!(
                "{connections} connections, {} messages, {} bytes echoed and verified in {secs:.3} s",
                connections * messages,
                outcome.verified_bytes
            );
        }
        Job::PingPong { connections, size, .. } => {
            println!(
                "{connections} connections, {size}-byte ping-pong for {secs:.2} s: {} messages, {:.0} messages/s, latency p50 {}, p99 {}",
                latency.count,
                latency.count as f64 / secs,
                latency.percentile_text(50.0),
                latency.percentile_text(99.0)
            );
        }
        Job::Hold { connections, .. } => {
            println!(
                "held {} of {connections} connections for {secs:.2} s, now closing them",
                outcome.connected
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_the_buckets() {
        let mut histogram = Histogram::new();
        for micros in 1..=100 {
            histogram.record(Duration::from_micros(micros));
        }
        assert_eq!(histogram.percentile(50.0), 50);
        assert_eq!(histogram.percentile(99.0), 99);
        histogram.record(Duration::from_secs(10));
        assert_eq!(
            histogram.percentile(100.0),
            LATENCY_BUCKETS - 1,
            "slow ones share the last bucket"
        );
        assert_eq!(histogram.percentile_text(100.0), "≥ 99999 µs");
        assert_eq!(histogram.percentile_text(50.0), "51 µs", "101 samples now");
    }

    #[test]
    fn the_default_outbox_is_the_tutorials_two_messages() {
        let job = Job::Verify { connections: 2, messages: 2, size: None, verbose: false };
        let (outbox, ends) = outbox_for(&job, 0);
        assert_eq!(outbox, b"Message 1 from client.Message 2 from client.");
        assert_eq!(ends, vec![22, 44]);
    }
}
