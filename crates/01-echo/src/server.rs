//! The echo server: it sends back every byte a client sends, one client at a time.
//!
//! The listening socket is built call by call with `socket2`, so every decision the tutorial's
//! `socket.socket()` / `bind()` / `listen()` makes quietly is visible here: the address family,
//! `SO_REUSEADDR`, the bind address and the listen backlog. Then the server does what the
//! tutorial's does: `accept()` one client, `recv` and `sendall` until the client closes, and
//! only then `accept()` the next. A second client waits in the kernel's accept queue the whole
//! time; chapter 02 fixes that.

use std::io;
use std::net::{Shutdown, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use common::accept::AcceptPolicy;
use common::narrate;
use common::narrate::Narrator;
use common::report::{Doing, Transport, doing};
use common::stop::Stop;
use socket2::{Domain, SockAddr, Socket, Type};

use crate::conn::{Conn, Endpoint, Listener};
use crate::echo::{Tally, echo_until_closed};
use crate::listen::{self, ListenOptions};

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

/// Everything the server needs to know, from the command line.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen.
    pub endpoint: Endpoint,
    /// `listen(backlog)`: how many finished handshakes the kernel queues for `accept()`.
    pub backlog: i32,
    /// Bytes asked for in each `recv`.
    pub buf_size: usize,
    /// Set `SO_REUSEADDR` before `bind`.
    pub reuse_address: bool,
    /// Longest a `recv` or `send` may block before the client is dropped; `None` waits forever.
    pub timeout: Option<Duration>,
    /// Narration of each socket call (`--trace`).
    pub narrator: Narrator,
}

/// What the server did, printed when it stops.
#[derive(Debug, Default, Clone, Copy)]
pub struct Summary {
    /// Connections accepted.
    pub connections: u64,
    /// Bytes received and sent back.
    pub bytes_echoed: u64,
}

/// A bound, listening echo server that has not started accepting yet.
pub struct Server {
    listener: Listener,
    config: Config,
}

impl Server {
    /// Creates the listening socket: `socket`, `setsockopt`, `bind`, `listen`.
    ///
    /// # Errors
    /// When the host does not resolve, or `bind`/`listen` fail (address in use, not an
    /// address of this machine, a privileged port, a live Unix socket at the path).
    pub fn bind(config: Config) -> Result<Self> {
        let listener = match &config.endpoint {
            Endpoint::Tcp { host, port } => {
                // A name can resolve to several addresses; a server binds the first one.
                let addr = common::host::resolve(host, *port)?[0];
                Listener::Tcp(listen_tcp(addr, &config)?)
            }
            #[cfg(unix)]
            Endpoint::Unix(path) => listen_unix(path, &config)?,
        };
        Ok(Self { listener, config })
    }

    /// The address really bound: after `--port 0`, it names the port the kernel picked.
    ///
    /// # Errors
    /// When `getsockname` fails, which it does not for a bound socket.
    pub fn local_endpoint(&self) -> Result<String> {
        Ok(self.listener.local_endpoint()?)
    }

    /// The bound TCP address (`None` for a Unix socket).
    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        match &self.listener {
            Listener::Tcp(l) => l.local_addr().ok(),
            #[cfg(unix)]
            Listener::Unix(..) => None,
        }
    }

    /// Accepts and serves clients one at a time until `stop` triggers.
    pub fn serve(self, stop: &Arc<Stop>) -> Summary {
        let _wake_accept = self.wake_on_stop(stop);
        let summary = accept_loop(&self.listener, &self.config, stop);
        narrate!(self.config.narrator, "close({}) (the listening socket)", self.listener.fd());
        summary
    }

    // ANCHOR: wake_on_stop
    /// `accept()` blocks, and a flag does not wake it. So on stop we connect to ourselves:
    /// `accept()` returns that connection, the loop sees the flag, and the server ends.
    fn wake_on_stop(&self, stop: &Arc<Stop>) -> common::stop::Watch {
        let listener = match &self.listener {
            Listener::Tcp(_) => self.tcp_addr().map(WakeTarget::Tcp),
            #[cfg(unix)]
            Listener::Unix(_, file) => SockAddr::unix(&file.0).ok().map(WakeTarget::Unix),
        };
        stop.watch(move || match &listener {
            // Connect and close abortively (RST): no TIME_WAIT is left on our own port.
            Some(WakeTarget::Tcp(addr)) => common::stop::wake_accept(*addr),
            #[cfg(unix)]
            Some(WakeTarget::Unix(addr)) => {
                if let Ok(socket) = Socket::new(Domain::UNIX, Type::STREAM, None) {
                    let _ = socket.connect(addr);
                }
            }
            None => {}
        })
    }
    // ANCHOR_END: wake_on_stop
}

/// Where the stop's wake-up connection goes.
enum WakeTarget {
    Tcp(SocketAddr),
    #[cfg(unix)]
    Unix(SockAddr),
}

/// The listening socket, built with chapter 01's recipe, [`crate::listen::listen`].
fn listen_tcp(addr: SocketAddr, config: &Config) -> Result<std::net::TcpListener> {
    let options = ListenOptions { backlog: config.backlog, reuse_address: config.reuse_address };
    listen::listen(addr, &options, config.narrator)
}

// ANCHOR: listen_unix
/// Builds a listening Unix-domain socket at `path`: the address is a file, not a port.
#[cfg(unix)]
fn listen_unix(path: &std::path::Path, config: &Config) -> Result<Listener> {
    use crate::conn::SocketFile;
    use std::os::unix::net::UnixListener;

    let n = config.narrator;
    remove_stale_socket_file(path)?;
    let socket =
        Socket::new(Domain::UNIX, Type::STREAM, None).context("could not create a socket")?;
    narrate!(n, "socket(AF_UNIX, SOCK_STREAM) -> {}", common::narrate::fd(&socket));
    // sockaddr_un holds the path in a fixed array (sun_path): 108 bytes on Linux, 104 on macOS,
    // including the terminating NUL.
    let addr = SockAddr::unix(path).with_context(|| {
        format!("{} is not a usable socket path (at most 107 bytes on Linux)", path.display())
    })?;
    socket.bind(&addr).with_context(|| {
        doing(Doing::Bind(Transport::Unix), format!("could not bind {}", path.display()))
    })?;
    narrate!(n, "bind({:?})", path);
    // From here the file exists and is ours: SocketFile removes it when the server ends.
    let file = SocketFile(path.to_owned());
    socket
        .listen(config.backlog)
        .with_context(|| format!("could not listen on {}", path.display()))?;
    narrate!(n, "listen(backlog={}){}", config.backlog, listen::backlog_cap_note(config.backlog));
    let listener = UnixListener::from(std::os::fd::OwnedFd::from(socket));
    Ok(Listener::Unix(listener, file))
}

/// A server that crashed leaves its socket file behind, and `bind` then fails with "Address
/// already in use". A file nobody answers on is stale and safe to remove; anything else is not
/// ours to delete.
#[cfg(unix)]
fn remove_stale_socket_file(path: &std::path::Path) -> Result<()> {
    use std::os::unix::fs::FileTypeExt;

    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(()); // Nothing there: the normal case.
    };
    if !meta.file_type().is_socket() {
        anyhow::bail!("{} exists and is not a socket; not replacing it", path.display());
    }
    match std::os::unix::net::UnixStream::connect(path) {
        Ok(_) => anyhow::bail!("another server is already listening on {}", path.display()),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            std::fs::remove_file(path).with_context(|| {
                format!("could not remove stale socket file {}", path.display())
            })?;
            eprintln!(
                "removed stale socket file {} (no server was listening on it)",
                path.display()
            );
            Ok(())
        }
        Err(e) => Err(e).with_context(|| format!("could not check {}", path.display())),
    }
}
// ANCHOR_END: listen_unix

// ANCHOR: accept_loop
/// Accepts one client, echoes until it closes, then accepts the next: one at a time.
fn accept_loop(listener: &Listener, config: &Config, stop: &Arc<Stop>) -> Summary {
    let n = config.narrator;
    let mut summary = Summary::default();
    let mut buf = vec![0u8; config.buf_size];
    let mut accept_errors = AcceptPolicy::new(n);
    while !stop.is_stopping() {
        // accept() returns a *new* socket for this one client; the listening socket stays
        // open and keeps queueing the clients that arrive meanwhile.
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
            conn.discard_woken();
            break;
        }
        narrate!(n, "accept() -> {}, peer {peer}", conn.fd());
        println!("Connected by {peer}");
        summary.connections += 1;
        serve_one(&mut conn, &peer, &mut buf, &mut summary.bytes_echoed, config, stop);
        narrate!(n, "close({})", conn.fd());
        // Dropping `conn` closes the socket.
    }
    summary
}

/// Echoes one client until it closes, goes quiet past the timeout, or the server stops.
fn serve_one(
    conn: &mut Conn,
    peer: &str,
    buf: &mut [u8],
    bytes_echoed: &mut u64,
    config: &Config,
    stop: &Arc<Stop>,
) {
    let n = config.narrator;
    // Ctrl-C while a client is connected: shutting the socket down makes our blocked recv()
    // return at once, so the server can stop. (The guard unregisters this when we return.)
    let fd = conn.fd();
    let _wake_recv = conn.try_clone().ok().map(|handle| {
        stop.watch(move || {
            narrate!(n, "shutdown({fd}, SHUT_RDWR) (stopping: wakes our blocked recv)");
            let _ = handle.shutdown(Shutdown::Both);
        })
    });
    // SO_RCVTIMEO and SO_SNDTIMEO: a client that stalls cannot hold the server forever.
    if let Err(e) = conn.set_timeouts(config.timeout) {
        eprintln!("connection from {peer}: could not set timeouts: {e}");
    }
    // Tally counts what was echoed even when the connection ends in an error.
    let mut tally = Tally::new(conn);
    let result = echo_until_closed(&mut tally, buf, n);
    *bytes_echoed += tally.sent();
    if let Err(e) = result {
        if !stop.is_stopping() {
            eprintln!("connection from {peer} ended: {}", describe(&e, config.timeout));
        }
    }
}
// ANCHOR_END: accept_loop

/// The error of a finished connection in words: a timeout surfaces as `WouldBlock` (Unix) or
/// `TimedOut` (Windows), which would be a puzzling thing to print.
fn describe(err: &io::Error, timeout: Option<Duration>) -> String {
    match (err.kind(), timeout) {
        (io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut, Some(t)) => {
            format!("no progress for {} s (--timeout), closed it", t.as_secs())
        }
        _ => err.to_string(),
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let plural = if self.connections == 1 { "" } else { "s" };
        write!(
            f,
            "served {} connection{plural}, echoed {}",
            self.connections,
            common::text::human_bytes(self.bytes_echoed)
        )
    }
}

// ANCHOR: run_server
/// The `server` command: bind, announce the address, serve until Ctrl-C, print a summary.
///
/// # Errors
/// When the listening socket cannot be set up; see [`Server::bind`].
pub fn run(config: Config) -> Result<()> {
    let stop = Stop::new();
    stop.trigger_on_ctrl_c()?;
    let server = Server::bind(config)?;
    // The readiness line: scripts and tests wait for it, and it tells the real port.
    println!("listening on {}", server.local_endpoint()?);
    let summary = server.serve(&stop);
    eprintln!("server stopped: {summary}");
    Ok(())
}
// ANCHOR_END: run_server
