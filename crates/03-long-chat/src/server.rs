//! The `server` command: the listening socket, then one of two ways to chat.
//!
//! - **Room mode** (the default, [`crate::room`]): many clients in one room; each line a client
//!   sends is relayed to every other client with the sender's name, and the room hears who
//!   joins, leaves and changes name. One thread runs an event loop over every socket.
//! - **One-to-one mode** (`--one-to-one`, [`crate::one_to_one`]): the tutorial's long
//!   connection. The person running the server chats with one client; both have a prompt and
//!   both can type at any time.

use std::net::{SocketAddr, TcpListener};

use anyhow::{Context, Result};
use common::narrate;
use common::narrate::Narrator;
use common::stop::Stop;
use socket2::{Domain, Protocol, Socket, Type};

use crate::liveness::Liveness;

/// The tutorial's port for its long-connection chat.
pub const DEFAULT_PORT: u16 = 9998;
/// `listen()` backlog: a chat room's clients arrive a few at a time.
pub const DEFAULT_BACKLOG: i32 = 128;
/// Clients in the room at once; more are told so and closed. Each costs two descriptors'
/// worth of kernel buffers and up to [`crate::room::MAX_OUTBOX_BYTES`] of our memory.
pub const DEFAULT_MAX_CLIENTS: usize = 1000;

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

// ANCHOR: listen
/// The listening socket, built call by call as in chapter 01.
///
/// # Errors
/// When the host does not resolve, or `socket`/`bind`/`listen` fail.
pub fn listen(config: &Config) -> Result<TcpListener> {
    let n = config.narrator;
    let addr: SocketAddr = common::host::resolve(&config.host, config.port)?[0];
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
        .context("could not create a socket")?;
    narrate!(
        n,
        "socket({}, SOCK_STREAM) -> {}",
        common::narrate::family(addr.ip()),
        common::narrate::fd(&socket)
    );
    socket.set_reuse_address(true).context("could not set SO_REUSEADDR")?;
    narrate!(n, "setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)");
    if addr.is_ipv6() && addr.ip().is_unspecified() {
        socket.set_only_v6(false).context("could not clear IPV6_V6ONLY")?;
        narrate!(n, "setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 0)");
    }
    socket.bind(&addr.into()).with_context(|| format!("could not bind {addr}"))?;
    narrate!(n, "bind({addr})");
    socket.listen(DEFAULT_BACKLOG).with_context(|| format!("could not listen on {addr}"))?;
    narrate!(n, "listen(backlog={DEFAULT_BACKLOG})");
    Ok(socket.into())
}
// ANCHOR_END: listen

/// The `server` command: listen, announce, chat until Ctrl-C, print a summary.
///
/// # Errors
/// When the listening socket cannot be set up or the event loop fails.
pub fn run(config: Config) -> Result<()> {
    let stop = Stop::new();
    stop.trigger_on_ctrl_c()?;
    let listener = listen(&config)?;
    let local = listener.local_addr().context("could not read the bound address")?;
    println!("listening on {local}");
    let summary = match config.mode {
        Mode::Room => crate::room::serve(listener, &config, &stop)?.to_string(),
        Mode::OneToOne => crate::one_to_one::serve(listener, &config, &stop)?,
    };
    eprintln!("server stopped: {summary}");
    Ok(())
}
