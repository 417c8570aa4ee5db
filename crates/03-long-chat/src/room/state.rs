//! What the room remembers: one [`Client`] per connection, in a slot table, and the counts for
//! the summary line.
//!
//! The leaf of the room: the event loop ([`crate::room`]), the chat protocol and the fan-out
//! all work on these types, and this module calls none of them.

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::net::SocketAddr;
use std::time::Instant;

use common::narrate::Narrator;
use common::text::plural;
use mio::Interest;
use mio::net::TcpStream;

use ch02_multi_conn::slots::Slots;

use crate::frame::Decoder;
use crate::liveness::{Heartbeat, Liveness};

// ANCHOR: client
/// What the event loop remembers about one client.
pub(super) struct Client {
    pub(super) stream: TcpStream,
    pub(super) peer: SocketAddr,
    /// `None` until its JOIN frame arrives.
    pub(super) name: Option<String>,
    /// Bytes received, not yet whole frames.
    pub(super) decoder: Decoder,
    /// Frames queued for this client: `out[sent..]` is still to send.
    pub(super) out: Vec<u8>,
    pub(super) sent: usize,
    /// The interest registered with the poller.
    pub(super) interest: Interest,
    /// When we last heard a whole frame from it, and last sent it a PING.
    pub(super) heartbeat: Heartbeat,
    /// When it connected: it must say JOIN within the peer timeout of this, whatever it sends.
    pub(super) accepted: Instant,
    /// When its output last moved: a `send` took bytes, or output started waiting.
    pub(super) last_progress: Instant,
    /// Since when it has had [`super::PAUSE_READING_AT`] or more waiting, if it has.
    pub(super) behind_since: Option<Instant>,
    /// In the room's queue of senders to read once the room drains.
    pub(super) waiting: bool,
    /// Set when the client is to go: why. It is closed once its output is sent, or at once
    /// when `abort` is set (a client too slow to take its output).
    pub(super) closing: Option<String>,
    pub(super) abort: bool,
}
// ANCHOR_END: client

impl Client {
    /// A client just accepted: no name yet, nothing to send, every clock starting `now`.
    pub(super) fn new(stream: TcpStream, peer: SocketAddr, now: Instant) -> Self {
        Self {
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
        }
    }

    /// Bytes queued for this client and not yet taken by its socket.
    pub(super) fn pending(&self) -> usize {
        self.out.len() - self.sent
    }

    pub(super) fn fd(&self) -> String {
        common::narrate::fd(&self.stream)
    }

    /// Who this is, for logs: the name once known, else the address.
    pub(super) fn who(&self) -> String {
        match &self.name {
            Some(name) => format!("{name} ({})", self.peer),
            None => self.peer.to_string(),
        }
    }
}

/// The room: every client, in slots a token names, plus the loop's bookkeeping.
pub(super) struct Room {
    /// Chapter 02's slot table: a client's slot is its poll token (minus the first client's).
    pub(super) clients: Slots<Client>,
    /// Slots with output to send after this round of events.
    pub(super) dirty: HashSet<usize>,
    /// Slots to close after this round.
    pub(super) doomed: HashSet<usize>,
    /// Backpressure: a reader is behind, so senders are not read for now.
    pub(super) paused: bool,
    /// Members with lines left unread while paused, in the order they are to be read again.
    pub(super) waiting: VecDeque<usize>,
    pub(super) next_guest: u64,
    pub(super) next_ping: u64,
    pub(super) stats: Stats,
    pub(super) liveness: Liveness,
    pub(super) n: Narrator,
}

impl Room {
    /// An empty room.
    pub(super) fn new(liveness: Liveness, n: Narrator) -> Self {
        Self {
            clients: Slots::default(),
            dirty: HashSet::new(),
            doomed: HashSet::new(),
            paused: false,
            waiting: VecDeque::new(),
            next_guest: 1,
            next_ping: 1,
            stats: Stats::default(),
            liveness,
            n,
        }
    }

    pub(super) fn get(&mut self, slot: usize) -> Option<&mut Client> {
        self.clients.get(slot)
    }

    /// Clients connected, joined or not.
    pub(super) fn live(&self) -> usize {
        self.clients.live()
    }

    /// Puts a client in a free slot (a closed client's, or a new one at the end); returns it.
    pub(super) fn insert(&mut self, client: Client) -> usize {
        self.clients.insert(client)
    }

    /// Empties a slot for the next client.
    pub(super) fn remove(&mut self, slot: usize) -> Option<Client> {
        let client = self.clients.remove(slot)?;
        self.dirty.remove(&slot);
        Some(client)
    }
}

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
            "{} joined, relayed {} ({} deliveries)",
            plural(self.joined, "client"),
            plural(self.messages, "message"),
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
