//! `interfaces`: this machine's network interfaces and their addresses, as `ip addr` (Linux)
//! or `ifconfig` (macOS) shows them.
//!
//! Each address is one a server can `bind()` and a client on the same network can reach. The
//! list comes from `getifaddrs()`, through the `if-addrs` crate. The last column classifies the
//! address, which answers the notes' question "which of my addresses can the Internet see?":
//! usually none, they are private and the router's NAT stands in for them.

use std::net::IpAddr;

use anyhow::{Context, Result};
use if_addrs::IfAddr;
use serde::Serialize;

use crate::classify;

/// One address of one interface.
#[derive(Debug, Clone, Serialize)]
pub struct Address {
    /// Interface name (`lo`, `eth0`, `wlan0`, …).
    pub interface: String,
    /// The interface index, the number behind a `%zone` in `fe80::1%2`.
    pub index: Option<u32>,
    /// The address.
    pub address: IpAddr,
    /// Prefix length (`/8`).
    pub prefix: u8,
    /// The netmask written out (`255.0.0.0`).
    pub netmask: IpAddr,
    /// The broadcast address, IPv4 only.
    pub broadcast: Option<IpAddr>,
    /// Flags: `up`/`down`, `loopback`, `point-to-point`, `link-local`.
    pub flags: Vec<&'static str>,
    /// The first special range it is in, or `public`.
    pub kind: &'static str,
}

/// Every address of every interface, in the system's order.
///
/// # Errors
/// When `getifaddrs()` fails.
pub fn list() -> Result<Vec<Address>> {
    let interfaces = if_addrs::get_if_addrs().context("could not list the network interfaces")?;
    Ok(interfaces
        .into_iter()
        .map(|iface| {
            let mut flags = vec![if iface.is_oper_up() { "up" } else { "down" }];
            if iface.is_loopback() {
                flags.push("loopback");
            }
            if iface.is_p2p() {
                flags.push("point-to-point");
            }
            if iface.is_link_local() {
                flags.push("link-local");
            }
            let (address, prefix, netmask, broadcast) = match &iface.addr {
                IfAddr::V4(a) => (
                    IpAddr::V4(a.ip),
                    a.prefixlen,
                    IpAddr::V4(a.netmask),
                    a.broadcast.map(IpAddr::V4),
                ),
                IfAddr::V6(a) => (IpAddr::V6(a.ip), a.prefixlen, IpAddr::V6(a.netmask), None),
            };
            let report = classify::classify(classify::Input { addr: address, prefix: None });
            let kind = report.ranges.first().map_or("public", |hit| hit.name);
            Address {
                interface: iface.name,
                index: iface.index,
                address,
                prefix,
                netmask,
                broadcast,
                flags,
                kind,
            }
        })
        .collect())
}

/// The list for people.
pub fn render(addresses: &[Address]) -> String {
    let header = ["interface", "index", "address", "netmask", "broadcast", "flags", "kind"];
    let mut rows = vec![header.map(str::to_owned).to_vec()];
    for a in addresses {
        rows.push(vec![
            a.interface.clone(),
            a.index.map_or_else(|| "-".to_owned(), |i| i.to_string()),
            format!("{}/{}", a.address, a.prefix),
            a.netmask.to_string(),
            a.broadcast.map_or_else(|| "-".to_owned(), |b| b.to_string()),
            a.flags.join(","),
            a.kind.to_owned(),
        ]);
    }
    crate::columns(&rows)
}
