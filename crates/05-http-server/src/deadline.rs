//! The send deadline: when a response must have been handed to the kernel.
//!
//! The sending side's answer to a slowloris. A client that reads nothing, or a few bytes now
//! and then, would hold a connection (and its thread) for as long as it likes if each `write`
//! only had `SO_SNDTIMEO`: that limits each *wait*, not the response. So every response gets
//! one deadline, `--send-timeout` plus its size at `--min-send-rate`, and every write waits at
//! most for what is left of it. The same idea as the header deadline in `request.rs`, on the
//! sending side.

use std::io;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::timeout::is_timeout;

use crate::config::Limits;

// ANCHOR: send_deadline
/// When a response must have been handed to the kernel: `--send-timeout` plus its size at
/// `--min-send-rate`.
pub struct SendDeadline {
    /// The moment the last byte must have left.
    pub at: Instant,
    /// `--send-timeout`: the `SO_SNDTIMEO` a connection normally has (set when accepted).
    pub idle: Duration,
}

impl SendDeadline {
    /// The deadline of a response of `bytes` bytes whose first write is now.
    pub fn new(limits: &Limits, bytes: u64) -> Self {
        let transfer = Duration::try_from_secs_f64(bytes as f64 / limits.min_send_rate as f64)
            .unwrap_or(Duration::MAX);
        let now = Instant::now();
        // Saturating: a huge file at `--min-send-rate 1` must not overflow the clock (a panic);
        // a deadline a year away is no deadline anyway.
        let at = now
            .checked_add(limits.send_timeout.saturating_add(transfer))
            .unwrap_or_else(|| now + Duration::from_secs(365 * 86_400));
        Self { at, idle: limits.send_timeout }
    }
    // ANCHOR_END: send_deadline

    // ANCHOR: deadline_write
    /// Runs one blocking write under the deadline. `SO_SNDTIMEO` is lowered to the time left
    /// only when that is less than `--send-timeout`: a normal pace costs no extra system call.
    ///
    /// # Errors
    /// `TimedOut` once the deadline has passed, or when the write waited for it in vain.
    pub fn write<T>(
        &self,
        stream: &TcpStream,
        call: impl FnOnce() -> io::Result<T>,
    ) -> io::Result<T> {
        let left = self.at.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(too_slow());
        }
        let result = if left < self.idle {
            stream.set_write_timeout(Some(left))?;
            let result = call();
            stream.set_write_timeout(Some(self.idle))?;
            result
        } else {
            call()
        };
        // A write that times out with nothing sent fails with EAGAIN (`WouldBlock`).
        result.map_err(|e| if is_timeout(&e) { too_slow() } else { e })
    }
    // ANCHOR_END: deadline_write
}

/// The error of a response cut off at its deadline. `TimedOut`, so that the connection loop
/// knows to close with a reset rather than a FIN.
pub fn too_slow() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "the client read too slowly: send deadline passed")
}
