//! `sockopts`: the options a brand-new socket starts with, read with `getsockopt()`.
//!
//! Every option a program does not set keeps the system's default, and the defaults differ
//! between systems and between TCP and UDP, IPv4 and IPv6. Reading them from fresh sockets
//! shows what a program gets for free, and what it must set itself (for example
//! `SO_REUSEADDR`, off, and `IPV6_V6ONLY`, which Linux leaves off and Windows turns on).

use std::fmt::Write as _;
use std::io;

use anyhow::{Context, Result};
use common::narrate::Narrator;
use common::{narrate, step};
use socket2::{Domain, Protocol, Socket, Type};

/// The four kinds of fresh socket compared, as column headings.
pub const KINDS: [&str; 4] = ["TCP/IPv4", "TCP/IPv6", "UDP/IPv4", "UDP/IPv6"];

/// One option: its C name, what it means, and how to read it from a socket.
struct Opt {
    name: &'static str,
    meaning: &'static str,
    read: fn(&Socket) -> io::Result<String>,
    /// Which of [`KINDS`] the option applies to.
    applies: [bool; 4],
}

// ANCHOR: options
const OPTIONS: &[Opt] = &[
    Opt {
        name: "SO_RCVBUF",
        meaning: "bytes the kernel buffers for us to recv() (Linux reports twice what is set)",
        read: |s| s.recv_buffer_size().map(|v| v.to_string()),
        applies: [true; 4],
    },
    Opt {
        name: "SO_SNDBUF",
        meaning: "bytes the kernel buffers from our send() until the network takes them",
        read: |s| s.send_buffer_size().map(|v| v.to_string()),
        applies: [true; 4],
    },
    Opt {
        name: "SO_REUSEADDR",
        meaning: "may bind() a port still held by TIME_WAIT connections (see `reuseaddr`)",
        read: |s| s.reuse_address().map(on_off),
        applies: [true; 4],
    },
    // ANCHOR_END: options
    Opt {
        name: "SO_KEEPALIVE",
        meaning: "probe an idle TCP connection to notice a vanished peer (after 2 h on Linux)",
        read: |s| s.keepalive().map(on_off),
        applies: [true, true, false, false],
    },
    Opt {
        name: "TCP_NODELAY",
        meaning: "off = Nagle's algorithm: hold small writes back while data is unacknowledged",
        read: |s| s.tcp_nodelay().map(on_off),
        applies: [true, true, false, false],
    },
    Opt {
        name: "IPV6_V6ONLY",
        meaning: "off = a socket bound to :: also takes IPv4, as ::ffff:a.b.c.d",
        read: |s| s.only_v6().map(on_off),
        applies: [false, true, false, true],
    },
    Opt {
        name: "IP_TTL",
        meaning: "hops a packet may cross before a router discards it (IPv4)",
        read: |s| s.ttl_v4().map(|v| v.to_string()),
        applies: [true, false, true, false],
    },
    Opt {
        name: "IPV6_UNICAST_HOPS",
        meaning: "the same limit for IPv6, the hop limit",
        read: |s| s.unicast_hops_v6().map(|v| v.to_string()),
        applies: [false, true, false, true],
    },
];

fn on_off(value: bool) -> String {
    if value { "on".to_owned() } else { "off".to_owned() }
}

/// The table: one row per option, one column per kind of socket. A socket that cannot be made
/// (no IPv6 on this machine) shows `-` in its column.
///
/// # Errors
/// When not even an IPv4 TCP socket can be created.
pub fn run(trace: bool) -> Result<String> {
    let n = Narrator::new("sockopts", trace);
    let specs = [
        (Domain::IPV4, Type::STREAM, Protocol::TCP, "AF_INET, SOCK_STREAM"),
        (Domain::IPV6, Type::STREAM, Protocol::TCP, "AF_INET6, SOCK_STREAM"),
        (Domain::IPV4, Type::DGRAM, Protocol::UDP, "AF_INET, SOCK_DGRAM"),
        (Domain::IPV6, Type::DGRAM, Protocol::UDP, "AF_INET6, SOCK_DGRAM"),
    ];
    let mut sockets = Vec::new();
    for (domain, ty, proto, name) in specs {
        step!(n, "socket({name})");
        let socket = Socket::new(domain, ty, Some(proto));
        if let Ok(s) = &socket {
            narrate!(n, s, "socket({name}) -> {}", common::narrate::fd(s));
        }
        sockets.push(socket.ok());
    }
    if sockets[0].is_none() {
        Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))
            .context("could not create a TCP socket")?;
    }
    // One pause for the whole table: the calls below are the same getsockopt() over and over.
    step!(n, "getsockopt() x {}, then close()", OPTIONS.len());
    let mut out = String::new();
    let _ = write!(out, "{:<18}", "option");
    for kind in KINDS {
        let _ = write!(out, "{kind:>10}");
    }
    out.push_str("  meaning\n");
    for opt in OPTIONS {
        let _ = write!(out, "{:<18}", opt.name);
        for (socket, applies) in sockets.iter().zip(opt.applies) {
            let value = match socket {
                Some(s) if applies => (opt.read)(s).unwrap_or_else(|e| format!("({e})")),
                Some(_) => "-".to_owned(),
                None => "no socket".to_owned(),
            };
            let _ = write!(out, "{value:>10}");
        }
        let _ = writeln!(out, "  {}", opt.meaning);
    }
    narrate!(
        n,
        "getsockopt() x {}, then close() x {}",
        OPTIONS.len(),
        sockets.iter().flatten().count()
    );
    Ok(out)
}
