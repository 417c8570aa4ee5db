//! The echo server over TCP: it sends back every byte a client sends, one client at a time.
//!
//! Read it top to bottom; it runs in this order. [`run`] builds the listening socket with
//! chapter 01's recipe ([`crate::listen`]: `socket`, `SO_REUSEADDR`, `bind`, `listen`), then
//! does what the tutorial's server does: `accept()` one client, `recv` and `sendall` until the
//! client closes ([`crate::session`]), `close()` it, and only then `accept()` the next. A second
//! client waits in the kernel's accept queue the whole time; chapter 02 fixes that. The Ctrl-C
//! plumbing comes after the lesson. The same server over a Unix-domain socket is in
//! [`crate::unix`].

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use common::accept::AcceptPolicy;
use common::narrate;
use common::step;
use common::stop::Stop;

use crate::listen::{ListenOptions, listen};
use crate::session::{Config, Summary, serve_one};

/// The tutorial's port: above 1023, so no privileges are needed to bind it.
pub const DEFAULT_PORT: u16 = 65432;
/// Linux's default `somaxconn` until 5.4, and what Python's `listen()` asks for by default.
pub const DEFAULT_BACKLOG: i32 = 128;
/// The tutorial's `recv(1024)`. Larger buffers mean fewer system calls (see the benchmark).
pub const DEFAULT_BUF_SIZE: usize = 1024;
/// 16 MiB: far above any useful `recv` size, low enough that a typo cannot exhaust memory.
pub const MAX_BUF_SIZE: usize = 16 << 20;
/// A one-at-a-time server is held by whichever client it serves, so a client that goes silent
/// (or stops reading our echoes) for this long is dropped, and the next one gets its turn.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

// ANCHOR: run_server
/// The `server` command: bind, announce the address, serve until Ctrl-C, print a summary.
///
/// # Errors
/// When the listening socket cannot be set up; see [`Server::bind`].
pub fn run(host: &str, port: u16, config: Config) -> Result<()> {
    let stop = Stop::new();
    stop.trigger_on_ctrl_c()?;
    let server = Server::bind(host, port, config)?;
    // The readiness line: scripts and tests wait for it, and it tells the real port.
    println!("listening on {}", server.local_addr()?);
    let summary = server.serve(&stop);
    eprintln!("server stopped: {summary}");
    Ok(())
}
// ANCHOR_END: run_server

/// A bound, listening echo server that has not started accepting yet.
pub struct Server {
    listener: TcpListener,
    config: Config,
}

impl Server {
    // ANCHOR: bind
    /// Creates the listening socket: `socket`, `setsockopt`, `bind`, `listen`.
    ///
    /// # Errors
    /// When the host does not resolve, or `bind`/`listen` fail (address in use, not an
    /// address of this machine, a privileged port).
    pub fn bind(host: &str, port: u16, config: Config) -> Result<Self> {
        // A name can resolve to several addresses; a server binds the first one.
        let addr = common::host::resolve(host, port)?[0];
        let options =
            ListenOptions { backlog: config.backlog, reuse_address: config.reuse_address };
        let listener = listen(addr, &options, config.narrator)?;
        Ok(Self { listener, config })
    }
    // ANCHOR_END: bind

    /// The address really bound (`getsockname()`): after port 0, it names the port the kernel
    /// picked.
    ///
    /// # Errors
    /// When `getsockname` fails, which it does not for a bound socket.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    // ANCHOR: serve
    /// Accepts and serves clients one at a time until `stop` triggers, then closes the
    /// listening socket.
    pub fn serve(self, stop: &Arc<Stop>) -> Summary {
        let _wake_accept = self.wake_on_stop(stop);
        let summary = accept_loop(&self.listener, &self.config, stop);
        narrate::close(self.config.narrator, self.listener, " (the listening socket)");
        summary
    }
    // ANCHOR_END: serve
}

// ANCHOR: accept_loop
/// Accepts one client, echoes until it closes, then accepts the next: one at a time.
fn accept_loop(listener: &TcpListener, config: &Config, stop: &Arc<Stop>) -> Summary {
    let n = config.narrator;
    let mut summary = Summary::default();
    let mut buf = vec![0u8; config.buf_size];
    let mut accept_errors = AcceptPolicy::new(n);
    while !stop.is_stopping() {
        // accept() returns a *new* socket for this one client; the listening socket stays
        // open and keeps queueing the clients that arrive meanwhile.
        step!(n, listener, "accept()");
        let (mut conn, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            // A client that gave up while queued is retried at once; out of descriptors, we
            // pause (common::accept has the one policy every server follows).
            Err(e) => match accept_errors.recover(e) {
                Ok(()) => continue,
                Err(_) => break,
            },
        };
        accept_errors.accepted();
        if stop.is_stopping() {
            // The wake-up connection from `wake_on_stop` (or a client too late). Closed
            // abortively: a normal close from our side would leave a TIME_WAIT on our port.
            common::stop::discard_woken(&conn);
            break;
        }
        narrate!(n, (listener, &conn), "accept() -> {}, peer {peer}", narrate::fd(&conn));
        println!("Connected by {peer}");
        summary.connections += 1;
        summary.bytes_echoed += serve_one(&mut conn, &peer.to_string(), &mut buf, config, stop);
        narrate::close(n, conn, "");
    }
    summary
}
// ANCHOR_END: accept_loop

impl Server {
    // ANCHOR: wake_on_stop
    /// `accept()` blocks, and a flag does not wake it. So on stop we connect to ourselves:
    /// `accept()` returns that connection, the loop sees the flag, and the server ends.
    fn wake_on_stop(&self, stop: &Arc<Stop>) -> common::stop::Watch {
        let bound = self.listener.local_addr().ok();
        // Connect and close abortively (RST): no TIME_WAIT is left on our own port.
        stop.watch(move || {
            if let Some(addr) = bound {
                common::stop::wake_accept(addr);
            }
        })
    }
    // ANCHOR_END: wake_on_stop
}
