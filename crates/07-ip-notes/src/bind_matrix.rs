//! `bind-matrix`: which bind addresses can be reached through which destination addresses?
//!
//! For every bind address (a row) the experiment builds a listening socket on a port of its
//! own, then for every target address (a column) opens a client socket and `connect()`s to
//! target:port. A connection that succeeds is `accept()`ed, to prove it reached *this*
//! listener and to show the client address as the server sees it (an IPv4 client of a
//! dual-stack `::` socket appears as `::ffff:127.0.0.1`).
//!
//! The rule it demonstrates: a listener receives a connection only when the destination
//! address of the connection is an address the listener holds. `127.0.0.1` holds one address,
//! `0.0.0.0` holds every IPv4 address of the machine, `::` every IPv6 address (and, with
//! `IPV6_V6ONLY` off, every IPv4 address too). On Linux all of 127.0.0.0/8 is the loopback
//! interface, so `127.0.0.1` and `127.0.0.2` behave like the addresses of two network cards,
//! with traffic that never leaves the machine.

use std::fmt::Write as _;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, Result};
use common::narrate::{Narrator, family, fd};
use common::{narrate, step};
use serde::Serialize;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

/// How long a `connect()` may take. On loopback an answer (SYN-ACK or RST) comes in
/// microseconds; without a bound, a SYN that is dropped would be retried for minutes.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How long `accept()` waits for a connection whose `connect()` already succeeded.
const ACCEPT_TIMEOUT: Duration = Duration::from_secs(1);
/// The listen backlog: a handful is plenty, each connection is accepted at once.
const BACKLOG: i32 = 8;

/// The default rows: one address, another loopback address, every IPv4 address, IPv6
/// loopback, and every IPv6 address with and without `IPV6_V6ONLY`.
pub const DEFAULT_BINDS: &str = "127.0.0.1,127.0.0.2,0.0.0.0,::1,::,::+v6only";
/// The default columns.
pub const DEFAULT_TARGETS: &str = "127.0.0.1,127.0.0.2,0.0.0.0,::1";

/// A bind address, and for IPv6 whether the socket sets `IPV6_V6ONLY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BindSpec {
    /// The address to bind.
    pub addr: IpAddr,
    /// `IPV6_V6ONLY=1` (written `ADDR+v6only`); IPv6 sockets otherwise set it to 0.
    pub v6only: bool,
}

impl FromStr for BindSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (addr_text, v6only) = match text.strip_suffix("+v6only") {
            Some(a) => (a, true),
            None => (text, false),
        };
        let bare = addr_text.trim_start_matches('[').trim_end_matches(']');
        let addr: IpAddr = bare.parse().map_err(|_| {
            format!("`{addr_text}` is not an IP address (names are not bound here)")
        })?;
        if v6only && addr.is_ipv4() {
            return Err(format!("`+v6only` is an IPv6 socket option; {addr} is IPv4"));
        }
        Ok(Self { addr, v6only })
    }
}

impl std::fmt::Display for BindSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}", self.addr, if self.v6only { "+v6only" } else { "" })
    }
}

/// What one `connect()` gave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Outcome {
    /// The handshake completed (and, in `bind-matrix`, the listener accepted it).
    Ok {
        /// The client's address as `accept()` reported it, when the listener accepted.
        seen_as: Option<String>,
    },
    /// The other side answered RST: nothing holds that address and port.
    Refused,
    /// No route to the address (ENETUNREACH, EHOSTUNREACH).
    Unreachable {
        /// The system's words.
        error: String,
    },
    /// No answer within [`CONNECT_TIMEOUT`].
    TimedOut,
    /// Anything else, such as an address family the machine does not have.
    Error {
        /// The system's words.
        error: String,
    },
}

impl Outcome {
    /// The short word for a matrix cell.
    pub fn word(&self) -> &'static str {
        match self {
            Outcome::Ok { .. } => "ok",
            Outcome::Refused => "refused",
            Outcome::Unreachable { .. } => "unreachable",
            Outcome::TimedOut => "timeout",
            Outcome::Error { .. } => "error",
        }
    }

    fn from_error(err: &io::Error) -> Self {
        if common::timeout::is_timeout(err) {
            return Outcome::TimedOut;
        }
        match err.kind() {
            io::ErrorKind::ConnectionRefused => Outcome::Refused,
            io::ErrorKind::NetworkUnreachable | io::ErrorKind::HostUnreachable => {
                Outcome::Unreachable { error: err.to_string() }
            }
            _ => Outcome::Error { error: err.to_string() },
        }
    }
}

// ANCHOR: listen
/// `socket()`, `setsockopt()`, `bind()`, `listen()`: a listener on `spec` at `port` (0 lets
/// the kernel choose).
///
/// # Errors
/// When the address cannot be bound: not an address of this machine (EADDRNOTAVAIL), no IPv6
/// on this machine, or the port is taken.
pub fn listen(spec: BindSpec, port: u16, n: Narrator) -> Result<Socket> {
    let addr = SocketAddr::new(spec.addr, port);
    step!(n, "socket({}, SOCK_STREAM)", family(spec.addr));
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
        .with_context(|| format!("could not create an {} socket", family(spec.addr)))?;
    narrate!(n, &socket, "socket({}, SOCK_STREAM) -> {}", family(spec.addr), fd(&socket));
    if spec.addr.is_ipv6() {
        // Whether a `::` socket also takes IPv4 differs between systems (Linux: no by default
        // via net.ipv6.bindv6only=0, i.e. it does; Windows: it does not), so we always say.
        step!(n, &socket, "setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, {})", u8::from(spec.v6only));
        socket.set_only_v6(spec.v6only).context("could not set IPV6_V6ONLY")?;
        narrate!(n, "setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, {})", u8::from(spec.v6only));
    }
    step!(n, &socket, "bind({addr})");
    socket.bind(&addr.into()).with_context(|| format!("could not bind {addr}"))?;
    narrate!(n, &socket, "bind({addr})");
    step!(n, &socket, "listen(backlog={BACKLOG})");
    socket.listen(BACKLOG).with_context(|| format!("could not listen on {addr}"))?;
    narrate::kernel::note_backlog(&socket, BACKLOG);
    narrate!(n, &socket, "listen(backlog={BACKLOG})");
    Ok(socket)
}
// ANCHOR_END: listen

// ANCHOR: connect
/// `socket()` and `connect()` to `target`, bounded by [`CONNECT_TIMEOUT`]. The returned socket
/// (on success) keeps the connection open until it is dropped.
pub fn connect(target: SocketAddr, n: Narrator) -> (Outcome, Option<Socket>) {
    step!(n, "socket({}, SOCK_STREAM)", family(target.ip()));
    let socket = match Socket::new(Domain::for_address(target), Type::STREAM, Some(Protocol::TCP)) {
        Ok(socket) => socket,
        Err(e) => return (Outcome::Error { error: e.to_string() }, None),
    };
    narrate!(n, &socket, "socket({}, SOCK_STREAM) -> {}", family(target.ip()), fd(&socket));
    step!(n, &socket, "connect({target})");
    match socket.connect_timeout(&target.into(), CONNECT_TIMEOUT) {
        Ok(()) => {
            narrate!(n, &socket, "connect({target}) -> ok");
            (Outcome::Ok { seen_as: None }, Some(socket))
        }
        Err(e) => {
            narrate!(n, "connect({target}) -> {e}");
            (Outcome::from_error(&e), None)
        }
    }
}
// ANCHOR_END: connect

/// One row of the matrix.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// The bind address, as given (`::+v6only` included).
    pub bind: String,
    /// The address the listener really bound (with its port), or why it could not.
    pub listener: std::result::Result<String, String>,
    /// One cell per target, in order.
    pub cells: Vec<Cell>,
}

/// One cell: a target and what connecting to it gave.
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    /// The target address (the port is the row's).
    pub target: String,
    /// What happened.
    pub outcome: Outcome,
    /// Why, in one sentence.
    pub why: String,
}

// ANCHOR: row
/// Binds `spec`, tries every target on the listener's port, and explains each result.
pub fn run_row(spec: BindSpec, targets: &[IpAddr], trace: bool) -> Row {
    let (server, client) = (Narrator::new("server", trace), Narrator::new("client", trace));
    let listener = match listen(spec, 0, server) {
        Ok(listener) => listener,
        Err(e) => {
            return Row { bind: spec.to_string(), listener: Err(format!("{e:#}")), cells: vec![] };
        }
    };
    let local = listener.local_addr().ok().and_then(|a| a.as_socket());
    let port = local.map_or(0, |a| a.port());
    // SO_RCVTIMEO bounds accept() too (on Linux and the BSDs), so a lost connection cannot
    // hang the experiment.
    let _ = listener.set_read_timeout(Some(ACCEPT_TIMEOUT));
    // ANCHOR_END: row
    // ANCHOR: row_probe
    let mut cells = Vec::new();
    for &target in targets {
        let (mut outcome, conn) = connect(SocketAddr::new(target, port), client);
        if conn.is_some() {
            // Prove the connection reached *this* listener, and see the client's address as
            // the server sees it.
            step!(server, &listener, "accept()");
            match listener.accept() {
                Ok((accepted, peer)) => {
                    let peer = peer.as_socket().map(|p| p.ip().to_string());
                    let (seen, conn) = (peer.as_deref().unwrap_or("?"), fd(&accepted));
                    narrate!(server, (&listener, &accepted), "accept() -> {conn}, peer {seen}");
                    outcome = Outcome::Ok { seen_as: peer };
                }
                Err(e) => {
                    outcome = Outcome::Error { error: format!("connected, but accept(): {e}") }
                }
            }
        }
        let why = explain(spec, target, &outcome);
        cells.push(Cell { target: target.to_string(), outcome, why });
        // The accepted socket and the client socket close here, at the end of the iteration.
    }
    narrate::close(server, listener, " (the listener)");
    let listener_addr = local.map_or_else(|| spec.to_string(), |a| a.to_string());
    Row { bind: spec.to_string(), listener: Ok(listener_addr), cells }
}
// ANCHOR_END: row_probe

/// Why a cell came out as it did, from the rules of bind and connect.
pub fn explain(spec: BindSpec, target: IpAddr, outcome: &Outcome) -> String {
    let bind = spec.addr;
    // connect() to 0.0.0.0 or :: means "this host": Linux rewrites it to loopback.
    let effective = common::host::loopback_if_unspecified(target);
    let rewritten = if effective == target {
        String::new()
    } else {
        format!("connect() to {target} means \"this host\": Linux sends it to {effective}; ")
    };
    let dual_stack = bind.is_ipv6() && bind.is_unspecified() && !spec.v6only;
    match outcome {
        Outcome::Ok { seen_as } => {
            let seen = seen_as
                .as_deref()
                .map(|s| format!(" (the server saw the client as {s})"))
                .unwrap_or_default();
            let reason = if bind == effective {
                format!("{effective} is exactly the address the listener bound")
            } else if bind.is_unspecified() && bind.is_ipv4() {
                format!(
                    "0.0.0.0 holds the port on every IPv4 address of this machine, {effective} included"
                )
            } else if dual_stack && effective.is_ipv4() {
                "a :: socket with IPV6_V6ONLY=0 is dual-stack: it takes IPv4 connections too, \
                 as IPv4-mapped addresses"
                    .to_owned()
            } else if bind.is_unspecified() {
                format!(
                    ":: holds the port on every IPv6 address of this machine, {effective} included"
                )
            } else {
                format!("{effective} reached the listener on {bind}")
            };
            format!("{rewritten}{reason}{seen}")
        }
        Outcome::Refused => {
            let reason = if bind.is_ipv6()
                && bind.is_unspecified()
                && spec.v6only
                && effective.is_ipv4()
            {
                "IPV6_V6ONLY=1: this :: socket takes IPv6 only, so no socket holds the IPv4 \
                 address and the kernel answers RST"
                    .to_owned()
            } else if bind.is_ipv4() && effective.is_ipv6() {
                format!("{bind} is an IPv4 socket; an IPv6 connection never reaches it")
            } else if bind.is_ipv6() && effective.is_ipv4() {
                format!(
                    "{bind} is one IPv6 address; IPv4 reaches only a :: socket with IPV6_V6ONLY=0"
                )
            } else {
                format!(
                    "the listener holds {bind} only; the connection to {effective} arrives, but \
                     no socket holds that address and port, so the kernel answers RST"
                )
            };
            format!("{rewritten}{reason}")
        }
        Outcome::Unreachable { error } => format!("{rewritten}no route to {effective}: {error}"),
        Outcome::TimedOut => format!(
            "{rewritten}no answer within {} s: something dropped the SYN (a firewall, or an \
             address on no link)",
            CONNECT_TIMEOUT.as_secs()
        ),
        Outcome::Error { error } => format!("{rewritten}{error}"),
    }
}

/// The `bind-matrix` command.
pub fn run(binds: &[BindSpec], targets: &[IpAddr], trace: bool) -> Vec<Row> {
    binds.iter().map(|&spec| run_row(spec, targets, trace)).collect()
}

/// The matrix and the explanations, for people.
pub fn render(rows: &[Row], targets: &[IpAddr]) -> String {
    let mut header = vec!["bind | connect".to_owned()];
    header.extend(targets.iter().map(IpAddr::to_string));
    header.push("port".to_owned());
    let mut table = vec![header];
    for row in rows {
        let mut cells = vec![row.bind.clone()];
        match &row.listener {
            Ok(addr) => {
                cells.extend(row.cells.iter().map(|c| c.outcome.word().to_owned()));
                cells.push(addr.rsplit(':').next().unwrap_or("?").to_owned());
            }
            Err(e) => cells.push(format!("bind failed: {e}")),
        }
        table.push(cells);
    }
    let mut out = crate::columns(&table);
    out.push_str("\nwhy:\n");
    for row in rows {
        for cell in &row.cells {
            let _ = writeln!(
                out,
                "  {} -> {}: {}: {}",
                row.bind,
                cell.target,
                cell.outcome.word(),
                cell.why
            );
        }
    }
    out
}

/// Parses a comma-separated list of bind specs, for clap.
///
/// # Errors
/// The first item that is not an address.
pub fn parse_binds(text: &str) -> Result<Vec<BindSpec>, String> {
    text.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::parse).collect()
}

/// Parses a comma-separated list of target addresses, for clap.
///
/// # Errors
/// The first item that is not an address.
pub fn parse_targets(text: &str) -> Result<Vec<IpAddr>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.trim_start_matches('[')
                .trim_end_matches(']')
                .parse()
                .map_err(|_| format!("`{s}` is not an IP address"))
        })
        .collect()
}

/// The address a socket is bound to, for narration of a [`SockAddr`].
pub fn show_addr(addr: &SockAddr) -> String {
    addr.as_socket().map_or_else(|| "?".to_owned(), |a| a.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;

    #[test]
    fn bind_specs_parse() {
        assert_eq!(
            "::+v6only".parse::<BindSpec>(),
            Ok(BindSpec { addr: IpAddr::V6(Ipv6Addr::UNSPECIFIED), v6only: true })
        );
        assert_eq!("[::1]".parse::<BindSpec>().map(|s| s.addr.is_loopback()), Ok(true));
        assert!("0.0.0.0+v6only".parse::<BindSpec>().is_err());
        assert!("localhost".parse::<BindSpec>().is_err());
        assert_eq!(parse_binds(DEFAULT_BINDS).map(|b| b.len()), Ok(6));
        assert_eq!(parse_targets(DEFAULT_TARGETS).map(|t| t.len()), Ok(4));
    }

    #[test]
    fn loopback_rows_follow_the_bind_rule() {
        let targets = parse_targets("127.0.0.1,127.0.0.2,0.0.0.0").expect("literals");
        let words = |bind: &str| -> Vec<&'static str> {
            let row = run_row(bind.parse().expect("literal"), &targets, false);
            row.cells.iter().map(|c| c.outcome.word()).collect()
        };
        assert_eq!(words("127.0.0.1"), ["ok", "refused", "ok"]);
        assert_eq!(words("127.0.0.2"), ["refused", "ok", "refused"]);
        assert_eq!(words("0.0.0.0"), ["ok", "ok", "ok"]);
    }
}
