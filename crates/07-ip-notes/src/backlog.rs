//! `backlog`: what `listen(backlog)` really limits.
//!
//! After `listen()`, the kernel completes TCP handshakes on its own, without the program, and
//! puts each finished connection in the listener's *accept queue*. `accept()` only takes the
//! next one out. The backlog bounds that queue: on Linux it holds `backlog + 1` connections,
//! and when it is full the kernel silently drops new SYNs, so the client's `connect()` neither
//! succeeds nor fails: it retransmits the SYN (after 1 s, 3 s, 7 s, …) until a slot frees up or
//! it gives up. The backlog is capped by `net.core.somaxconn`.
//!
//! The experiment listens with a small backlog, never calls `accept()`, and opens connections
//! one by one with a short connect timeout.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use common::narrate::{Narrator, family, fd};
use common::{narrate, step};
use serde::Serialize;
use socket2::{Domain, Protocol, Socket, Type};

use crate::sockets;

/// The default backlog: small, so the queue fills after a few connections.
pub const DEFAULT_BACKLOG: i32 = 2;
/// The default number of connections to try: enough to overflow the default backlog.
pub const DEFAULT_CONNECTIONS: usize = 6;
/// The default connect timeout: a queued handshake on loopback takes well under a millisecond,
/// so a connection that takes this long is one whose SYN was dropped.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_millis(300);
/// The most connections one run may open, so a typo cannot exhaust file descriptors.
pub const MAX_CONNECTIONS: usize = 1000;

/// What the experiment saw.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The listener's address.
    pub listener: String,
    /// The backlog asked for.
    pub backlog: i32,
    /// Connections whose handshake completed: they wait in the accept queue.
    pub completed: usize,
    /// Connections that timed out: their SYN was dropped because the queue was full.
    pub timed_out: usize,
    /// Connections that failed otherwise.
    pub failed: usize,
    /// The queue length the socket table shows for the listener (Linux), its Recv-Q.
    pub queue_in_table: Option<u32>,
    /// `net.core.somaxconn` (Linux).
    pub somaxconn: Option<u32>,
}

// ANCHOR: backlog
/// Listens with `backlog`, never accepts, and opens `connections` connections one at a time.
///
/// # Errors
/// When the listener cannot be set up.
pub fn run(
    host: IpAddr,
    backlog: i32,
    connections: usize,
    timeout: Duration,
    trace: bool,
) -> Result<Outcome> {
    let (server, client) = (Narrator::new("server", trace), Narrator::new("client", trace));
    let any_port = SocketAddr::new(host, 0);
    step!(server, "socket({}, SOCK_STREAM)", family(host));
    let listener = Socket::new(Domain::for_address(any_port), Type::STREAM, Some(Protocol::TCP))
        .context("could not create a socket")?;
    narrate!(server, "socket({}, SOCK_STREAM) -> {}", family(host), fd(&listener));
    step!(server, "bind({any_port})");
    listener.bind(&any_port.into()).with_context(|| format!("could not bind {any_port}"))?;
    let addr = listener.local_addr()?.as_socket().context("a TCP socket has an IP address")?;
    narrate!(server, "bind({any_port}) -> port {}", addr.port());
    step!(server, "listen(backlog={backlog})");
    listener.listen(backlog).context("could not listen")?;
    narrate::kernel::note_backlog(&listener, backlog);
    narrate!(server, &listener, "listen(backlog={backlog})");
    println!("listening on {addr} with listen(backlog={backlog}); accept() is never called");

    // ANCHOR_END: backlog
    // ANCHOR: fill_queue
    // Every connection that completes is kept open: closing it would free its queue slot.
    let mut open = Vec::new();
    let (mut timed_out, mut failed) = (0, 0);
    for i in 1..=connections {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
            .context("could not create a socket")?;
        // With --kernel, the pause shows the listener's accept queue before each connect(),
        // and the line after it both sockets: queued (ESTAB), or SYN-SENT when the SYN was
        // dropped.
        step!(client, &listener, "connect({addr})");
        let started = Instant::now();
        match socket.connect_timeout(&addr.into(), timeout) {
            Ok(()) => {
                // Timed before the narration: --kernel's look at the socket table takes time.
                let took = started.elapsed();
                narrate!(client, (&listener, &socket), "connect({addr}) -> ok, {}", fd(&socket));
                println!(
                    "connection {i}: connected in {:.1} ms: the kernel finished the handshake and queued it",
                    took.as_secs_f64() * 1000.0
                );
                open.push(socket);
            }
            Err(e) if common::timeout::is_timeout(&e) => {
                narrate!(
                    client,
                    (&listener, &socket),
                    "connect({addr}) -> no answer in {timeout:?}"
                );
                println!(
                    "connection {i}: timed out after {} ms: the queue is full, the kernel dropped the SYN",
                    timeout.as_millis()
                );
                timed_out += 1;
            }
            Err(e) => {
                narrate!(client, "connect({addr}) -> {e}");
                println!("connection {i}: {e}");
                failed += 1;
            }
        }
    }
    // ANCHOR_END: fill_queue

    let queue_in_table = sockets::read_table()
        .ok()
        .and_then(|table| table.into_iter().find(|e| e.local == addr && e.state == "LISTEN"))
        .map(|e| e.recv_q);
    let somaxconn = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|t| t.trim().parse().ok());
    let outcome = Outcome {
        listener: addr.to_string(),
        backlog,
        completed: open.len(),
        timed_out,
        failed,
        queue_in_table,
        somaxconn,
    };
    println!(
        "\n{} of {connections} completed the handshake and wait in the accept queue; {} timed out{}",
        outcome.completed,
        timed_out,
        if failed > 0 { format!("; {failed} failed") } else { String::new() }
    );
    if let Some(q) = queue_in_table {
        println!("the socket table agrees: the listener's Recv-Q (its accept queue) is {q}");
    }
    match somaxconn {
        Some(max) => println!(
            "/proc/sys/net/core/somaxconn = {max}: listen() silently caps any larger backlog to it"
        ),
        None => println!("(somaxconn is a Linux setting; this system has its own limit)"),
    }
    println!(
        "On Linux the queue holds backlog + 1 connections. A client whose SYN is dropped keeps \
         retrying,\nso a busy server looks slow rather than down; accept() faster, or raise \
         the backlog (and somaxconn)."
    );
    step!(server, &listener, "close() (the listener and its {} queued connections)", open.len());
    narrate!(server, "close() (the listener and its {} queued connections)", open.len());
    Ok(outcome)
}
