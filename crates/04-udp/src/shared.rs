//! What the server's parts share: its settings from the command line and the summary it
//! prints when it stops. A leaf module, with no socket in it, so that `server`, `demo` and
//! `main` can all name these types without depending on one another.

use common::narrate::Narrator;
use common::text::{human_bytes, plural};

use crate::netsim::Impairments;

/// Distinct senders remembered for the summary; more are counted as "at least".
pub const MAX_TRACKED_PEERS: usize = 65_536;

/// What the server sends back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// The datagram itself.
    Echo,
    /// The tutorial's fixed `over`.
    Over,
}

/// Everything the server needs to know, from the command line.
#[derive(Debug, Clone)]
pub struct Config {
    /// IP address or name to bind.
    pub host: String,
    /// UDP port; 0 lets the kernel pick.
    pub port: u16,
    /// What to reply.
    pub reply: Reply,
    /// Bytes kept of each datagram; a larger one is truncated.
    pub buf_size: usize,
    /// `SO_RCVBUF` to ask for, or the kernel's default.
    pub rcvbuf: Option<usize>,
    /// The simulated bad network.
    pub net: Impairments,
    /// Seed for the simulated network's decisions.
    pub seed: u64,
    /// Do not print each datagram (for load tests).
    pub quiet: bool,
    /// Narration (`--trace`).
    pub narrator: Narrator,
}

/// What the server saw, printed when it stops.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    /// Datagrams received.
    pub datagrams: u64,
    /// Bytes received.
    pub bytes: u64,
    /// Distinct senders (capped at [`MAX_TRACKED_PEERS`]).
    pub peers: usize,
    /// Replies sent (or queued, when delayed).
    pub replies: u64,
    /// Datagrams the simulated network dropped.
    pub dropped: u64,
    /// Replies the simulated network sent twice.
    pub duplicated: u64,
    /// Datagrams larger than the buffer.
    pub truncated: u64,
    /// Delayed replies refused because the delay queue was full.
    pub queue_full: u64,
    /// Datagrams the *kernel* dropped because our receive buffer was full (Linux only).
    pub kernel_drops: Option<u64>,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at_least = if self.peers >= MAX_TRACKED_PEERS { "at least " } else { "" };
        // "reply" is not a regular noun, so it is spelled out; the others take an "s".
        let replies = match self.replies {
            1 => "1 reply".to_string(),
            n => format!("{n} replies"),
        };
        write!(
            f,
            "{} ({}) from {at_least}{}; {replies}",
            plural(self.datagrams, "datagram"),
            human_bytes(self.bytes),
            plural(self.peers as u64, "peer"),
        )?;
        for (count, what) in [
            (self.dropped, "dropped (simulated)"),
            (self.duplicated, "duplicated (simulated)"),
            (self.truncated, "truncated"),
            (self.queue_full, "lost to a full delay queue"),
        ] {
            if count > 0 {
                write!(f, ", {count} {what}")?;
            }
        }
        if let Some(drops) = self.kernel_drops {
            write!(
                f,
                "; datagrams the kernel dropped because the receive buffer was full: {drops}"
            )?;
        }
        Ok(())
    }
}
