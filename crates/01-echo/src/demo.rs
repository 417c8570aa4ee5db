//! `demo`: the server and two clients in one process, every socket call narrated.
//!
//! The server binds port 0, so the kernel picks a free port and the demo never collides with
//! a server you already run. Watch the `[server]` and `[client]` lines: the client's
//! `connect()` returns before the server's `accept()` does, because the kernel completes the
//! handshake on its own; and the second client is served only after the first one closes.

use std::thread;

use anyhow::{Context, Result};
use common::narrate::Narrator;
use common::stop::Stop;

use crate::client;
use crate::conn::Endpoint;
use crate::server::{self, Server};

/// Runs the narrated demo and stops the server at the end, as Ctrl-C would.
///
/// # Errors
/// When the server cannot bind loopback or a client fails.
pub fn run() -> Result<()> {
    let config = server::Config {
        endpoint: Endpoint::Tcp {
            host: "127.0.0.1".into(),
            port: 0,
        },
        backlog: server::DEFAULT_BACKLOG,
        buf_size: server::DEFAULT_BUF_SIZE,
        reuse_address: true,
        timeout: Some(server::DEFAULT_TIMEOUT),
        narrator: Narrator::new("server", true),
    };
    let server = Server::bind(config)?;
    let addr = server
        .tcp_addr()
        .context("the demo server listens on TCP")?;
    println!("listening on {addr}");

    let stop = Stop::new();
    let serving = thread::spawn({
        let stop = stop.clone();
        move || server.serve(&stop)
    });

    let endpoint = Endpoint::Tcp {
        host: addr.ip().to_string(),
        port: addr.port(),
    };
    let narrator = Narrator::new("client", true);
    client::run_message(&endpoint, client::DEFAULT_MESSAGE, narrator)?;
    client::run_message(&endpoint, "Hello again: one client at a time", narrator)?;

    stop.trigger();
    let summary = serving
        .join()
        .map_err(|_| anyhow::anyhow!("the server thread panicked"))?;
    eprintln!("server stopped: {summary}");
    Ok(())
}
