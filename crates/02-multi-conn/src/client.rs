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

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use common::narrate;
use common::narrate::Narrator;
use common::stop::Stop;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Registry, Token, Waker};

use crate::limits::raise_open_files_limit;

mod conn;
mod report;

use conn::{Conn, Plan, step};
use report::{Histogram, Outcome, report};

/// The tutorial's messages.
pub const TUTORIAL_MESSAGES: [&str; 2] = ["Message 1 from client.", "Message 2 from client."];
/// Bytes asked for in each `recv`.
const READ_CHUNK: usize = 64 << 10;
/// Events handled per `poll`: more are simply reported by the next one.
const EVENTS_CAPACITY: usize = 1024;
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

impl Job {
    /// How many connections the job opens.
    fn connections(&self) -> usize {
        match self {
            Job::Verify { connections, .. }
            | Job::PingPong { connections, .. }
            | Job::Hold { connections, .. } => *connections,
        }
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
    raise_open_files_limit(n)?;
    let poll = Poll::new().context("could not create the poller (epoll/kqueue)")?;
    let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
    let _wake = stop.watch(move || {
        let _ = waker.wake();
    });
    let started = Instant::now();
    let conns = connect_all(server, job, poll.registry(), started, n)?;
    // ANCHOR_END: run
    // ANCHOR: run_plan
    let deadline = match job {
        Job::PingPong { duration, .. } => Some(started + *duration),
        Job::Hold { duration, .. } => duration.map(|d| started + d),
        Job::Verify { .. } => None,
    };
    let plan = Plan {
        deadline,
        ping_pong: matches!(job, Job::PingPong { .. }),
        verbose: matches!(job, Job::Verify { verbose: true, .. }),
        narrator: n,
    };
    let mut clients = Clients::new(server, conns, poll, plan);
    clients.until_done(&stop, matches!(job, Job::Hold { .. }), started)?;
    let (open, connected, verified_bytes) =
        (clients.open, clients.connected, clients.verified_bytes);
    let outcome = Outcome { open, connected, verified_bytes, elapsed: started.elapsed() };
    report(job, &outcome, &clients.latency)
}
// ANCHOR_END: run_plan

// ANCHOR: connect_all
/// Starts every connection's handshake, without waiting for any of them.
fn connect_all(
    server: SocketAddr,
    job: &Job,
    registry: &Registry,
    started: Instant,
    n: Narrator,
) -> Result<Vec<Option<Conn>>> {
    let mut conns = Vec::with_capacity(job.connections());
    for id in 0..job.connections() {
        // A non-blocking connect() returns at once; the socket becomes writable when the
        // handshake is done (or has failed: then take_error() tells why).
        common::step!(n, "connection {}: socket(), non-blocking connect({server})", id + 1);
        let mut stream =
            TcpStream::connect(server).with_context(|| format!("could not connect to {server}"))?;
        narrate!(
            n,
            &stream,
            "connection {}: socket(), non-blocking connect({server}) -> {}",
            id + 1,
            narrate::fd(&stream)
        );
        let interest = Interest::READABLE | Interest::WRITABLE;
        registry.register(&mut stream, Token(id), interest)?;
        conns.push(Some(Conn::new(stream, id, job, interest, started)));
    }
    Ok(conns)
}
// ANCHOR_END: connect_all

/// The client's event loop: every connection, and what the run has counted so far.
struct Clients {
    server: SocketAddr,
    /// Connection `id` is at index `id` (its token), `None` once closed.
    conns: Vec<Option<Conn>>,
    poll: Poll,
    plan: Plan,
    latency: Histogram,
    scratch: Vec<u8>,
    /// Connections not finished yet.
    open: usize,
    /// Connections whose handshake completed.
    connected: usize,
    /// Bytes echoed and checked on finished connections.
    verified_bytes: usize,
}

impl Clients {
    fn new(server: SocketAddr, conns: Vec<Option<Conn>>, poll: Poll, plan: Plan) -> Self {
        let open = conns.len();
        Self {
            server,
            conns,
            poll,
            plan,
            latency: Histogram::new(),
            scratch: vec![0u8; READ_CHUNK],
            open,
            connected: 0,
            verified_bytes: 0,
        }
    }

    // ANCHOR: event_loop
    /// Moves every connection forward as `poll` reports it ready, until all are done, the
    /// deadline passes, or Ctrl-C.
    fn until_done(&mut self, stop: &Stop, hold: bool, started: Instant) -> Result<()> {
        let mut events = Events::with_capacity(EVENTS_CAPACITY);
        let mut announced = false;
        while self.open > 0 && !stop.is_stopping() {
            let timeout = self.plan.deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if timeout == Some(Duration::ZERO) {
                break;
            }
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e).context("poll failed"),
            }
            for event in events.iter() {
                self.ready(event.token().0)?;
            }
            if hold && !announced && self.connected == self.conns.len() {
                announced = true;
                println!(
                    "holding {} connections (all connected in {:.3} s); Ctrl-C to close them",
                    self.conns.len(),
                    started.elapsed().as_secs_f64()
                );
            }
        }
        Ok(())
    }
    // ANCHOR_END: event_loop

    // ANCHOR: ready
    /// One connection's event: first its handshake's result, then a step of its job.
    fn ready(&mut self, id: usize) -> Result<()> {
        let (server, n) = (self.server, self.plan.narrator);
        let Some(Some(conn)) = self.conns.get_mut(id) else { return Ok(()) };
        if !conn.connected {
            if let Some(e) = conn.stream.take_error()? {
                // Kept as the error's source, so the report can add its hint.
                return Err(anyhow::Error::new(e)
                    .context(format!("connection {} to {server} failed", id + 1)));
            }
            if conn.stream.peer_addr().is_err() {
                return Ok(()); // Not connected yet: a spurious wake-up.
            }
            conn.connected = true;
            self.connected += 1;
            conn.sent_at = Instant::now();
            if self.plan.verbose {
                println!("Starting connection {} to {server}", id + 1);
            }
        }
        // ANCHOR_END: ready
        // ANCHOR: ready_step
        step(conn, &self.plan, &mut self.scratch, &mut self.latency, self.poll.registry())
            .with_context(|| format!("connection {} to {server}", id + 1))?;
        if conn.done {
            self.open -= 1;
            self.verified_bytes += conn.outbox.len();
            if self.plan.verbose {
                println!("Closing connection {}", id + 1);
            }
            if let Some(finished) = self.conns[id].take() {
                narrate::close(n, finished.stream, "");
            }
        }
        Ok(())
    }
    // ANCHOR_END: ready_step
}
