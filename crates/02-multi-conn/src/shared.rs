//! What the server's modes share: the settings from the command line and the counters both
//! modes keep. A leaf module: it knows nothing of sockets, so `threads`, `poll` and `server`
//! can all use it without using each other.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use common::narrate::Narrator;
use common::text::{human_bytes, plural};

/// The tutorial's port for this chapter, so chapters run side by side.
pub const DEFAULT_PORT: u16 = 65433;
/// Linux's default `somaxconn` since 5.4: when 10,000 clients connect at once, the kernel
/// queues up to this many finished handshakes before the server has accepted them.
pub const DEFAULT_BACKLOG: i32 = 4096;
/// Connections served at once; more are refused (accepted and closed at once). It keeps a
/// flood of clients from exhausting file descriptors, or threads in `threads` mode.
pub const DEFAULT_MAX_CONNS: usize = 10_000;

/// How the server serves its clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One thread per connection.
    Threads,
    /// One thread, non-blocking sockets, an event loop.
    Poll,
}

/// Everything the server needs to know, from the command line.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to bind (literal or name).
    pub host: String,
    /// Port; 0 lets the kernel pick.
    pub port: u16,
    /// Threads or event loop.
    pub mode: Mode,
    /// `listen()` backlog.
    pub backlog: i32,
    /// Connections served at once.
    pub max_conns: usize,
    /// Narration (`--trace`).
    pub narrator: Narrator,
}

/// Counters both modes keep, shared between threads in `threads` mode.
#[derive(Debug, Default)]
pub struct Stats {
    /// Connections accepted and served.
    pub served: AtomicU64,
    /// Connections refused because `max_conns` were already open.
    pub refused: AtomicU64,
    /// Connections open right now.
    pub live: AtomicUsize,
    /// The most connections open at once.
    pub peak: AtomicUsize,
    /// Bytes echoed.
    pub bytes: AtomicU64,
}

impl Stats {
    /// Counts a newly accepted connection and updates the peak.
    pub fn opened(&self) {
        self.served.fetch_add(1, Ordering::Relaxed);
        let live = self.live.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak.fetch_max(live, Ordering::Relaxed);
    }

    /// Counts a closed connection.
    pub fn closed(&self) {
        self.live.fetch_sub(1, Ordering::Relaxed);
    }

    /// Counts a connection refused at `--max-conns` (or for want of a thread).
    pub fn refused_one(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
    }

    /// Whether `max_conns` connections are open already.
    pub fn full(&self, max_conns: usize) -> bool {
        self.live.load(Ordering::Relaxed) >= max_conns
    }

    /// Counts bytes echoed.
    pub fn echoed(&self, bytes: u64) {
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }
}

/// The server's summary line: `served 2 connections, peak 2 at once, echoed 88 B`.
impl std::fmt::Display for Stats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "served {}, peak {} at once, echoed {}",
            plural(self.served.load(Ordering::Relaxed), "connection"),
            self.peak.load(Ordering::Relaxed),
            human_bytes(self.bytes.load(Ordering::Relaxed)),
        )?;
        match self.refused.load(Ordering::Relaxed) {
            0 => Ok(()),
            refused => write!(f, ", refused {refused} (--max-conns)"),
        }
    }
}
