//! What the server is told on the command line, and the limits both ends share.
//!
//! A leaf module: the room, the one-to-one mode and the client read these, and it reads none of
//! them, so `server.rs` can sit on top of the modes without the modes reaching back up.

use std::time::Duration;

use ch01_echo::listen::ListenOptions;
use common::narrate::Narrator;

use crate::liveness::Liveness;

/// The tutorial's port for its long-connection chat.
pub const DEFAULT_PORT: u16 = 9998;
/// `listen()` backlog: a chat room's clients arrive a few at a time.
pub const DEFAULT_BACKLOG: i32 = 128;
/// The listening socket's choices for chapter 01's recipe: `SO_REUSEADDR`, so a restarted
/// server gets its port back while old connections sit in `TIME_WAIT`.
pub const LISTEN: ListenOptions = ListenOptions { backlog: DEFAULT_BACKLOG, reuse_address: true };
/// Clients in the room at once; more are told so and closed. Each costs two descriptors'
/// worth of kernel buffers and up to the room's `MAX_OUTBOX_BYTES` of our memory.
pub const DEFAULT_MAX_CLIENTS: usize = 1000;
/// A blocked `send` gives up after this long: the peer is not reading. (The client and the
/// one-to-one server block in `send`; the room never does, its sockets are non-blocking.)
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// How the server chats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Many clients, one room.
    Room,
    /// The operator and one client.
    OneToOne,
}

/// Everything the server needs to know, from the command line.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to bind (literal or name).
    pub host: String,
    /// Port; 0 lets the kernel pick.
    pub port: u16,
    /// Room or one-to-one.
    pub mode: Mode,
    /// Clients at once (room mode).
    pub max_clients: usize,
    /// Heartbeat and keepalive settings.
    pub liveness: Liveness,
    /// One-to-one: the operator's name, and whether to keep a history file.
    pub name: String,
    /// One-to-one: keep no history file.
    pub no_history: bool,
    /// Narration (`--trace`).
    pub narrator: Narrator,
}
