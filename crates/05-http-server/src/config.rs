//! What `serve` is told: the folder, the address, and every limit that keeps a hostile client
//! from holding the server. Each limit is a named constant with its reason, and a flag.
//!
//! A leaf module: the server, the connection threads and the command line all read it, and it
//! reads none of them.

use std::path::PathBuf;
use std::time::Duration;

use common::narrate::Narrator;

/// The tutorial's port for its HTTP server.
pub const DEFAULT_PORT: u16 = 9990;
/// `listen()` backlog: handshakes the kernel completes before we accept them (wrk opens 50
/// at once, a browser six per host).
pub const DEFAULT_BACKLOG: i32 = 1024;

// ANCHOR: limits
/// Request line plus headers, in bytes: 8 KiB, nginx's buffer for them. A head that does not
/// fit is refused (414 or 431), so a client cannot make us buffer without end.
pub const MAX_HEAD: usize = 8 << 10;
/// Header lines per request; real browsers send about 15. More is 431.
pub const MAX_HEADERS: usize = 100;
/// From the first byte of a request head to its blank line. A client slower than this (a
/// slowloris, holding the connection one byte at a time) gets 408 and is closed.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a kept-alive connection may sit idle before its next request. Browsers reuse a
/// connection within seconds; an idle one costs a thread here.
pub const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a response may wait for a client that reads nothing at all, and the fixed part of
/// every response's send deadline (see [`MIN_SEND_RATE`]).
pub const SEND_TIMEOUT: Duration = Duration::from_secs(30);
/// Bytes per second the slowest client we still serve reads at: a response of `n` bytes must
/// be sent within `SEND_TIMEOUT + n / MIN_SEND_RATE`, or it is cut off. A timeout per `write`
/// alone would not do: a client that reads a few bytes now and then makes every write succeed
/// and holds the connection forever. 64 KiB/s is a poor mobile link.
pub const MIN_SEND_RATE: u64 = 64 << 10;
/// Connections served at once, each with a thread. One more gets `503` and is closed.
pub const MAX_CONNECTIONS: usize = 1024;
/// A request body this server reads and drops (a `GET` with a small body, a `POST` it refuses)
/// to keep the connection; a larger one gets 413 (or 405) and the connection is closed.
pub const MAX_BODY: u64 = 64 << 10;
/// On Ctrl-C, how long requests in flight may take to finish before their connections are cut.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Each connection thread's stack. Its buffers are on the heap; 256 KiB is ample, and 1024
/// threads then reserve 256 MiB of address space, of which they touch a few pages each.
pub const THREAD_STACK: usize = 256 << 10;
// ANCHOR_END: limits

/// The limits, all of which are command-line flags.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// See [`MAX_HEAD`].
    pub max_head: usize,
    /// See [`MAX_HEADERS`].
    pub max_headers: usize,
    /// See [`HEADER_TIMEOUT`].
    pub header_timeout: Duration,
    /// See [`KEEP_ALIVE_TIMEOUT`].
    pub keep_alive_timeout: Duration,
    /// See [`SEND_TIMEOUT`].
    pub send_timeout: Duration,
    /// See [`MIN_SEND_RATE`].
    pub min_send_rate: u64,
    /// See [`MAX_CONNECTIONS`].
    pub max_connections: usize,
    /// See [`MAX_BODY`].
    pub max_body: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_head: MAX_HEAD,
            max_headers: MAX_HEADERS,
            header_timeout: HEADER_TIMEOUT,
            keep_alive_timeout: KEEP_ALIVE_TIMEOUT,
            send_timeout: SEND_TIMEOUT,
            min_send_rate: MIN_SEND_RATE,
            max_connections: MAX_CONNECTIONS,
            max_body: MAX_BODY,
        }
    }
}

/// Everything `serve` needs, from the command line.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to bind (literal or name).
    pub host: String,
    /// Port; 0 lets the kernel pick.
    pub port: u16,
    /// The folder to serve.
    pub root: PathBuf,
    /// Serve files whose real path is outside the root (through symlinks).
    pub follow_symlinks: bool,
    /// No access log.
    pub quiet: bool,
    /// `listen()` backlog.
    pub backlog: i32,
    /// The limits.
    pub limits: Limits,
    /// Narration (`--trace`).
    pub narrator: Narrator,
}
