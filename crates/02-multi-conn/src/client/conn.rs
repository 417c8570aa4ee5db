//! One connection of the client: what it sends, how far it got, and the step that moves it
//! forward when `poll` reports it ready. A small state machine, where a blocking client would
//! simply run down its code: the loop leaves a connection at every `WouldBlock`, so the
//! connection must remember where it was.

use std::io::{self, Read, Write};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use common::narrate;
use common::narrate::Narrator;
use common::text::py_bytes_preview;
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use super::report::Histogram;
use super::{Job, TUTORIAL_MESSAGES};
use common::narrate::would_block;

/// What every connection of a run does alike.
pub(super) struct Plan {
    /// When ping-pong (or holding) ends.
    pub(super) deadline: Option<Instant>,
    /// Ping-pong: a complete echo starts the next message.
    pub(super) ping_pong: bool,
    /// Print each send and receive, as the tutorial's client does.
    pub(super) verbose: bool,
    /// Narration (`--trace`).
    pub(super) narrator: Narrator,
}

/// One connection's state.
pub(super) struct Conn {
    pub(super) stream: TcpStream,
    pub(super) id: usize,
    pub(super) connected: bool,
    /// What this connection sends; the echo must match it byte for byte.
    pub(super) outbox: Vec<u8>,
    /// Where each message ends in `outbox`, for the tutorial-style printout.
    pub(super) message_ends: Vec<usize>,
    pub(super) sent: usize,
    pub(super) received: usize,
    pub(super) interest: Interest,
    /// Ping-pong: when the message in flight was sent.
    pub(super) sent_at: Instant,
    pub(super) done: bool,
}

impl Conn {
    // ANCHOR: client_reregister
    /// Keeps write interest only while there is something left to send.
    fn reregister(&mut self, registry: &Registry) -> io::Result<()> {
        let wanted = if self.sent < self.outbox.len() {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        };
        if wanted != self.interest {
            registry.reregister(&mut self.stream, Token(self.id), wanted)?;
            self.interest = wanted;
        }
        Ok(())
    }
    // ANCHOR_END: client_reregister

    /// A connection `id` whose non-blocking `connect` has started, registered with `interest`.
    pub(super) fn new(
        stream: TcpStream,
        id: usize,
        job: &Job,
        interest: Interest,
        now: Instant,
    ) -> Self {
        let (outbox, message_ends) = outbox_for(job, id);
        Self {
            stream,
            id,
            connected: false,
            outbox,
            message_ends,
            sent: 0,
            received: 0,
            interest,
            sent_at: now,
            done: false,
        }
    }
}

/// The bytes connection `id` sends, and where each message ends.
pub(super) fn outbox_for(job: &Job, id: usize) -> (Vec<u8>, Vec<usize>) {
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
pub(super) fn step(
    conn: &mut Conn,
    plan: &Plan,
    scratch: &mut [u8],
    latency: &mut Histogram,
    registry: &Registry,
) -> Result<()> {
    if conn.outbox.is_empty() {
        return Ok(()); // Holding: nothing to send, nothing expected.
    }
    loop {
        send_due(conn, plan)?;
        receive_echo(conn, scratch, plan)?;
        if conn.received < conn.outbox.len() {
            break; // The rest of the echo comes with a later event.
        }
        // ANCHOR_END: step
        // ANCHOR: step_next
        match plan.deadline {
            // Ping-pong: the echo is complete; send the next message if there is time.
            Some(deadline) if plan.ping_pong => {
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
    if !conn.done {
        conn.reregister(registry)?;
    }
    Ok(())
}
// ANCHOR_END: step_next

// ANCHOR: send_due
/// Sends as much of the outbox as the socket takes (a partial send is normal on a
/// non-blocking socket).
fn send_due(conn: &mut Conn, plan: &Plan) -> Result<()> {
    let n = plan.narrator;
    while conn.sent < conn.outbox.len() {
        let next_end = conn
            .message_ends
            .iter()
            .copied()
            .find(|&end| end > conn.sent)
            .unwrap_or(conn.outbox.len());
        let (id, size) = (conn.id + 1, next_end - conn.sent);
        common::step!(n, &conn.stream, "connection {id}: send({size} bytes)");
        match conn.stream.write(&conn.outbox[conn.sent..next_end]) {
            Ok(written) => {
                if plan.verbose && written > 0 {
                    println!(
                        "Sending {} to connection {}",
                        py_bytes_preview(&conn.outbox[conn.sent..conn.sent + written], 64),
                        conn.id + 1
                    );
                }
                narrate!(n, &conn.stream, "connection {id}: send({size} bytes) -> {written}");
                conn.sent += written;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let call = || format!("connection {id}: send({size} bytes)");
                would_block(n, &conn.stream, call, "send buffer full");
                break;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).context("send failed"),
        }
    }
    Ok(())
}
// ANCHOR_END: send_due

// ANCHOR: receive_echo
/// Reads whatever has arrived and checks it against what was sent.
fn receive_echo(conn: &mut Conn, scratch: &mut [u8], plan: &Plan) -> Result<()> {
    let n = plan.narrator;
    let id = conn.id + 1;
    loop {
        common::step!(n, &conn.stream, "connection {id}: recv({})", scratch.len());
        match conn.stream.read(scratch) {
            Ok(0) => bail!(
                "the server closed the connection after echoing {} of {} bytes",
                conn.received,
                conn.outbox.len()
            ),
            Ok(got) => {
                narrate!(
                    n,
                    &conn.stream,
                    "connection {id}: recv({}) -> {got} bytes",
                    scratch.len()
                );
                let expected = conn.outbox.get(conn.received..conn.received + got);
                if expected != Some(&scratch[..got]) {
                    bail!("the echo differs from what was sent, at byte {}", conn.received);
                }
                if plan.verbose {
                    println!(
                        "Received {} from connection {}",
                        py_bytes_preview(&scratch[..got], 64),
                        conn.id + 1
                    );
                }
                conn.received += got;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let call = || format!("connection {id}: recv({})", scratch.len());
                would_block(n, &conn.stream, call, "nothing received");
                break;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).context("recv failed"),
        }
    }
    Ok(())
}
// ANCHOR_END: receive_echo

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_outbox_is_the_tutorials_two_messages() {
        let job = Job::Verify { connections: 2, messages: 2, size: None, verbose: false };
        let (outbox, ends) = outbox_for(&job, 0);
        assert_eq!(outbox, b"Message 1 from client.Message 2 from client.");
        assert_eq!(ends, vec![22, 44]);
    }
}
