//! `--host` and `--port` become socket addresses the same way in every chapter.
//!
//! A host may be an IPv4 literal (`127.0.0.1`), an IPv6 literal with or without brackets
//! (`::1`, `[::1]`), or a name (`localhost`). A name goes through the resolver
//! (`getaddrinfo`), which may return several addresses, in an order the system chooses:
//! `localhost` is often `::1` *and* `127.0.0.1`. Chapter 07 shows that on your machine.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};

use anyhow::{Context, bail};

/// Every address `host:port` stands for, in the resolver's order (one, for a literal).
///
/// # Errors
/// When the name does not resolve, or resolves to nothing.
pub fn resolve(host: &str, port: u16) -> anyhow::Result<Vec<SocketAddr>> {
    let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    // A literal needs no resolver, and parsing it ourselves keeps `::1` from being read as a
    // name.
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let addrs: Vec<SocketAddr> = (bare, port)
        .to_socket_addrs()
        .with_context(|| format!("could not resolve host {bare:?}"))?
        .collect();
    if addrs.is_empty() {
        bail!("host {bare:?} resolved to no address");
    }
    Ok(addrs)
}

/// The address a client on this machine uses to reach a socket bound to `bound`: the same,
/// except that "every address" (0.0.0.0 or ::) becomes loopback, since connecting to the
/// unspecified address is not portable.
pub fn reachable(bound: std::net::SocketAddr) -> std::net::SocketAddr {
    std::net::SocketAddr::new(loopback_if_unspecified(bound.ip()), bound.port())
}

/// `0.0.0.0` becomes `127.0.0.1` and `::` becomes `::1`; any other address stays. It is also
/// what Linux does to a `connect()` aimed at the unspecified address.
pub fn loopback_if_unspecified(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_need_no_resolver() -> anyhow::Result<()> {
        assert_eq!(resolve("127.0.0.1", 80)?, vec!["127.0.0.1:80".parse()?]);
        assert_eq!(resolve("::1", 80)?, vec!["[::1]:80".parse()?]);
        assert_eq!(resolve("[::1]", 80)?, vec!["[::1]:80".parse()?]);
        Ok(())
    }

    #[test]
    fn every_address_is_reached_through_loopback() -> anyhow::Result<()> {
        assert_eq!(reachable("0.0.0.0:80".parse()?), "127.0.0.1:80".parse()?);
        assert_eq!(reachable("[::]:80".parse()?), "[::1]:80".parse()?);
        assert_eq!(reachable("10.1.2.3:80".parse()?), "10.1.2.3:80".parse()?);
        Ok(())
    }

    #[test]
    fn localhost_is_loopback() -> anyhow::Result<()> {
        assert!(resolve("localhost", 80)?.iter().all(|a| a.ip().is_loopback()));
        Ok(())
    }

    #[test]
    fn unknown_names_fail_with_the_name() {
        // `.invalid` is reserved (RFC 2606): it never resolves, and resolvers answer at once.
        let err = resolve("no-such-host.invalid", 80).unwrap_err();
        assert!(format!("{err:#}").contains("no-such-host.invalid"));
    }
}
