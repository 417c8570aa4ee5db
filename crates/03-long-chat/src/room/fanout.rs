//! The fan-out: one line in, a copy queued for everyone else, and what a room does about a
//! reader that cannot keep up.
//!
//! A line from a client is decoded once, encoded once, and its bytes are appended to each
//! receiver's output buffer (its *outbox*); after each round of events the event loop gives every
//! client with pending output one `send` with everything queued for it.
//!
//! Fan-out multiplies: one member who sends as fast as TCP allows makes the room queue that much
//! for *every* reader, faster than any of them can take it. So the room applies backpressure to
//! the senders, as chapter 02 does to one connection: while a receiver that is still reading has
//! [`PAUSE_READING_AT`] bytes waiting, the room stops reading anyone's lines. The senders' bytes
//! wait in the kernel, their receive buffers fill, and TCP's flow control slows them down, the
//! flooder first. A receiver that does not catch up within [`MAX_READER_STALL`] is stuck, not
//! slow: it no longer holds the room back, its output buffer grows, and when it passes
//! [`MAX_OUTBOX_BYTES`] the server gives up on that client, closes it, and tells the room why.
//! A reader is dropped only for its own slowness, and memory per client is bounded.

use std::io::{self, Write};
use std::time::{Duration, Instant};

use common::narrate;
use common::narrate::Narrator;
use common::step;
use common::text::{escape_controls, human_bytes};

use super::state::{Client, Room};
use crate::frame::{Frame, Kind};
use common::narrate::would_block;

// ANCHOR: outbox_limit
/// Bytes waiting to be sent to one client before the server gives up on it: about 5,000
/// typical chat lines, several seconds of a busy room. A client that falls this far behind is
/// not reading; keeping more would only let it eat our memory.
pub const MAX_OUTBOX_BYTES: usize = 256 << 10;
/// Bytes waiting for one receiver that make the room stop reading senders until it drains: a
/// quarter of [`MAX_OUTBOX_BYTES`], so that what is already read and relayed on top of it (one
/// frame at most) can never push a reader that keeps up over the limit.
pub const PAUSE_READING_AT: usize = MAX_OUTBOX_BYTES / 4;
/// How long one receiver may hold the room back: if it has not got back under
/// [`PAUSE_READING_AT`] within this time, or its socket has taken nothing for this long, it is
/// stuck (one that reads a byte now and then is not keeping up, and must not freeze the room
/// either). It stops holding the room back, and will be dropped at [`MAX_OUTBOX_BYTES`]. A
/// reader that is alive catches up in a few round trips; one that stopped reading has usually
/// taken nothing for this long before its queue even reaches [`PAUSE_READING_AT`], so at the
/// pace of a conversation it never pauses the room at all.
pub const MAX_READER_STALL: Duration = Duration::from_secs(1);
// ANCHOR_END: outbox_limit
/// An emptied output buffer larger than this is freed rather than kept.
const IDLE_BUFFER_KEEP: usize = 16 << 10;

impl Room {
    // ANCHOR: broadcast
    /// Queues `frame` for every client in the room except `except`. Encoded once. A receiver
    /// that is now behind pauses the room's reading (backpressure on the senders); one too far
    /// behind to take it at all is stuck, and dropped rather than allowed to hold up the room.
    pub(super) fn broadcast(&mut self, except: Option<usize>, frame: &Frame) {
        let bytes = frame.to_bytes();
        let now = Instant::now();
        let mut too_slow = Vec::new();
        for slot in self.clients.numbers() {
            let Some(client) = self.clients.get(slot) else { continue };
            if Some(slot) == except || client.name.is_none() || client.closing.is_some() {
                continue;
            }
            if client.pending() + bytes.len() > MAX_OUTBOX_BYTES {
                too_slow.push(slot);
                continue;
            }
            narrate!(
                self.n,
                "queue frame {} {} bytes for {}",
                frame.kind,
                bytes.len(),
                client.name.as_deref().unwrap_or("?")
            );
            queue(client, &bytes, now);
            self.paused |= holds_back(client, now);
            self.dirty.insert(slot);
            if frame.kind == Kind::Text {
                self.stats.deliveries += 1;
            }
        }
        for slot in too_slow {
            self.drop_too_slow(slot);
        }
    }
    // ANCHOR_END: broadcast

    /// Queues one frame for one client; a client too far behind to take it is dropped.
    pub(super) fn send(&mut self, slot: usize, frame: &Frame) {
        let n = self.n;
        let Some(client) = self.get(slot) else { return };
        if client.abort {
            return; // Being closed at once: nothing more will be sent to it.
        }
        if client.pending() + frame.wire_len() > MAX_OUTBOX_BYTES {
            self.drop_too_slow(slot);
            return;
        }
        narrate!(
            n,
            "queue frame {} {} bytes for {}",
            frame.kind,
            frame.wire_len(),
            client.name.as_deref().unwrap_or("a new client")
        );
        queue(client, &frame.to_bytes(), Instant::now());
        self.dirty.insert(slot);
    }

    /// A client whose output passed [`MAX_OUTBOX_BYTES`]: counted once, closed at once.
    fn drop_too_slow(&mut self, slot: usize) {
        let Some(client) = self.get(slot) else { return };
        if client.closing.is_none() {
            self.stats.too_slow += 1;
        }
        let reason = format!(
            "too slow: {} of messages waiting (MAX_OUTBOX_BYTES)",
            human_bytes(MAX_OUTBOX_BYTES as u64)
        );
        self.leave(slot, reason, true);
    }

    // ANCHOR: leave
    /// A client is going: stop reading from it, tell the room (if it had joined), and close it
    /// after its last output, or at once when `abort` (it cannot take output anyway).
    pub(super) fn leave(&mut self, slot: usize, reason: String, abort: bool) {
        let Some(client) = self.get(slot) else { return };
        if client.closing.is_some() {
            // Already going (many clients can leave in the same round, and a send to one that
            // is going can fail): it must still be closed, now if it cannot take output.
            client.abort |= abort;
            if abort {
                self.doomed.insert(slot);
            }
            return;
        }
        client.closing = Some(reason.clone());
        client.abort = abort;
        let name = client.name.clone();
        let who = escape_controls(&client.who());
        let why = escape_controls(&reason);
        match (&name, reason.is_empty()) {
            (Some(_), true) => eprintln!("{who} left"),
            (_, true) => eprintln!("{who} closed before joining"),
            (_, false) => eprintln!("{who} disconnected: {why}"),
        }
        if let Some(name) = name {
            let notice = if reason.is_empty() { name } else { format!("{name} ({reason})") };
            self.broadcast(Some(slot), &Frame::new(Kind::Leave, notice));
        }
        if abort || self.get(slot).is_some_and(|c| c.pending() == 0) {
            self.doomed.insert(slot);
        } else {
            self.dirty.insert(slot); // Close once what is queued has gone out.
        }
    }
    // ANCHOR_END: leave
}

/// Appends frame bytes to a client's output; output that starts waiting starts its stall clock.
pub(super) fn queue(client: &mut Client, bytes: &[u8], now: Instant) {
    if client.pending() == 0 {
        client.last_progress = now;
    }
    client.out.extend_from_slice(bytes);
    if client.pending() >= PAUSE_READING_AT && client.behind_since.is_none() {
        client.behind_since = Some(now);
    }
}

/// Is this receiver behind, and still keeping up? Then the room waits for it (backpressure).
/// One behind for [`MAX_READER_STALL`], or whose socket has taken nothing for as long, is
/// stuck, and the room goes on without it.
pub(super) fn holds_back(client: &Client, now: Instant) -> bool {
    let recent = |t: Instant| now.duration_since(t) < MAX_READER_STALL;
    client.name.is_some()
        && client.closing.is_none()
        && client.pending() >= PAUSE_READING_AT
        && client.behind_since.is_some_and(recent)
        && recent(client.last_progress)
}

/// Sends pending output until it is all gone or the socket's send buffer is full; a partial
/// send is normal on a non-blocking socket.
pub(super) fn flush(client: &mut Client, n: Narrator) -> io::Result<()> {
    while client.pending() > 0 {
        step!(n, &client.stream, "send({}, {} bytes)", client.fd(), client.pending());
        match client.stream.write(&client.out[client.sent..]) {
            Ok(written) => {
                narrate!(
                    n,
                    &client.stream,
                    "send({}, {} bytes) -> {written}",
                    client.fd(),
                    client.pending()
                );
                let short = written < client.pending();
                client.sent += written;
                if written > 0 {
                    client.last_progress = Instant::now();
                }
                if short {
                    break; // The send buffer is full: write interest tells us when it is not.
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let call = || format!("send({}, {} bytes)", client.fd(), client.pending());
                would_block(n, &client.stream, call, "the send buffer is full");
                break;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    if client.pending() < PAUSE_READING_AT {
        client.behind_since = None; // Caught up: the next time it falls behind is a new one.
    }
    if client.pending() == 0 {
        client.sent = 0;
        if client.out.capacity() > IDLE_BUFFER_KEEP {
            client.out = Vec::new();
        } else {
            client.out.clear();
        }
    } else if client.sent > 0 {
        client.out.drain(..client.sent);
        client.sent = 0;
    }
    Ok(())
}
