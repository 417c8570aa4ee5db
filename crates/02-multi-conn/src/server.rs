//! The server: one listening socket, two ways to serve many clients at once.
//!
//! Chapter 01 served one client at a time, so the second client waited in the accept queue
//! until the first one left. Here every connected client is served at once, either
//!
//! - by a **thread per connection** ([`crate::threads`]): each thread blocks in `recv` for its
//!   own client, as chapter 01's loop did, and the kernel's scheduler runs whichever thread has
//!   data; simple, and each thread costs memory and a kernel task; or
//! - by **one thread and an event loop** ([`crate::poll`]): every socket is non-blocking, and
//!   one `poll` (epoll on Linux, kqueue on BSD and macOS) reports which sockets are ready; the
//!   loop keeps each connection's state itself. This is Python's `selectors` server.
//!
//! Both start from what is here: the open-files limit and the listening socket. This file is
//! the top of the chapter's server: it reads in the order the program runs (`run`, then
//! `listen`), and hands the listener to the mode; the modes share only [`crate::shared`].
//!
//! Unlike chapter 01 (and the tutorial's `Accepted connection from ...`), this server prints
//! nothing per client unless `--trace` is on: with thousands of clients, a line each would be
//! most of the server's work and bury the summary. `--trace` shows every accept and close.

use std::net::TcpListener;
use std::sync::Arc;

use anyhow::{Context, Result};
use ch01_echo::listen::ListenOptions;
use common::stop::Stop;

use crate::limits::raise_open_files_limit;
use crate::shared::{Config, Mode, Stats};
use crate::{poll, threads};

// ANCHOR: run
/// The `server` command: raise the files limit, listen, announce, serve until Ctrl-C, and
/// print a summary.
///
/// # Errors
/// When the listening socket cannot be set up or the event loop fails.
pub fn run(config: Config) -> Result<()> {
    let stop = Stop::new();
    stop.trigger_on_ctrl_c()?;
    // Every client is a file descriptor: lift the limit before the first one arrives.
    raise_open_files_limit(config.narrator)?;
    let listener = listen(&config)?;
    let local = listener.local_addr().context("could not read the bound address")?;
    println!("listening on {local}");
    let stats = Arc::new(Stats::default());
    match config.mode {
        Mode::Threads => threads::serve(listener, &config, &stop, &stats)?,
        Mode::Poll => poll::serve(listener, &config, &stop, &stats)?,
    }
    eprintln!("server stopped: {stats}");
    Ok(())
}
// ANCHOR_END: run

// ANCHOR: listen
/// The listening socket: chapter 01's recipe, with a backlog sized for many clients at once.
///
/// # Errors
/// When the host does not resolve, or `bind`/`listen` fail.
pub fn listen(config: &Config) -> Result<TcpListener> {
    let addr = common::host::resolve(&config.host, config.port)?[0];
    // The backlog matters here: 10,000 clients connecting at once all finish their handshakes
    // before we accept them. A queue that is too short makes the kernel drop SYNs, and those
    // clients retry after a second, then after three: a slow start for no reason.
    let options = ListenOptions { backlog: config.backlog, reuse_address: true };
    ch01_echo::listen::listen(addr, &options, config.narrator)
}
// ANCHOR_END: listen
