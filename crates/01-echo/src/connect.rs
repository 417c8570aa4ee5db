//! Connecting to a server: chapter 01's recipe, which the clients of chapters 02, 03, 05 and 06
//! call too.
//!
//! A client needs only two calls, `socket()` and `connect()`; it never calls `bind`, because
//! `connect` gives the socket a free local port (an *ephemeral* port) by itself. What takes
//! care is the address: a host name can stand for several (`localhost` is often both `::1` and
//! `127.0.0.1`), so [`connect`] resolves the name and [`connect_addrs`] tries each address in
//! the resolver's order, a fresh socket for each, until one answers. That is what Python's
//! `socket.create_connection` does.
//!
//! With `--trace` every attempt prints its `socket()` and its `connect()` line, failures too.

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::Context;
use common::narrate;
use common::narrate::Narrator;
use common::report::{Doing, Transport, doing};
use common::step;
use socket2::{Domain, Protocol, Socket, Type};

// ANCHOR: connect
/// socket → connect to each resolved address in turn until one answers (`create_connection`).
///
/// `timeout` bounds each `connect()` (the handshake); `None` waits as long as the kernel does.
///
/// # Errors
/// When `host` does not resolve, or no address accepts: the last address's error, such as
/// "Connection refused", in a message naming `host:port`.
pub fn connect(
    host: &str,
    port: u16,
    timeout: Option<Duration>,
    n: Narrator,
) -> anyhow::Result<TcpStream> {
    let addrs = common::host::resolve(host, port)?;
    connect_addrs(&addrs, timeout, n).with_context(|| {
        doing(
            Doing::Connect(Transport::Tcp),
            format!("could not connect to {}", endpoint(host, port)),
        )
    })
}
// ANCHOR_END: connect

// ANCHOR: connect_addrs
/// The loop of [`connect`], for callers that resolved the name already: a fresh socket per
/// address, the first that answers wins.
///
/// # Errors
/// The last address's error when none answers (an `InvalidInput` error for an empty list).
pub fn connect_addrs(
    addrs: &[SocketAddr],
    timeout: Option<Duration>,
    n: Narrator,
) -> io::Result<TcpStream> {
    let mut last_error = None;
    for &addr in addrs {
        let domain = Domain::for_address(addr);
        step!(n, "socket({}, SOCK_STREAM)", narrate::family(addr.ip()));
        let socket = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))?;
        narrate!(
            n,
            &socket,
            "socket({}, SOCK_STREAM) -> {}",
            narrate::family(addr.ip()),
            narrate::fd(&socket)
        );
        // connect() runs TCP's three-way handshake: SYN, SYN-ACK, ACK. It returns once the
        // server's kernel has answered, before the server calls accept().
        step!(n, &socket, "connect({addr})");
        let attempt = match timeout {
            Some(timeout) => socket.connect_timeout(&addr.into(), timeout),
            None => socket.connect(&addr.into()),
        };
        match attempt {
            Ok(()) => {
                narrate!(n, &socket, "connect({addr})");
                return Ok(socket.into());
            }
            Err(e) => {
                narrate!(n, "connect({addr}) -> {e}");
                last_error = Some(e);
            }
        }
    }
    Err(last_error
        .unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address to connect to")))
}
// ANCHOR_END: connect_addrs

/// `host:port` as a user would type it: an IPv6 literal gets brackets, unless it has them.
fn endpoint(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}
