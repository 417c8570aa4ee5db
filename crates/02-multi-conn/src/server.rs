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
//! Both share what is here: the listening socket, the open-files limit, and the statistics.
//!
//! Unlike chapter 01 (and the tutorial's `Accepted connection from ...`), this server prints
//! nothing per client unless `--trace` is on: with thousands of clients, a line each would be
//! most of the server's work and bury the summary. `--trace` shows every accept and close.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use anyhow::{Context, Result};
use common::narrate;
use common::narrate::Narrator;
use common::report::{Doing, Transport, doing};
use common::stop::Stop;
use common::text::human_bytes;
use socket2::{Domain, Protocol, Socket, Type};

/// The tutorial's port for this chapter, so chapters run side by side.
pub const DEFAULT_PORT: u16 = 65433;
/// Linux's default `somaxconn` since 5.4: when 10,000 clients connect at once, the kernel
/// queues up to this many finished handshakes before the server has accepted them.
pub const DEFAULT_BACKLOG: i32 = 4096;
/// Connections served at once; more are refused (accepted and closed at once). It keeps a
/// flood of clients from exhausting file descriptors, or threads in `threads` mode.
pub const DEFAULT_MAX_CONNS: usize = 10_000;

/// How the server serves its clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One thread per connection.
    Threads,
    /// One thread, non-blocking sockets, an event loop.
    Poll,
}

/// Everything the server needs to know, from the command line.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to bind (literal or name).
    pub host: String,
    /// Port; 0 lets the kernel pick.
    pub port: u16,
    /// Threads or event loop.
    pub mode: Mode,
    /// `listen()` backlog.
    pub backlog: i32,
    /// Connections served at once.
    pub max_conns: usize,
    /// Narration (`--trace`).
    pub narrator: Narrator,
}

/// Counters both modes keep, shared between threads in `threads` mode.
#[derive(Debug, Default)]
pub struct Stats {
    /// Connections accepted and served.
    pub served: AtomicU64,
    /// Connections refused because `max_conns` were already open.
    pub refused: AtomicU64,
    /// Connections open right now.
    pub live: AtomicUsize,
    /// The most connections open at once.
    pub peak: AtomicUsize,
    /// Bytes echoed.
    pub bytes: AtomicU64,
}

impl Stats {
    /// Counts a newly accepted connection and updates the peak.
    pub fn opened(&self) {
        self.served.fetch_add(1, Ordering::Relaxed);
        let live = self.live.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak.fetch_max(live, Ordering::Relaxed);
    }

    /// Counts a closed connection.
    pub fn closed(&self) {
        self.live.fetch_sub(1, Ordering::Relaxed);
    }
}

impl std::fmt::Display for Stats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let served = self.served.load(Ordering::Relaxed);
        write!(
            f,
            "served {served} connection{}, peak {} at once, echoed {}",
            if served == 1 { "" } else { "s" },
            self.peak.load(Ordering::Relaxed),
            human_bytes(self.bytes.load(Ordering::Relaxed)),
        )?;
        match self.refused.load(Ordering::Relaxed) {
            0 => Ok(()),
            refused => write!(f, ", refused {refused} (--max-conns)"),
        }
    }
}

// ANCHOR: raise_nofile
/// Raises this process's soft limit on open files to its hard limit. Every socket is a file
/// descriptor, and the usual soft limit (1024) would stop us near a thousand clients.
///
/// # Errors
/// When the limits cannot be read or set.
pub fn raise_open_files_limit(n: Narrator) -> Result<u64> {
    let (soft, hard) =
        rlimit::getrlimit(rlimit::Resource::NOFILE).context("could not read RLIMIT_NOFILE")?;
    if soft >= hard {
        narrate!(
            n,
            "getrlimit(RLIMIT_NOFILE) -> soft {soft}, hard {hard} (already at the hard limit)"
        );
        return Ok(soft);
    }
    let raised = rlimit::increase_nofile_limit(hard).context("could not raise RLIMIT_NOFILE")?;
    narrate!(n, "getrlimit(RLIMIT_NOFILE) -> soft {soft}, hard {hard}; setrlimit(soft {raised})");
    Ok(raised)
}
// ANCHOR_END: raise_nofile

// ANCHOR: listen
/// The listening socket, as in chapter 01, with a backlog sized for many clients at once.
///
/// # Errors
/// When the host does not resolve, or `bind`/`listen` fail.
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
    socket
        .bind(&addr.into())
        .with_context(|| doing(Doing::Bind(Transport::Tcp), format!("could not bind {addr}")))?;
    narrate!(n, "bind({addr})");
    // The backlog matters here: 10,000 clients connecting at once all finish their handshakes
    // before we accept them. A queue that is too short makes the kernel drop SYNs, and those
    // clients retry after a second, then after three: a slow start for no reason.
    socket.listen(config.backlog).with_context(|| format!("could not listen on {addr}"))?;
    narrate!(n, "listen(backlog={})", config.backlog);
    Ok(socket.into())
}
// ANCHOR_END: listen

/// The `server` command: raise the files limit, listen, announce, serve until Ctrl-C, and
/// print a summary.
///
/// # Errors
/// When the listening socket cannot be set up or the event loop fails.
pub fn run(config: Config) -> Result<()> {
    let stop = Stop::new();
    stop.trigger_on_ctrl_c()?;
    raise_open_files_limit(config.narrator)?;
    let listener = listen(&config)?;
    let local = listener.local_addr().context("could not read the bound address")?;
    println!("listening on {local}");
    let stats = Arc::new(Stats::default());
    match config.mode {
        Mode::Threads => crate::threads::serve(listener, &config, &stop, &stats)?,
        Mode::Poll => crate::poll::serve(listener, &config, &stop, &stats)?,
    }
    eprintln!("server stopped: {stats}");
    Ok(())
}
