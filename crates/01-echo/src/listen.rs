//! The listening socket, built one system call at a time: chapter 01's recipe, which the
//! servers of chapters 02, 03, 05 and 06 call too.
//!
//! Python's `socket.socket()`, `bind()` and `listen()` make several decisions quietly, and
//! `std::net::TcpListener::bind` makes them all in one call (it even sets `SO_REUSEADDR` on Unix
//! without saying so). [`listen`] makes each decision a line of code, in the order the kernel
//! needs them:
//!
//! 1. `socket()`: an endpoint of the address's family (`AF_INET`, `AF_INET6`) for a byte stream;
//! 2. `setsockopt(SO_REUSEADDR)`: may bind a port that old connections hold in `TIME_WAIT`;
//! 3. `setsockopt(IPV6_V6ONLY, 0)`, for `::` only: IPv4 clients may connect too;
//! 4. `bind()`: claim the address and port (port 0: any free port);
//! 5. `listen()`: the kernel now completes handshakes by itself and queues them for `accept()`.
//!
//! With `--trace` each step prints one line, named as in C and Python.

use std::net::{SocketAddr, TcpListener};

use anyhow::Context;
use common::narrate;
use common::narrate::Narrator;
use common::report::{Doing, Transport, doing};
use common::step;
use socket2::{Domain, Protocol, Socket, Type};

/// The choices a server makes about its listening socket.
#[derive(Debug, Clone, Copy)]
pub struct ListenOptions {
    /// `listen(backlog)`: how many finished handshakes the kernel queues for `accept()`.
    pub backlog: i32,
    /// Set `SO_REUSEADDR` before `bind`.
    pub reuse_address: bool,
}

// ANCHOR: listen
/// socket → `SO_REUSEADDR` → `IPV6_V6ONLY=0` for `::` → bind → listen, each narrated.
///
/// # Errors
/// When a call fails: most often `bind`, because the address is in use, is not an address of
/// this machine, or is a privileged port. The message names the address, and the error carries
/// what `main` needs to print a teaching `hint:`.
pub fn listen(
    addr: SocketAddr,
    options: &ListenOptions,
    n: Narrator,
) -> anyhow::Result<TcpListener> {
    // socket(): an IPv4 or IPv6 endpoint (the address family) for a byte stream (TCP).
    let (domain, family) = (Domain::for_address(addr), narrate::family(addr.ip()));
    step!(n, "socket({family}, SOCK_STREAM)");
    let socket = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))
        .context("could not create a socket")?;
    narrate!(n, &socket, "socket({family}, SOCK_STREAM) -> {}", narrate::fd(&socket));

    // SO_REUSEADDR lets a restarted server bind its port while connections of the old one
    // still sit in TIME_WAIT. Without it, a quick restart fails with "Address already in use".
    if options.reuse_address {
        step!(n, "setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)");
        socket.set_reuse_address(true)?;
        narrate!(n, "setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)");
    }
    // Bound to "::" (every IPv6 address), a dual-stack socket also accepts IPv4 clients, seen
    // as ::ffff:a.b.c.d. Operating systems disagree on the default, so we say it.
    if addr.is_ipv6() && addr.ip().is_unspecified() {
        step!(n, "setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 0)");
        socket.set_only_v6(false)?;
        narrate!(n, "setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 0)");
    }

    // bind(): claim the address and port. Port 0 asks the kernel for any free port.
    step!(n, &socket, "bind({addr})");
    socket
        .bind(&addr.into())
        .with_context(|| doing(Doing::Bind(Transport::Tcp), format!("could not bind {addr}")))?;
    narrate!(n, &socket, "bind({addr})");

    // listen(): from now on the kernel completes handshakes on its own and queues up to
    // `backlog` connections for accept(), even while we are busy with another client.
    step!(n, &socket, "listen(backlog={})", options.backlog);
    socket.listen(options.backlog).with_context(|| format!("could not listen on {addr}"))?;
    narrate::kernel::note_backlog(&socket, options.backlog);
    narrate!(
        n,
        &socket,
        "listen(backlog={}){}",
        options.backlog,
        backlog_cap_note(options.backlog)
    );
    // The finished socket becomes std's TcpListener: from here on, plain std.
    Ok(socket.into())
}
// ANCHOR_END: listen

/// Linux silently caps the backlog at `net.core.somaxconn`; narration says so when it bites.
pub fn backlog_cap_note(backlog: i32) -> String {
    let somaxconn = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|text| text.trim().parse::<i32>().ok());
    match somaxconn {
        Some(cap) if backlog > cap => format!(" (the kernel caps it at somaxconn = {cap})"),
        _ => String::new(),
    }
}
