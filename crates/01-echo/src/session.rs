//! One client's turn on a one-at-a-time server: what both of this chapter's servers (TCP in
//! `server`, Unix-domain in `unix`) do between `accept()` and `close()`, and the settings and
//! summary they share.
//!
//! A server that serves one client at a time is held by that client, so the turn is bounded:
//! `SO_RCVTIMEO`/`SO_SNDTIMEO` drop a client that stalls, and Ctrl-C shuts the socket down so
//! a blocked `recv` returns at once.

use std::net::Shutdown;
use std::sync::Arc;
use std::time::Duration;

use common::narrate;
use common::narrate::Narrator;
use common::stop::{Stop, Watch};

use crate::echo::{Tally, echo_until_closed};
use crate::stream::Stream;

/// Everything a server needs to know besides its address, from the command line.
#[derive(Debug, Clone)]
pub struct Config {
    /// `listen(backlog)`: how many finished handshakes the kernel queues for `accept()`.
    pub backlog: i32,
    /// Bytes asked for in each `recv`.
    pub buf_size: usize,
    /// Set `SO_REUSEADDR` before `bind` (TCP only).
    pub reuse_address: bool,
    /// Longest a `recv` or `send` may block before the client is dropped; `None` waits forever.
    pub timeout: Option<Duration>,
    /// Narration of each socket call (`--trace`).
    pub narrator: Narrator,
}

/// What a server did, printed when it stops.
#[derive(Debug, Default, Clone, Copy)]
pub struct Summary {
    /// Connections accepted.
    pub connections: u64,
    /// Bytes received and sent back.
    pub bytes_echoed: u64,
}

// ANCHOR: serve_one
/// Echoes one client until it closes, goes quiet past the timeout, or the server stops;
/// returns the bytes echoed.
pub fn serve_one<S: Stream>(
    conn: &mut S,
    peer: &str,
    buf: &mut [u8],
    config: &Config,
    stop: &Arc<Stop>,
) -> u64 {
    let n = config.narrator;
    let _wake_recv = wake_recv_on_stop(conn, stop, n);
    // SO_RCVTIMEO and SO_SNDTIMEO: a client that stalls cannot hold the server forever.
    if let Err(e) = conn.set_timeouts(config.timeout) {
        eprintln!("connection from {peer}: could not set timeouts: {e}");
    }
    // Tally counts what was echoed even when the connection ends in an error.
    let mut tally = Tally::new(conn);
    if let Err(e) = echo_until_closed(&mut tally, buf, n) {
        if !stop.is_stopping() {
            eprintln!("connection from {peer} ended: {}", describe(&e, config.timeout));
        }
    }
    tally.sent()
}
// ANCHOR_END: serve_one

// ANCHOR: wake_recv
/// Ctrl-C while a client is connected: shutting the socket down makes our blocked `recv()`
/// return at once, so the server can stop. The returned guard unregisters this, and closes the
/// second handle, when the client's turn ends.
fn wake_recv_on_stop<S: Stream>(conn: &S, stop: &Arc<Stop>, n: Narrator) -> Option<Watch> {
    let fd = conn.fd();
    conn.try_clone().ok().map(|handle| {
        stop.watch(move || {
            narrate!(n, "shutdown({fd}, SHUT_RDWR) (stopping: wakes our blocked recv)");
            let _ = handle.shutdown(Shutdown::Both);
        })
    })
}
// ANCHOR_END: wake_recv

/// The error of a finished connection in words: a timeout surfaces as `WouldBlock` (Unix) or
/// `TimedOut` (Windows), which would be a puzzling thing to print.
fn describe(err: &std::io::Error, timeout: Option<Duration>) -> String {
    match timeout {
        Some(t) if common::timeout::is_timeout(err) => {
            format!("no progress for {} s (--timeout), closed it", t.as_secs())
        }
        _ => err.to_string(),
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "served {}, echoed {}",
            common::text::plural(self.connections, "connection"),
            common::text::human_bytes(self.bytes_echoed)
        )
    }
}
