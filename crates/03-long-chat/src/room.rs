//! Room mode: one event loop relays every client's lines to every other client.
//!
//! A chat room is *fan-out*: one line in, 99 lines out when 100 people are in the room. With a
//! thread per client (and a second one to write, so a slow reader cannot block a sender), each
//! line would wake 99 writer threads, and the context switches would cost more than the sends.
//! So the room is chapter 02's event loop: one thread, non-blocking sockets, `epoll`. A line
//! from a client is decoded once, encoded once, and its bytes are appended to each receiver's
//! output buffer; after each round of events, every client with pending output gets one `send`
//! with everything queued for it (several frames in one system call when they pile up).
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
//!
//! Liveness lives here too: the loop wakes every [`Liveness::tick`] to send PINGs to silent
//! clients and to drop those silent for [`Liveness::peer_timeout`].

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use common::accept::{AcceptPolicy, AcceptStep};
use common::narrate;
use common::narrate::Narrator;
use common::stop::Stop;
use common::text::{escape_controls, human_bytes};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Registry, Token, Waker};

use crate::frame::{self, Decoder, Frame, FrameError, Kind, MAX_TEXT_LEN};
use crate::liveness::{self, Due, Heartbeat, Liveness};
use crate::server::Config;

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
/// Bytes asked for in each `recv`.
const READ_CHUNK: usize = 64 << 10;
/// Events handled per `poll`; more are reported by the next one.
const EVENTS_CAPACITY: usize = 1024;
/// An emptied output buffer larger than this is freed rather than kept.
const IDLE_BUFFER_KEEP: usize = 16 << 10;

const LISTENER: Token = Token(0);
const WAKER: Token = Token(1);
const FIRST_CLIENT: usize = 2;

/// What the room counts, for the summary line.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    /// Clients that joined.
    pub joined: u64,
    /// Text lines received and relayed.
    pub messages: u64,
    /// Copies delivered (queued) to receivers.
    pub deliveries: u64,
    /// Clients dropped for falling behind.
    pub too_slow: u64,
    /// Clients dropped by the heartbeat.
    pub timed_out: u64,
    /// Connections refused because the room was full.
    pub refused: u64,
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} client{} joined, relayed {} message{} ({} deliveries)",
            self.joined,
            if self.joined == 1 { "" } else { "s" },
            self.messages,
            if self.messages == 1 { "" } else { "s" },
            self.deliveries
        )?;
        if self.too_slow > 0 {
            write!(f, ", {} dropped as too slow", self.too_slow)?;
        }
        if self.timed_out > 0 {
            write!(f, ", {} timed out", self.timed_out)?;
        }
        if self.refused > 0 {
            write!(f, ", {} refused (room full)", self.refused)?;
        }
        Ok(())
    }
}

// ANCHOR: client
/// What the event loop remembers about one client.
struct Client {
    stream: TcpStream,
    peer: SocketAddr,
    /// `None` until its JOIN frame arrives.
    name: Option<String>,
    /// Bytes received, not yet whole frames.
    decoder: Decoder,
    /// Frames queued for this client: `out[sent..]` is still to send.
    out: Vec<u8>,
    sent: usize,
    /// The interest registered with the poller.
    interest: Interest,
    /// When we last heard a whole frame from it, and last sent it a PING.
    heartbeat: Heartbeat,
    /// When it connected: it must say JOIN within the peer timeout of this, whatever it sends.
    accepted: Instant,
    /// When its output last moved: a `send` took bytes, or output started waiting.
    last_progress: Instant,
    /// Since when it has had [`PAUSE_READING_AT`] or more waiting, if it has.
    behind_since: Option<Instant>,
    /// In the room's queue of senders to read once the room drains.
    waiting: bool,
    /// Set when the client is to go: why. It is closed once its output is sent, or at once
    /// when `abort` is set (a client too slow to take its output).
    closing: Option<String>,
    abort: bool,
}

impl Client {
    fn pending(&self) -> usize {
        self.out.len() - self.sent
    }

    fn fd(&self) -> String {
        common::narrate::fd(&self.stream)
    }

    /// Who this is, for logs: the name once known, else the address.
    fn who(&self) -> String {
        match &self.name {
            Some(name) => format!("{name} ({})", self.peer),
            None => self.peer.to_string(),
        }
    }
}
// ANCHOR_END: client

/// The room: every client, in slots a token names, plus the loop's bookkeeping.
struct Room {
    clients: Vec<Option<Client>>,
    free: Vec<usize>,
    /// Slots with output to send after this round of events.
    dirty: HashSet<usize>,
    /// Slots to close after this round.
    doomed: HashSet<usize>,
    /// Backpressure: a reader is behind, so senders are not read for now.
    paused: bool,
    /// Members with lines left unread while paused, in the order they are to be read again.
    waiting: VecDeque<usize>,
    next_guest: u64,
    next_ping: u64,
    stats: Stats,
    liveness: Liveness,
    n: Narrator,
}

// ANCHOR: event_loop
/// Serves the room from this one thread until `stop` triggers; returns the statistics.
///
/// # Errors
/// When the poller cannot be created or `poll` itself fails.
pub fn serve(listener: std::net::TcpListener, config: &Config, stop: &Arc<Stop>) -> Result<Stats> {
    let n = config.narrator;
    listener.set_nonblocking(true).context("could not make the listener non-blocking")?;
    let mut listener = TcpListener::from_std(listener);
    let mut poll = Poll::new().context("could not create the poller (epoll/kqueue)")?;
    poll.registry().register(&mut listener, LISTENER, Interest::READABLE)?;
    narrate!(n, "register(listener, READABLE)");
    // Ctrl-C arrives on another thread; the waker makes our poll() return.
    let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
    let _wake = stop.watch(move || {
        let _ = waker.wake();
    });

    let mut room = Room {
        clients: Vec::new(),
        free: Vec::new(),
        dirty: HashSet::new(),
        doomed: HashSet::new(),
        paused: false,
        waiting: VecDeque::new(),
        next_guest: 1,
        next_ping: 1,
        stats: Stats::default(),
        liveness: config.liveness,
        n,
    };
    let mut events = Events::with_capacity(EVENTS_CAPACITY);
    let mut scratch = vec![0u8; READ_CHUNK];
    let tick = config.liveness.tick();
    let mut next_check = Instant::now() + tick;
    let mut accept_errors = AcceptPolicy::new(n);
    // Set while out of descriptors: accepting pauses until then (common::accept).
    let mut accept_again_at: Option<Instant> = None;
    while !stop.is_stopping() {
        // Sleep until a socket is ready or the next heartbeat check is due: 0 % CPU when idle.
        // While paused, wake often enough to notice a reader that has stalled; while out of
        // descriptors, wake when accepting may resume.
        let wake_at = accept_again_at.map_or(next_check, |at| at.min(next_check));
        let mut timeout = wake_at.saturating_duration_since(Instant::now());
        if room.paused {
            timeout = timeout.min(MAX_READER_STALL / 4);
        }
        if !room.dirty.is_empty() {
            timeout = Duration::ZERO; // Lines read on resuming are still to be sent.
        }
        match poll.poll(&mut events, Some(timeout)) {
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
                Token(token) => {
                    let slot = token - FIRST_CLIENT;
                    if event.is_readable() || event.is_read_closed() || event.is_error() {
                        // A plain "readable" lets receive stop at a short read; one that also
                        // says "closed" must read on, to find the FIN behind the data.
                        let plain = !event.is_read_closed() && !event.is_error();
                        room.receive(slot, &mut scratch, plain);
                    }
                    if event.is_writable() {
                        room.dirty.insert(slot);
                    }
                }
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
    fn get(&mut self, slot: usize) -> Option<&mut Client> {
        self.clients.get_mut(slot).and_then(Option::as_mut)
    }

    fn live(&self) -> usize {
        self.clients.len() - self.free.len()
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
            let (mut stream, peer) = match listener.accept() {
                Ok(accepted) => accepted,
                // Queue empty, a client that gave up while queued, out of descriptors, or a
                // broken listener: common::accept decides, the same way in every chapter.
                Err(e) => match accept_errors.after_error(&e) {
                    AcceptStep::WaitForReadiness => return Ok(None),
                    AcceptStep::AcceptAgain => continue,
                    AcceptStep::BackOff(pause) => return Ok(Some(Instant::now() + pause)),
                    AcceptStep::GiveUp => return Err(e),
                },
            };
            accept_errors.accepted();
            narrate!(n, "accept() -> {}, peer {peer}", common::narrate::fd(&stream));
            if self.live() >= config.max_clients {
                self.stats.refused += 1;
                let refusal = Frame::new(
                    Kind::Error,
                    format!("the room is full ({} clients, --max-clients)", config.max_clients),
                );
                // Best effort: a fresh socket's send buffer is empty, so this fits.
                let _ = stream.write(&refusal.to_bytes());
                narrate!(n, "send frame ERROR: room full; close({})", common::narrate::fd(&stream));
                continue;
            }
            // Chat lines are small and should go out at once, not wait for Nagle's algorithm.
            let _ = stream.set_nodelay(true);
            liveness::set_keepalive(socket2::SockRef::from(&stream), config.liveness.keepalive, n);
            let now = Instant::now();
            let client = Client {
                stream,
                peer,
                name: None,
                decoder: Decoder::new(),
                out: Vec::new(),
                sent: 0,
                interest: Interest::READABLE,
                heartbeat: Heartbeat::new(now),
                accepted: now,
                last_progress: now,
                behind_since: None,
                waiting: false,
                closing: None,
                abort: false,
            };
            let slot = match self.free.pop() {
                Some(slot) => {
                    self.clients[slot] = Some(client);
                    slot
                }
                None => {
                    self.clients.push(Some(client));
                    self.clients.len() - 1
                }
            };
            let Some(client) = self.get(slot) else { continue };
            if let Err(e) = registry.register(
                &mut client.stream,
                Token(slot + FIRST_CLIENT),
                Interest::READABLE,
            ) {
                eprintln!("could not register {peer}: {e}");
                self.clients[slot] = None;
                self.free.push(slot);
                continue;
            }
            narrate!(n, "register({}, READABLE)", client.fd());
        }
    }

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
            let got = match client.stream.read(scratch) {
                Ok(got) => got,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    narrate!(n, "recv({}) -> {e}", client.fd());
                    self.leave(slot, e.to_string(), true);
                    return;
                }
            };
            if got == 0 {
                // recv() returned 0: the client closed its sending side. Between frames that
                // is a goodbye; inside one, the frame is lost.
                narrate!(n, "recv({}) -> 0 bytes (peer closed)", client.fd());
                let reason = match client.decoder.unfinished() {
                    None => String::new(),
                    Some((have, want)) => {
                        format!("closed in the middle of a frame ({have} of {want} bytes)")
                    }
                };
                self.leave(slot, reason, false);
                return;
            }
            narrate!(n, "recv({}) -> {got} bytes", client.fd());
            client.decoder.extend(&scratch[..got]);
            // A short read means the receive buffer is empty now (epoll(7)); the next data
            // raises a new edge. Not when the event also reported the FIN: read on to find it.
            if plain && got < scratch.len() {
                self.handle_buffered(slot);
                return;
            }
        }
    }
    // ANCHOR_END: receive

    // ANCHOR: backpressure
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

    /// After a round: when no reader that is still reading is behind any more, read the
    /// members the pause left waiting, oldest first, until the room pauses again.
    fn resume_if_drained(&mut self, scratch: &mut [u8]) {
        let n = self.n;
        let now = Instant::now();
        self.paused = self.clients.iter().flatten().any(|c| holds_back(c, now));
        while !self.paused {
            let Some(slot) = self.waiting.pop_front() else { return };
            let Some(client) = self.get(slot) else { continue };
            client.waiting = false;
            narrate!(n, "resume reading {}", client.who());
            self.receive(slot, scratch, false);
        }
    }
    // ANCHOR_END: backpressure

    // ANCHOR: handle
    /// Acts on one frame from a client.
    fn handle(&mut self, slot: usize, frame: Frame) {
        let n = self.n;
        let Some(client) = self.get(slot) else { return };
        narrate!(
            n,
            "recv frame {} {} bytes from {}",
            frame.kind,
            frame.wire_len(),
            client.name.as_deref().unwrap_or("a new client")
        );
        let Some(name) = client.name.clone() else {
            // The protocol's first rule: a client says JOIN before anything else.
            if frame.kind == Kind::Join {
                self.join(slot, &frame.text);
            } else {
                self.send(
                    slot,
                    &Frame::new(Kind::Error, format!("expected JOIN, got {}", frame.kind)),
                );
                self.leave(slot, format!("sent {} before JOIN", frame.kind), false);
            }
            return;
        };
        match frame.kind {
            Kind::Text if frame.text.len() > MAX_TEXT_LEN => {
                let error = format!(
                    "text of {} bytes is over MAX_TEXT_LEN ({MAX_TEXT_LEN})",
                    frame.text.len()
                );
                self.send(slot, &Frame::new(Kind::Error, error));
            }
            Kind::Text => {
                self.stats.messages += 1;
                self.broadcast(
                    Some(slot),
                    &Frame::new(Kind::Text, format!("{name}: {}", frame.text)),
                );
            }
            Kind::Nick => self.rename(slot, &name, &frame.text),
            Kind::List => {
                let names = self.names().join(" ");
                self.send(slot, &Frame::new(Kind::List, names));
            }
            Kind::Ping => self.send(slot, &Frame::new(Kind::Pong, frame.text)),
            Kind::Pong => {} // Heard: its heartbeat clock is already updated.
            Kind::Leave => self.leave(slot, String::new(), false),
            // Escaped: the operator's terminal must not obey what a client writes in it.
            Kind::Error => eprintln!("{name} reports an error: {}", escape_controls(&frame.text)),
            Kind::Join => {
                self.send(slot, &Frame::new(Kind::Error, "you have already joined; /nick renames"));
            }
        }
    }
    // ANCHOR_END: handle

    /// A bad frame: say so to the client; keep the connection if the framing survived.
    fn bad_frame(&mut self, slot: usize, error: &FrameError) {
        let Some(client) = self.get(slot) else { return };
        eprintln!("bad frame from {}: {error}", client.who());
        self.send(slot, &Frame::new(Kind::Error, error.to_string()));
        if !error.is_recoverable() {
            self.leave(slot, format!("protocol error: {error}"), false);
        }
    }

    /// A JOIN: pick the name, welcome the client, tell the room.
    fn join(&mut self, slot: usize, wanted: &str) {
        let name = self.free_name(wanted);
        if !wanted.is_empty() && !frame::valid_name(wanted) {
            let error = format!(
                "{wanted:?} is not a valid name (1-{} letters, digits, - _ .); you are {name}",
                frame::MAX_NAME_LEN
            );
            self.send(slot, &Frame::new(Kind::Error, error));
        }
        let Some(client) = self.get(slot) else { return };
        client.name = Some(name.clone());
        eprintln!("{name} joined from {}", client.peer);
        self.stats.joined += 1;
        // The first JOIN a client receives names itself; then who is here.
        self.send(slot, &Frame::new(Kind::Join, name.clone()));
        let names = self.names().join(" ");
        self.send(slot, &Frame::new(Kind::List, names));
        self.broadcast(Some(slot), &Frame::new(Kind::Join, name));
    }

    /// A free name: the wanted one if valid and free, else with a number after it, else
    /// `guestN`.
    fn free_name(&mut self, wanted: &str) -> String {
        let taken: HashSet<String> = self.names().into_iter().collect();
        let base = if frame::valid_name(wanted) { wanted.to_owned() } else { String::new() };
        if base.is_empty() {
            loop {
                let guest = format!("guest{}", self.next_guest);
                self.next_guest += 1;
                if !taken.contains(&guest) {
                    return guest;
                }
            }
        }
        if !taken.contains(&base) {
            return base;
        }
        (2..)
            .map(|i| format!("{}{i}", frame::truncate(&base, frame::MAX_NAME_LEN - 6)))
            .find(|name| !taken.contains(name))
            .expect("an unbounded range always has a free name")
    }

    /// A NICK: rename if the name is valid and free, and tell everyone.
    fn rename(&mut self, slot: usize, old: &str, new: &str) {
        if !frame::valid_name(new) {
            let error = format!(
                "{new:?} is not a valid name (1-{} letters, digits, - _ .)",
                frame::MAX_NAME_LEN
            );
            self.send(slot, &Frame::new(Kind::Error, error));
        } else if self.names().iter().any(|name| name == new) {
            if new != old {
                self.send(slot, &Frame::new(Kind::Error, format!("the name {new} is taken")));
            }
        } else {
            if let Some(client) = self.get(slot) {
                client.name = Some(new.to_owned());
            }
            eprintln!("{old} is now {new}");
            self.broadcast(None, &Frame::new(Kind::Nick, format!("{old} {new}")));
        }
    }

    /// The names of everyone who has joined and is not leaving.
    fn names(&self) -> Vec<String> {
        self.clients
            .iter()
            .flatten()
            .filter(|c| c.closing.is_none())
            .filter_map(|c| c.name.clone())
            .collect()
    }

    // ANCHOR: broadcast
    /// Queues `frame` for every client in the room except `except`. Encoded once. A receiver
    /// that is now behind pauses the room's reading (backpressure on the senders); one too far
    /// behind to take it at all is stuck, and dropped rather than allowed to hold up the room.
    fn broadcast(&mut self, except: Option<usize>, frame: &Frame) {
        let bytes = frame.to_bytes();
        let now = Instant::now();
        let mut too_slow = Vec::new();
        for slot in 0..self.clients.len() {
            let Some(client) = self.clients[slot].as_mut() else { continue };
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
    fn send(&mut self, slot: usize, frame: &Frame) {
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
    fn leave(&mut self, slot: usize, reason: String, abort: bool) {
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

    // ANCHOR: heartbeat
    /// Every tick: PING the clients that have been silent for a heartbeat, drop those silent
    /// for the whole peer timeout (or that never said JOIN).
    fn check_heartbeats(&mut self) {
        let now = Instant::now();
        let live = self.liveness;
        for slot in 0..self.clients.len() {
            let Some(client) = self.clients[slot].as_mut() else { continue };
            if client.closing.is_some() {
                if client.heartbeat.silent(now) >= live.peer_timeout {
                    self.doomed.insert(slot); // Said goodbye but will not take its last bytes.
                }
                continue;
            }
            if self.paused && client.name.is_some() {
                // We are not reading it (backpressure): its silence proves nothing.
                client.heartbeat.heard(now);
            }
            // The JOIN deadline counts from accept, not from the last byte: a newcomer that
            // trickles a byte now and then must not keep its slot for ever.
            if client.name.is_none() {
                if now.duration_since(client.accepted) >= live.peer_timeout {
                    let error = format!("no JOIN within {}", liveness::secs(live.peer_timeout));
                    self.send(slot, &Frame::new(Kind::Error, error.clone()));
                    self.leave(slot, error, false);
                }
                // Not in the room yet: no PING, only the deadline.
                continue;
            }
            match client.heartbeat.check(&live, now) {
                Due::Gone => {
                    self.stats.timed_out += 1;
                    let reason =
                        format!("no answer to heartbeat for {}", liveness::secs(live.peer_timeout));
                    self.leave(slot, reason, true);
                }
                Due::Ping => {
                    let ping = Frame::new(Kind::Ping, self.next_ping.to_string());
                    self.next_ping += 1;
                    self.send(slot, &ping);
                }
                Due::Nothing => {}
            }
        }
    }
    // ANCHOR_END: heartbeat

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
            let Some(mut client) = self.clients.get_mut(slot).and_then(Option::take) else {
                continue;
            };
            self.free.push(slot);
            self.dirty.remove(&slot);
            let _ = registry.deregister(&mut client.stream);
            narrate!(self.n, "close({}) peer {}", client.fd(), client.peer);
        }
    }

    /// Ctrl-C: tell every client, send what fits, close them all.
    fn shut_down(&mut self, registry: &Registry) {
        let n = self.n;
        narrate!(n, "stopping: closing {} connection(s)", self.live());
        let goodbye = Frame::new(Kind::Error, "the server is shutting down").to_bytes();
        for slot in 0..self.clients.len() {
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

/// Appends frame bytes to a client's output; output that starts waiting starts its stall clock.
fn queue(client: &mut Client, bytes: &[u8], now: Instant) {
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
fn holds_back(client: &Client, now: Instant) -> bool {
    let recent = |t: Instant| now.duration_since(t) < MAX_READER_STALL;
    client.name.is_some()
        && client.closing.is_none()
        && client.pending() >= PAUSE_READING_AT
        && client.behind_since.is_some_and(recent)
        && recent(client.last_progress)
}

/// Sends pending output until it is all gone or the socket's send buffer is full; a partial
/// send is normal on a non-blocking socket.
fn flush(client: &mut Client, n: Narrator) -> io::Result<()> {
    while client.pending() > 0 {
        match client.stream.write(&client.out[client.sent..]) {
            Ok(written) => {
                narrate!(n, "send({}, {} bytes) -> {written}", client.fd(), client.pending());
                let short = written < client.pending();
                client.sent += written;
                if written > 0 {
                    client.last_progress = Instant::now();
                }
                if short {
                    break; // The send buffer is full: write interest tells us when it is not.
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
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
