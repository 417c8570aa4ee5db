//! The `server` command: the listening socket, then one of two ways to chat.
//!
//! It sits on top of the crate: it reads the shared [`crate::config`] and calls the modes, and
//! no module calls back up into it.
//!
//! - **Room mode** (the default, [`crate::room`]): many clients in one room; each line a client
//!   sends is relayed to every other client with the sender's name, and the room hears who
//!   joins, leaves and changes name. One thread runs an event loop over every socket.
//! - **One-to-one mode** (`--one-to-one`, [`crate::one_to_one`]): the tutorial's long
//!   connection. The person running the server chats with one client; both have a prompt and
//!   both can type at any time.

use std::net::{SocketAddr, TcpListener};

use anyhow::{Context, Result};
use common::stop::Stop;

use crate::config::{Config, LISTEN, Mode};

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

// ANCHOR: listen
/// The listening socket: chapter 01's recipe (socket, `SO_REUSEADDR`, bind, listen), on the
/// first address the host name resolves to.
///
/// # Errors
/// When the host does not resolve, or `socket`/`bind`/`listen` fail.
pub fn listen(config: &Config) -> Result<TcpListener> {
    let addr: SocketAddr = common::host::resolve(&config.host, config.port)?[0];
    ch01_echo::listen::listen(addr, &LISTEN, config.narrator)
}
// ANCHOR_END: listen
