//! Opening a connection: resolve the host, connect to one of its addresses, and for https run
//! the TLS handshake over that same socket. The result is a [`Connection`], ready for a request.
//!
//! The order is the order of the calls: [`open`] is the entry, then `resolve`
//! (getaddrinfo), then the TCP connect to each address in turn, then `handshake`. Every step
//! waits at most `--connect-timeout`, and never past `--max-time`.

use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::{Arc, mpsc};
use std::thread;

use anyhow::Context;
use ch01_echo::connect::connect_addrs;
use common::{narrate, step};
use rustls::pki_types::ServerName;

use crate::conn::{Connection, Stream, Timeouts};
use crate::error::{Kind, fail, fail_because, kind_of_io, kind_of_tls};
use crate::target::{Scheme, Target};
use crate::wire::Wire;

/// Which address families `-4`/`-6` allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Whatever the resolver returns, in its order.
    Any,
    /// IPv4 only (`-4`).
    V4,
    /// IPv6 only (`-6`).
    V6,
}

/// The scheme decides whether a connection needs TLS.
pub fn needs_tls(target: &Target) -> bool {
    target.scheme == Scheme::Https
}

// ANCHOR: open
/// Resolves the target's host, connects to the first address that answers, and, for https,
/// runs the TLS handshake over that same TCP socket.
///
/// # Errors
/// Resolve (6), connect (7), timeout (28), TLS (35) and certificate (60) failures.
pub fn open(
    target: &Target,
    id: u32,
    family: Family,
    tls: Option<&Arc<rustls::ClientConfig>>,
    timeouts: Timeouts,
    wire: &Wire,
) -> anyhow::Result<Connection> {
    let addrs = resolve(target, family, &timeouts, wire)?;
    let (tcp, peer) = connect_first(target, &addrs, id, &timeouts, wire)?;
    let stream = match tls {
        None => Stream::Plain(tcp),
        Some(config) => handshake(tcp, target, config, &timeouts, wire)?,
    };
    Ok(Connection::new(stream, target.origin(), id, peer, timeouts, wire.clone()))
}
// ANCHOR_END: open

// ANCHOR: resolve
/// getaddrinfo(): a name may stand for several addresses, IPv6 and IPv4; `-4`/`-6` keep one
/// family of them.
fn resolve(
    target: &Target,
    family: Family,
    timeouts: &Timeouts,
    wire: &Wire,
) -> anyhow::Result<Vec<SocketAddr>> {
    let resolved = resolve_in_time(target, timeouts)?;
    if target.host.parse::<IpAddr>().is_err() {
        let list: Vec<String> = resolved.iter().map(|a| a.ip().to_string()).collect();
        wire.info(&format!("Host {} was resolved to {}", target.host, list.join(", ")));
    }
    let addrs: Vec<SocketAddr> = resolved
        .into_iter()
        .filter(|a| match family {
            Family::Any => true,
            Family::V4 => a.is_ipv4(),
            Family::V6 => a.is_ipv6(),
        })
        .collect();
    if addrs.is_empty() {
        let want = if family == Family::V4 { "IPv4" } else { "IPv6" };
        return Err(fail(Kind::Resolve, format!("{} has no {want} address", target.host)));
    }
    Ok(addrs)
}
// ANCHOR_END: resolve

/// getaddrinfo() has no timeout of its own and a slow DNS server can make it block for many
/// seconds, so a name is resolved on a helper thread and we wait for it at most the connect
/// timeout; a thread that takes longer is left to finish on its own. A literal address needs
/// no resolver.
fn resolve_in_time(target: &Target, timeouts: &Timeouts) -> anyhow::Result<Vec<SocketAddr>> {
    let resolved = |result: anyhow::Result<Vec<SocketAddr>>| {
        result.map_err(|e| fail(Kind::Resolve, format!("{e:#}")))
    };
    let (host, port) = (target.host.clone(), target.port);
    if host.parse::<IpAddr>().is_ok() {
        return resolved(common::host::resolve(&host, port));
    }
    let wait = timeouts.next_wait(timeouts.connect)?;
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(common::host::resolve(&host, port));
    });
    match rx.recv_timeout(wait) {
        Ok(result) => resolved(result),
        Err(_) => Err(timeouts.timeout_error(&format!("resolving {}", target.host), wait)),
    }
}

// ANCHOR: connect_first
/// Connects to each address in turn until one answers, as chapter 01's client does.
///
/// Each try is chapter 01's recipe (`socket()`, then `connect()`, narrated), given one address
/// at a time rather than the whole list, for what this chapter adds around it: `-v` says
/// `Trying` and why each address failed, as curl does; each try waits at most
/// `--connect-timeout`, and never past what is left of `--max-time`; and the error names the
/// address that failed last.
fn connect_first(
    target: &Target,
    addrs: &[SocketAddr],
    id: u32,
    timeouts: &Timeouts,
    wire: &Wire,
) -> anyhow::Result<(TcpStream, SocketAddr)> {
    let mut last_err = None;
    for &addr in addrs {
        wire.info(&format!("  Trying {addr}..."));
        let wait = timeouts.next_wait(timeouts.connect)?;
        match connect_addrs(&[addr], Some(wait), wire.narrator) {
            Ok(tcp) => {
                // The request head goes out in one write, but a body may follow in a second:
                // without TCP_NODELAY, Nagle's algorithm would hold it back until the first
                // is acknowledged, and the server's delayed ACK can make that 40 ms.
                step!(wire.narrator, &tcp, "setsockopt(IPPROTO_TCP, TCP_NODELAY, 1)");
                tcp.set_nodelay(true).context("could not set TCP_NODELAY")?;
                narrate!(wire.narrator, &tcp, "setsockopt(IPPROTO_TCP, TCP_NODELAY, 1)");
                wire.info(&format!(
                    "Connected to {} ({}) port {} (#{id})",
                    target.host,
                    addr.ip(),
                    addr.port()
                ));
                return Ok((tcp, addr));
            }
            Err(err) => {
                wire.info(&format!("connect to {addr} failed: {err}"));
                last_err = Some((addr, err));
            }
        }
    }
    let (addr, err) = last_err.expect("at least one address was tried");
    let kind = if common::timeout::is_timeout(&err) { Kind::Timeout } else { Kind::Connect };
    Err(fail_because(kind, format!("could not connect to {addr}"), err))
}
// ANCHOR_END: connect_first

// ANCHOR: handshake
/// TLS is a layer over the socket we already have: the handshake is a few records sent and
/// received over the same TCP connection, and afterwards every `read`/`write` goes through the
/// TLS session, which encrypts into TLS records on the way out and decrypts on the way in.
fn handshake(
    mut tcp: TcpStream,
    target: &Target,
    config: &Arc<rustls::ClientConfig>,
    timeouts: &Timeouts,
    wire: &Wire,
) -> anyhow::Result<Stream> {
    // The name the certificate must carry; an IP literal is checked against the IP SANs.
    let name = ServerName::try_from(target.host.clone())
        .map_err(|e| fail(Kind::Tls, format!("{:?} is not a TLS server name: {e}", target.host)))?;
    let mut session = rustls::ClientConnection::new(Arc::clone(config), name)
        .map_err(|e| fail(kind_of_tls(&e), format!("could not start TLS: {e}")))?;
    let wait = timeouts.next_wait(timeouts.connect)?;
    tcp.set_read_timeout(Some(wait))?;
    tcp.set_write_timeout(Some(wait))?;
    wire.info("TLS handshake: ClientHello ->");
    while session.is_handshaking() {
        if let Err(err) = session.complete_io(&mut tcp) {
            // Whatever ends the handshake early (a close, a reset, an alert) is a TLS failure
            // (35), as curl counts it; only a certificate the check refused is 60.
            let what = match kind_of_io(&err) {
                Kind::Timeout => {
                    return Err(timeouts.timeout_error("in the TLS handshake", wait));
                }
                Kind::Certificate => Kind::Certificate,
                _ => Kind::Tls,
            };
            return Err(fail_because(
                what,
                format!("TLS handshake with {} failed", target.host),
                err,
            ));
        }
    }
    // ANCHOR_END: handshake
    // ANCHOR: handshake_done
    let version = session.protocol_version().map_or("?".into(), |v| format!("{v:?}"));
    let suite =
        session.negotiated_cipher_suite().map_or("?".into(), |s| format!("{:?}", s.suite()));
    wire.info(&format!("TLS connection using {version} / {suite}"));
    let alpn = session.alpn_protocol().map(String::from_utf8_lossy);
    wire.info(&format!("ALPN: server accepted {}", alpn.as_deref().unwrap_or("(none)")));
    Ok(Stream::Tls(Box::new(rustls::StreamOwned::new(session, tcp))))
}
// ANCHOR_END: handshake_done
