//! Chapter 07: the IP address notes, each turned into a command that shows it on your machine.
//!
//! - [`classify`]: an address's historical class, its special ranges and RFCs, CIDR networks;
//! - [`ranges`]: the data `classify` reads: each special range, its RFC and its meaning;
//! - [`special`]: the table of special address forms ({0,0}, {-1,-1}, {127,any}, …);
//! - [`interfaces`]: this machine's interfaces and addresses;
//! - [`bind_matrix`]: which bind address is reachable through which destination, live;
//! - [`lab`]: the notes' pc1/pc2 example in two network namespaces (Linux, root);
//! - [`reuseaddr`]: TIME_WAIT and `SO_REUSEADDR`;
//! - [`backlog`]: the accept queue that `listen(backlog)` bounds;
//! - [`resolve`]: every answer `getaddrinfo()` gives for a name;
//! - [`sockopts`]: the options a fresh socket starts with;
//! - [`sockets`]: the socket table, read from `/proc/net` (Linux);
//! - [`watch`]: that table refreshed in place, with each change marked;
//! - [`capture`]: the packets on loopback to or from one port, one line each (Linux, root);
//! - [`packet`]: the IPv4, IPv6, TCP and UDP headers `capture` reads;
//! - [`pcap`]: the file format `capture --write` saves, which tcpdump and Wireshark read;
//! - [`demo`]: a short tour of the quick, loopback-only experiments.
//!
//! The binary (`src/main.rs`) only parses the command line and calls these.

pub mod backlog;
pub mod bind_matrix;
pub mod capture;
pub mod classify;
pub mod demo;
pub mod interfaces;
pub mod lab;
pub mod packet;
pub mod pcap;
pub mod ranges;
pub mod resolve;
pub mod reuseaddr;
pub mod sockets;
pub mod sockopts;
pub mod special;
pub mod watch;

/// Lays out rows of cells as aligned columns (two spaces apart, no trailing spaces), the way
/// `ss` and `ip` print their tables. The first row is the header.
pub fn columns(rows: &[Vec<String>]) -> String {
    let count = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..count)
        .map(|i| rows.iter().filter_map(|r| r.get(i)).map(|c| c.chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (cell, width) in row.iter().zip(&widths) {
            line.push_str(&format!("{cell:<width$}  "));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
