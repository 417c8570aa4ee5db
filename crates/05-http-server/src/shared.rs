//! What every connection thread shares: the served folder, the limits, the stop, the counters,
//! and the list of open connections that a stop drains.
//!
//! Below both the server (which fills it in) and the connections (which read it), so neither
//! has to import the other.

use std::collections::HashMap;
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use common::narrate::Narrator;
use common::stop::Stop;
use common::text::{human_bytes, plural};

use crate::config::Limits;
use crate::files::Root;
use crate::request::ReadLimits;

/// What every connection thread shares.
pub struct Shared {
    /// The served folder.
    pub root: Root,
    /// The limits.
    pub limits: Limits,
    /// No access log.
    pub quiet: bool,
    /// Narration.
    pub narrator: Narrator,
    /// Ctrl-C.
    pub stop: Arc<Stop>,
    /// Counters.
    pub stats: Stats,
    /// The open connections, so a stop can wake and, if need be, cut them.
    pub open: OpenConnections,
}

impl Shared {
    /// The limits the request reader enforces.
    pub fn read_limits(&self) -> ReadLimits {
        ReadLimits {
            max_head: self.limits.max_head,
            max_headers: self.limits.max_headers,
            header_timeout: self.limits.header_timeout,
            keep_alive_timeout: self.limits.keep_alive_timeout,
        }
    }
}

/// Counters for the summary line.
#[derive(Debug, Default)]
pub struct Stats {
    /// Connections accepted and served.
    pub connections: AtomicU64,
    /// Requests answered (including errors).
    pub requests: AtomicU64,
    /// Bytes sent, heads and bodies.
    pub bytes: AtomicU64,
    /// Connections turned away with 503 (`--max-connections`).
    pub refused: AtomicU64,
    /// Requests being answered right now, for the stop's "waiting for" line.
    pub in_flight: AtomicUsize,
}

/// The sockets of the connections being served, each under an id, and a signal for each one
/// that closes. A stop needs both: the sockets to wake their threads (`shutdown`), the signal
/// to wait for the threads to finish.
#[derive(Debug, Default)]
pub struct OpenConnections {
    /// `None` once the connection's thread has taken the socket back to close it: the
    /// connection still counts as open (a drain waits for it) until it is removed.
    streams: Mutex<HashMap<u64, Option<Arc<TcpStream>>>>,
    /// Notified whenever a connection closes, for the drain.
    closed: Condvar,
    next_id: AtomicU64,
}

/// The open connections, locked: no connection starts or ends while it is held.
pub type OpenGuard<'a> = MutexGuard<'a, HashMap<u64, Option<Arc<TcpStream>>>>;

impl OpenConnections {
    /// The open connections, locked.
    pub fn lock(&self) -> OpenGuard<'_> {
        self.streams.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many connections are open.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no connection is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds a connection; returns its id, for [`OpenConnections::remove`].
    pub fn insert(&self, stream: Arc<TcpStream>) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(id, Some(stream));
        id
    }

    /// Takes back the handle kept for a connection, so that its thread holds the last one
    /// and its `close()` really closes the socket. The connection stays listed until
    /// [`OpenConnections::remove`].
    pub fn take(&self, id: u64) -> Option<Arc<TcpStream>> {
        self.lock().get_mut(&id).and_then(Option::take)
    }

    /// Removes a connection that has closed, and tells a drain that waits for it.
    pub fn remove(&self, id: u64) {
        self.lock().remove(&id);
        self.closed.notify_all();
    }

    /// Waits, for at most `within`, until every connection has closed; returns the lock with
    /// whatever is still open.
    pub fn wait_all_closed<'a>(&self, mut open: OpenGuard<'a>, within: Duration) -> OpenGuard<'a> {
        let deadline = Instant::now() + within;
        while !open.is_empty() {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else { break };
            open = self.closed.wait_timeout(open, left).unwrap_or_else(PoisonError::into_inner).0;
        }
        open
    }
}

impl std::fmt::Display for Stats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let connections = self.connections.load(Ordering::Relaxed);
        let requests = self.requests.load(Ordering::Relaxed);
        write!(
            f,
            "served {} on {}, sent {}",
            plural(requests, "request"),
            plural(connections, "connection"),
            human_bytes(self.bytes.load(Ordering::Relaxed))
        )?;
        match self.refused.load(Ordering::Relaxed) {
            0 => Ok(()),
            n => write!(f, ", refused {n} (--max-connections)"),
        }
    }
}
