//! Room mode: one event loop relays every client's lines to every other client.
//!
//! A chat room is *fan-out*: one line in, 99 lines out when 100 people are in the room. With a
//! thread per client (and a second one to write, so a slow reader cannot block a sender), each
//! line would wake 99 writer threads, and the context switches would cost more than the sends.
//! So the room is chapter 02's event loop: one thread, non-blocking sockets, `epoll`.
//!
//! This file is the loop, in the order it runs: accept, read, decode, then (after the protocol
//! has acted on each frame) write, close. What the room remembers is in `state`, what the
//! frames mean in `protocol`, and how one line becomes a copy for everyone, with backpressure
//! on the senders, in `fanout`. They form a chain: this loop → protocol → fanout → state.

mod fanout;
mod protocol;
mod state;

use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use common::accept::{AcceptPolicy, AcceptStep};
use common::narrate;
use common::step;
use common::stop::Stop;
use mio::event::Event;
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Registry, Token, Waker};

pub use self::fanout::{MAX_OUTBOX_BYTES, MAX_READER_STALL, PAUSE_READING_AT};
use self::fanout::{flush, holds_back, queue};
pub use self::state::Stats;
use self::state::{Client, Room};
use crate::config::Config;
use crate::frame::{Frame, Kind};
use crate::liveness;
use common::narrate::would_block;

/// Bytes asked for in each `recv`.
const READ_CHUNK: usize = 64 << 10;
/// Events handled per `poll`; more are reported by the next one.
const EVENTS_CAPACITY: usize = 1024;

const LISTENER: Token = Token(0);
const WAKER: Token = Token(1);
const FIRST_CLIENT: usize = 2;

// ANCHOR: setup
/// Serves the room from this one thread until `stop` triggers; returns the statistics.
///
/// # Errors
/// When the poller cannot be created or `poll` itself fails.
pub fn serve(listener: std::net::TcpListener, config: &Config, stop: &Arc<Stop>) -> Result<Stats> {
    let n = config.narrator;
    listener.set_nonblocking(true).context("could not make the listener non-blocking")?;
    let mut listener = TcpListener::from_std(listener);
    let mut poll = Poll::new().context("could not create the poller (epoll/kqueue)")?;
    step!(n, "register(listener, READABLE)");
    poll.registry().register(&mut listener, LISTENER, Interest::READABLE)?;
    narrate!(n, &listener, "register(listener, READABLE)");
    // Ctrl-C arrives on another thread; the waker makes our poll() return.
    let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
    let _wake = stop.watch(move || {
        let _ = waker.wake();
    });
    // ANCHOR_END: setup

    // ANCHOR: event_loop
    let mut room = Room::new(config.liveness, n);
    let mut events = Events::with_capacity(EVENTS_CAPACITY);
    let mut scratch = vec![0u8; READ_CHUNK];
    let tick = config.liveness.tick();
    let mut next_check = Instant::now() + tick;
    let mut accept_errors = AcceptPolicy::new(n);
    // Set while out of descriptors: accepting pauses until then (common::accept).
    let mut accept_again_at: Option<Instant> = None;
    while !stop.is_stopping() {
        // Sleep until a socket is ready or the next heartbeat check is due: 0 % CPU when idle.
        let wake_at = accept_again_at.map_or(next_check, |at| at.min(next_check));
        match poll.poll(&mut events, Some(room.poll_timeout(wake_at))) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).context("poll failed"),
        }
        if accept_again_at.is_some_and(|at| Instant::now() >= at) {
            // The back-off is over: accept what queued up meanwhile (or back off again).
            accept_again_at = room
                .accept_all(&listener, poll.registry(), config, &mut accept_errors)
                .context("accept failed")?;
        }
        for event in events.iter() {
            match event.token() {
                LISTENER if accept_again_at.is_none() => {
                    accept_again_at = room
                        .accept_all(&listener, poll.registry(), config, &mut accept_errors)
                        .context("accept failed")?;
                }
                LISTENER => {}
                WAKER => {}
                Token(token) => room.client_event(token - FIRST_CLIENT, event, &mut scratch),
            }
        }
        if Instant::now() >= next_check {
            room.check_heartbeats();
            next_check = Instant::now() + tick;
        }
        // One send per client with everything queued for it this round, then the closes.
        room.flush_dirty(poll.registry());
        room.close_doomed(poll.registry());
        room.resume_if_drained(&mut scratch);
    }
    room.shut_down(poll.registry());
    Ok(room.stats)
}
// ANCHOR_END: event_loop

impl Room {
    /// How long `poll` may sleep: until `wake_at` (the next heartbeat check, or the end of an
    /// accept back-off), but while paused, often enough to notice a reader that has stalled,
    /// and not at all while lines read on resuming are still to be sent.
    fn poll_timeout(&self, wake_at: Instant) -> Duration {
        let timeout = wake_at.saturating_duration_since(Instant::now());
        match (self.dirty.is_empty(), self.paused) {
            (false, _) => Duration::ZERO,
            (true, true) => timeout.min(MAX_READER_STALL / 4),
            (true, false) => timeout,
        }
    }

    /// Accepts every connection waiting in the queue (the listener is edge-triggered).
    /// Returns when to try again, if descriptors ran out (chapter 02's back-off).
    fn accept_all(
        &mut self,
        listener: &TcpListener,
        registry: &Registry,
        config: &Config,
        accept_errors: &mut AcceptPolicy,
    ) -> io::Result<Option<Instant>> {
        let n = self.n;
        loop {
            step!(n, listener, "accept()");
            let (mut stream, peer) = match listener.accept() {
                Ok(accepted) => accepted,
                // Queue empty, a client that gave up while queued, out of descriptors, or a
                // broken listener: common::accept decides, the same way in every chapter.
                Err(e) => match accept_errors.after_error(&e) {
                    AcceptStep::WaitForReadiness => {
                        would_block(
                            n,
                            listener,
                            || "accept()".into(),
                            "the queue is empty: back to poll",
                        );
                        return Ok(None);
                    }
                    AcceptStep::AcceptAgain => continue,
                    AcceptStep::BackOff(pause) => return Ok(Some(Instant::now() + pause)),
                    AcceptStep::GiveUp => return Err(e),
                },
            };
            accept_errors.accepted();
            narrate!(n, (listener, &stream), "accept() -> {}, peer {peer}", narrate::fd(&stream));
            if self.live() >= config.max_clients {
                self.stats.refused += 1;
                let refusal = Frame::new(
                    Kind::Error,
                    format!("the room is full ({} clients, --max-clients)", config.max_clients),
                );
                // Best effort: a fresh socket's send buffer is empty, so this fits.
                step!(n, &stream, "send frame ERROR: room full; close({})", narrate::fd(&stream));
                let _ = stream.write(&refusal.to_bytes());
                narrate!(
                    n,
                    &stream,
                    "send frame ERROR: room full; close({})",
                    narrate::fd(&stream)
                );
                continue; // Dropping `stream` closes it.
            }
            // Chat lines are small and should go out at once, not wait for Nagle's algorithm.
            let _ = stream.set_nodelay(true);
            liveness::set_keepalive(socket2::SockRef::from(&stream), config.liveness.keepalive, n);
            let slot = self.insert(Client::new(stream, peer, Instant::now()));
            let Some(client) = self.get(slot) else { continue };
            step!(n, "register({}, READABLE)", client.fd());
            if let Err(e) = registry.register(
                &mut client.stream,
                Token(slot + FIRST_CLIENT),
                Interest::READABLE,
            ) {
                eprintln!("could not register {peer}: {e}");
                self.remove(slot);
                continue;
            }
            narrate!(n, "register({}, READABLE)", client.fd());
        }
    }

    // ANCHOR: client_event
    /// A client's socket is ready: read what has arrived; note that it can take output again.
    fn client_event(&mut self, slot: usize, event: &Event, scratch: &mut [u8]) {
        if event.is_readable() || event.is_read_closed() || event.is_error() {
            // A plain "readable" lets receive stop at a short read; one that also says
            // "closed" must read on, to find the FIN behind the data.
            let plain = !event.is_read_closed() && !event.is_error();
            self.receive(slot, scratch, plain);
        }
        if event.is_writable() {
            self.dirty.insert(slot);
        }
    }
    // ANCHOR_END: client_event

    // ANCHOR: receive
    /// Reads what has arrived from one client and handles each whole frame, until the kernel's
    /// buffer is empty, or the room pauses for a reader that is behind (see [`PAUSE_READING_AT`]).
    fn receive(&mut self, slot: usize, scratch: &mut [u8], plain: bool) {
        let n = self.n;
        loop {
            // Frames left in the decoder by a pause come first, in order.
            if !self.handle_buffered(slot) {
                return;
            }
            let Some(client) = self.get(slot) else { return };
            if client.closing.is_some() {
                return; // It said goodbye, or we did: nothing more is read from it.
            }
            step!(n, &client.stream, "recv({})", client.fd());
            let got = match client.stream.read(scratch) {
                Ok(got) => got,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let call = || format!("recv({})", client.fd());
                    would_block(n, &client.stream, call, "nothing more has arrived");
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    narrate!(n, &client.stream, "recv({}) -> {e}", client.fd());
                    self.leave(slot, e.to_string(), true);
                    return;
                }
            };
            // ANCHOR_END: receive
            // ANCHOR: peer_closed
            if got == 0 {
                // recv() returned 0: the client closed its sending side. Between frames that
                // is a goodbye; inside one, the frame is lost.
                narrate!(n, &client.stream, "recv({}) -> 0 bytes (peer closed)", client.fd());
                let reason = match client.decoder.unfinished() {
                    None => String::new(),
                    Some((have, want)) => {
                        format!("closed in the middle of a frame ({have} of {want} bytes)")
                    }
                };
                self.leave(slot, reason, false);
                return;
            }
            // ANCHOR_END: peer_closed
            narrate!(n, &client.stream, "recv({}) -> {got} bytes", client.fd());
            client.decoder.extend(&scratch[..got]);
            // A short read means the receive buffer is empty now (epoll(7)); the next data
            // raises a new edge. Not when the event also reported the FIN: read on to find it.
            if plain && got < scratch.len() {
                self.handle_buffered(slot);
                return;
            }
        }
    }

    // ANCHOR: decode
    /// Handles every whole frame in the client's decoder; a partial one waits for more bytes.
    /// Returns `false` when reading this client must stop: it is leaving, or the room paused
    /// (then it joins the queue of senders to read again when the room has drained).
    fn handle_buffered(&mut self, slot: usize) -> bool {
        loop {
            let paused = self.paused;
            let Some(client) = self.get(slot) else { return false };
            if client.closing.is_some() {
                return false;
            }
            // Backpressure: a member's lines wait (in our decoder, then in the kernel) while
            // a reader is behind. A newcomer is still read: all it may send is its JOIN.
            if paused && client.name.is_some() {
                if !client.waiting {
                    client.waiting = true;
                    self.waiting.push_back(slot);
                }
                return false;
            }
            match client.decoder.next_frame() {
                Ok(Some(frame)) => {
                    // Only a whole frame is a sign of life: a byte now and then is not.
                    client.heartbeat.heard(Instant::now());
                    self.handle(slot, frame);
                }
                Ok(None) => return true,
                Err(e) => self.bad_frame(slot, &e),
            }
        }
    }
    // ANCHOR_END: decode

    // ANCHOR: flush
    /// Sends each dirty client everything queued for it: usually one `send` for several frames.
    fn flush_dirty(&mut self, registry: &Registry) {
        let n = self.n;
        let dirty: Vec<usize> = self.dirty.drain().collect();
        for slot in dirty {
            let Some(client) = self.get(slot) else { continue };
            if client.abort {
                self.doomed.insert(slot);
                continue;
            }
            if let Err(e) = flush(client, n) {
                narrate!(n, "send({}) -> {e}", client.fd());
                self.leave(slot, e.to_string(), true);
                continue;
            }
            let Some(client) = self.get(slot) else { continue };
            if client.closing.is_some() && client.pending() == 0 {
                self.doomed.insert(slot);
                continue;
            }
            // Write interest only while output is pending (chapter 02's lesson).
            let wanted = if client.pending() > 0 {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            if wanted != client.interest {
                let token = Token(slot + FIRST_CLIENT);
                step!(n, "reregister({}, {wanted:?})", client.fd());
                if registry.reregister(&mut client.stream, token, wanted).is_ok() {
                    narrate!(
                        n,
                        "reregister({}, {wanted:?}) ({} bytes pending)",
                        client.fd(),
                        client.pending()
                    );
                    client.interest = wanted;
                }
            }
        }
    }
    // ANCHOR_END: flush

    /// Closes the clients whose time has come.
    fn close_doomed(&mut self, registry: &Registry) {
        let doomed: Vec<usize> = self.doomed.drain().collect();
        for slot in doomed {
            let Some(mut client) = self.remove(slot) else { continue };
            let _ = registry.deregister(&mut client.stream);
            narrate::close(self.n, client.stream, &format!(" peer {}", client.peer));
        }
    }

    // ANCHOR: resume
    /// After a round: when no reader that is still reading is behind any more, read the
    /// members the pause left waiting, oldest first, until the room pauses again.
    fn resume_if_drained(&mut self, scratch: &mut [u8]) {
        let n = self.n;
        let now = Instant::now();
        self.paused = self.clients.iter().any(|c| holds_back(c, now));
        while !self.paused {
            let Some(slot) = self.waiting.pop_front() else { return };
            let Some(client) = self.get(slot) else { continue };
            client.waiting = false;
            narrate!(n, "resume reading {}", client.who());
            self.receive(slot, scratch, false);
        }
    }
    // ANCHOR_END: resume

    /// Ctrl-C: tell every client, send what fits, close them all.
    fn shut_down(&mut self, registry: &Registry) {
        let n = self.n;
        narrate!(n, "stopping: closing {} connection(s)", self.live());
        let goodbye = Frame::new(Kind::Error, "the server is shutting down").to_bytes();
        for slot in self.clients.numbers() {
            let Some(client) = self.get(slot) else { continue };
            // Said only to those with room for it: a client that far behind is not counted
            // as dropped, it is simply closed with everyone else.
            if client.pending() + goodbye.len() <= MAX_OUTBOX_BYTES {
                narrate!(
                    n,
                    "queue frame ERROR {} bytes for {}",
                    goodbye.len(),
                    client.name.as_deref().unwrap_or("a new client")
                );
                queue(client, &goodbye, Instant::now());
            }
            let _ = flush(client, n);
            self.doomed.insert(slot);
        }
        self.close_doomed(registry);
    }
}
