//! `resolve HOST`: every answer `getaddrinfo()` gives for a name, in its order.
//!
//! A program that calls `bind("localhost", …)` or `connect("localhost", …)` does not bind or
//! connect a *name*: the library first asks the resolver for addresses (from `/etc/hosts`,
//! DNS, …) and then uses one of them, usually the first. The list can hold IPv6 and IPv4
//! addresses, in an order set by RFC 6724 and `/etc/gai.conf`, and it can change with the
//! machine, its network and its DNS server. So `localhost` may be `::1` on one machine and
//! `127.0.0.1` on another, and a server bound to one is refused to a client that picked the
//! other. Use an address literal where the address matters.
//!
//! With no hints, `getaddrinfo()` returns each address once per socket type (stream, datagram,
//! raw): the resolver does not know what the caller wants, so it offers everything.

use std::fmt::Write as _;
use std::net::IpAddr;

use anyhow::{Context, Result};
use dns_lookup::{AddrFamily, AddrInfoHints, SockType};
use serde::Serialize;

/// One entry of the answer.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Answer {
    /// `AF_INET` or `AF_INET6`.
    pub family: &'static str,
    /// `SOCK_STREAM`, `SOCK_DGRAM`, `SOCK_RAW`, or the number.
    pub socktype: String,
    /// The protocol number (6 = TCP, 17 = UDP, 0 = any).
    pub protocol: i32,
    /// The address.
    pub address: IpAddr,
}

// ANCHOR: resolve
/// Calls `getaddrinfo(host, NULL, hints)` with empty hints (`AF_UNSPEC`, any socket type),
/// as Python's `socket.getaddrinfo(host, None)` does, and returns every entry in order.
///
/// # Errors
/// When the name does not resolve.
pub fn getaddrinfo(host: &str) -> Result<Vec<Answer>> {
    let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    let hints = AddrInfoHints { flags: 0, address: 0, socktype: 0, protocol: 0 };
    let entries = dns_lookup::getaddrinfo(Some(bare), None, Some(hints))
        .map_err(std::io::Error::from)
        .with_context(|| format!("could not resolve host {bare:?}"))?;
    let mut answers = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("could not read an answer for {bare:?}"))?;
        let family = if AddrFamily::Inet6 == entry.address { "AF_INET6" } else { "AF_INET" };
        let socktype = if SockType::Stream == entry.socktype {
            "SOCK_STREAM".to_owned()
        } else if SockType::DGram == entry.socktype {
            "SOCK_DGRAM".to_owned()
        } else if is_raw(entry.socktype) {
            "SOCK_RAW".to_owned()
        } else {
            entry.socktype.to_string()
        };
        answers.push(Answer {
            family,
            socktype,
            protocol: entry.protocol,
            address: entry.sockaddr.ip(),
        });
    }
    Ok(answers)
}
// ANCHOR_END: resolve

#[cfg(not(target_os = "redox"))]
fn is_raw(socktype: i32) -> bool {
    SockType::Raw == socktype
}

/// The distinct addresses, in the order they first appear: what a client tries, in turn.
pub fn distinct(answers: &[Answer]) -> Vec<IpAddr> {
    let mut seen = Vec::new();
    for a in answers {
        if !seen.contains(&a.address) {
            seen.push(a.address);
        }
    }
    seen
}

/// The answer for people.
pub fn render(host: &str, answers: &[Answer]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "getaddrinfo({host:?}, hints: AF_UNSPEC, any type) returned {} entries, in this order:",
        answers.len()
    );
    let _ = writeln!(out, "  #  {:<9} {:<12} {:<9} address", "family", "type", "protocol");
    for (i, a) in answers.iter().enumerate() {
        let proto = match a.protocol {
            6 => "tcp".to_owned(),
            17 => "udp".to_owned(),
            0 => "any".to_owned(),
            n => n.to_string(),
        };
        let _ = writeln!(
            out,
            "{:>3}  {:<9} {:<12} {:<9} {}",
            i + 1,
            a.family,
            a.socktype,
            proto,
            a.address
        );
    }
    let addrs = distinct(answers);
    let list: Vec<String> = addrs.iter().map(IpAddr::to_string).collect();
    let _ = writeln!(out, "\ndistinct addresses, in order: {}", list.join(", "));
    if let Some(first) = addrs.first() {
        let _ = writeln!(
            out,
            "a server that binds {host:?} takes the first, {first}; a client that connects to \
             {host:?} tries\nthem in this order until one answers."
        );
    }
    if addrs.len() > 1 {
        let _ = writeln!(
            out,
            "With more than one address, a server and a client can pick different ones: \
             bind and connect\nto an address literal (127.0.0.1, ::1) when it matters."
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_resolve_to_themselves() -> Result<()> {
        let answers = getaddrinfo("127.0.0.1")?;
        assert!(!answers.is_empty());
        assert!(answers.iter().all(|a| a.address.to_string() == "127.0.0.1"));
        assert!(answers.iter().any(|a| a.socktype == "SOCK_STREAM"));
        assert_eq!(distinct(&answers).len(), 1);
        Ok(())
    }

    #[test]
    fn localhost_is_loopback_only() -> Result<()> {
        let answers = getaddrinfo("localhost")?;
        assert!(answers.iter().all(|a| a.address.is_loopback()), "{answers:?}");
        Ok(())
    }

    #[test]
    fn an_invalid_name_fails_with_the_name() {
        let err = getaddrinfo("no-such-host.invalid").expect_err(".invalid never resolves");
        assert!(format!("{err:#}").contains("no-such-host.invalid"));
    }
}
