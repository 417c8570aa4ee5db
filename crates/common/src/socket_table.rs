//! The kernel's socket table, as `netstat -an` and `ss -tuan` show it (Linux).
//!
//! On Linux the kernel publishes every TCP and UDP socket in four text files,
//! `/proc/net/tcp`, `/proc/net/tcp6`, `/proc/net/udp` and `/proc/net/udp6`, one line each:
//!
//! ```text
//!   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
//!    0: 0100007F:FF98 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 41263 ...
//! ```
//!
//! Addresses are hexadecimal: the IPv4 address as the 32-bit number the kernel holds in memory
//! (so on a little-endian machine `0100007F` is 127.0.0.1, bytes reversed), the port in plain
//! hex (`FF98` = 65432). `st` is the TCP state (`0A` = LISTEN). `netstat` and the older tools
//! read exactly these files; `ss` asks the kernel over netlink instead.
//!
//! Chapter 07's `sockets` and `watch` print this table; `--kernel` in every chapter looks up one
//! socket in it. Other systems have no `/proc/net`: there reading it says so and names the tool
//! to use.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use anyhow::Result;
use serde::Serialize;

/// The four files, in the order [`read_table`] reads them.
pub const FILES: [(Proto, &str); 4] = [
    (Proto::Tcp, "/proc/net/tcp"),
    (Proto::Tcp, "/proc/net/tcp6"),
    (Proto::Udp, "/proc/net/udp"),
    (Proto::Udp, "/proc/net/udp6"),
];

/// TCP or UDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    /// A `/proc/net/tcp{,6}` line.
    Tcp,
    /// A `/proc/net/udp{,6}` line.
    Udp,
}

/// One socket, one line of the table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// TCP or UDP.
    pub proto: Proto,
    /// The local address and port.
    pub local: SocketAddr,
    /// The peer's address and port (all zeros when not connected).
    pub remote: SocketAddr,
    /// The state, as `ss` names it: `LISTEN`, `ESTAB`, `TIME-WAIT`, `UNCONN`, …
    pub state: &'static str,
    /// Bytes sent but not yet acknowledged (TCP) or queued to send (UDP).
    pub send_q: u32,
    /// Bytes received but not yet read by the program; for a LISTEN socket, the connections
    /// waiting in the accept queue.
    pub recv_q: u32,
    /// The owner's user id.
    pub uid: u32,
    /// The socket's inode: `/proc/PID/fd/N -> socket:[INODE]` links it to a process. 0 for a
    /// socket no process holds any more (TIME-WAIT).
    pub inode: u64,
    /// TCP: how many times in a row the kernel has resent unacknowledged data (the `retrnsmt`
    /// column); 0 once an acknowledgement arrives.
    pub retransmits: u32,
    /// UDP: datagrams dropped because the receive queue was full (the last column); `None` for
    /// TCP, whose lines have no such column.
    pub drops: Option<u64>,
}

// ANCHOR: states
/// The TCP state numbers of `include/net/tcp_states.h`, named as `ss` names them.
pub fn tcp_state(code: u8) -> &'static str {
    match code {
        0x01 => "ESTAB",
        0x02 => "SYN-SENT",
        0x03 => "SYN-RECV",
        0x04 => "FIN-WAIT-1",
        0x05 => "FIN-WAIT-2",
        0x06 => "TIME-WAIT",
        0x07 => "CLOSE",
        0x08 => "CLOSE-WAIT",
        0x09 => "LAST-ACK",
        0x0A => "LISTEN",
        0x0B => "CLOSING",
        0x0C => "NEW-SYN-RECV",
        _ => "UNKNOWN",
    }
}
// ANCHOR_END: states

/// UDP has no states; the kernel reuses TCP's numbers: 7 (CLOSE) for an unconnected socket,
/// 1 (ESTABLISHED) for one that called `connect()`.
fn udp_state(code: u8) -> &'static str {
    match code {
        0x01 => "ESTAB",
        _ => "UNCONN",
    }
}

// ANCHOR: parse_addr
/// Parses `0100007F:FF98` (IPv4) or a 32-hex-digit IPv6 address and a port.
///
/// The kernel prints each 32-bit word of the address as the number it holds in memory, so
/// the bytes come back in order by turning each word into bytes in *this machine's* order.
fn parse_addr(text: &str) -> Option<SocketAddr> {
    let (addr_hex, port_hex) = text.split_once(':')?;
    let port = u16::from_str_radix(port_hex, 16).ok()?;
    let mut bytes = Vec::with_capacity(16);
    for chunk in addr_hex.as_bytes().chunks(8) {
        let word = u32::from_str_radix(std::str::from_utf8(chunk).ok()?, 16).ok()?;
        bytes.extend_from_slice(&word.to_ne_bytes());
    }
    let ip = match bytes.len() {
        4 => IpAddr::V4(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3])),
        16 => IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(bytes.as_slice()).ok()?)),
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}
// ANCHOR_END: parse_addr

/// Parses the text of one `/proc/net/{tcp,udp}{,6}` file. Lines that do not parse are
/// skipped (the first line is the header).
pub fn parse(proto: Proto, text: &str) -> Vec<Entry> {
    text.lines().skip(1).filter_map(|line| parse_line(proto, line)).collect()
}

fn parse_line(proto: Proto, line: &str) -> Option<Entry> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ... (UDP: drops last)
    let local = parse_addr(fields.get(1)?)?;
    let remote = parse_addr(fields.get(2)?)?;
    let code = u8::from_str_radix(fields.get(3)?, 16).ok()?;
    let (tx, rx) = fields.get(4)?.split_once(':')?;
    Some(Entry {
        proto,
        local,
        remote,
        state: match proto {
            Proto::Tcp => tcp_state(code),
            Proto::Udp => udp_state(code),
        },
        send_q: u32::from_str_radix(tx, 16).ok()?,
        recv_q: u32::from_str_radix(rx, 16).ok()?,
        uid: fields.get(7)?.parse().ok()?,
        inode: fields.get(9)?.parse().ok()?,
        retransmits: u32::from_str_radix(fields.get(6)?, 16).ok()?,
        drops: match proto {
            Proto::Tcp => None,
            Proto::Udp => fields.get(12).and_then(|d| d.parse().ok()),
        },
    })
}

/// Reads the whole table: TCP and UDP, IPv4 and IPv6.
///
/// # Errors
/// On a system without `/proc/net` (anything but Linux), with the tool to use instead.
#[cfg(target_os = "linux")]
pub fn read_table() -> Result<Vec<Entry>> {
    read_table_where(|_| true)
}

/// Reads the table, parsing only the lines `keep` accepts (it sees the raw line): a busy
/// machine's table holds tens of thousands of TIME-WAIT lines, and `--kernel` wants one.
///
/// # Errors
/// As [`read_table`].
#[cfg(target_os = "linux")]
pub fn read_table_where(keep: impl Fn(&str) -> bool) -> Result<Vec<Entry>> {
    use anyhow::Context;
    let mut all = Vec::new();
    for (proto, file) in FILES {
        match std::fs::read_to_string(file) {
            Ok(text) => all.extend(
                text.lines().skip(1).filter(|l| keep(l)).filter_map(|l| parse_line(proto, l)),
            ),
            // A kernel without IPv6 has no tcp6/udp6: fewer sockets, not an error.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && file.ends_with('6') => {}
            Err(e) => return Err(e).with_context(|| format!("could not read {file}")),
        }
    }
    Ok(all)
}

/// Reads the whole table: TCP and UDP, IPv4 and IPv6.
///
/// # Errors
/// Always, here: only Linux has `/proc/net`.
#[cfg(not(target_os = "linux"))]
pub fn read_table() -> Result<Vec<Entry>> {
    read_table_where(|_| true)
}

/// Reads the table, parsing only the lines `keep` accepts.
///
/// # Errors
/// Always, here: only Linux has `/proc/net`.
#[cfg(not(target_os = "linux"))]
pub fn read_table_where(_keep: impl Fn(&str) -> bool) -> Result<Vec<Entry>> {
    anyhow::bail!(
        "the socket table is read from /proc/net, which only Linux has; on macOS and the BSDs \
         run `netstat -an -p tcp` (or `lsof -i -n -P`), on Windows `netstat -ano`"
    )
}

/// The inode of the socket behind descriptor `fd` of this process. `None` off Linux.
pub fn inode_of(fd: i32) -> Option<u64> {
    socket_inode(std::path::Path::new(&format!("/proc/self/fd/{fd}")))
}

/// The inode of the socket a descriptor link names: `/proc/PID/fd/N` is a link to
/// `socket:[INODE]`, the number the table's last column names. `None` for a descriptor that is
/// not a socket (or that is gone).
pub fn socket_inode(fd_link: &std::path::Path) -> Option<u64> {
    let target = std::fs::read_link(fd_link).ok()?;
    target.to_str()?.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines as a little-endian Linux machine prints them.
    #[cfg(target_endian = "little")]
    #[test]
    fn parses_real_proc_lines() {
        let tcp = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
           0: 0100007F:FF98 00000000:0000 0A 00000000:00000002 00:00000000 00000000     0        0 41263 1 0000000000000000 100 0 0 10 0\n\
           1: 0100007F:FF98 0100007F:D2F6 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000\n";
        let entries = parse(Proto::Tcp, tcp);
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].local, "127.0.0.1:65432".parse().expect("literal"));
        assert_eq!(entries[0].state, "LISTEN");
        assert_eq!(entries[0].recv_q, 2);
        assert_eq!(entries[0].inode, 41263);
        assert_eq!(entries[1].state, "TIME-WAIT");
        assert_eq!(entries[1].remote.port(), 0xD2F6);

        let tcp6 = "header\n   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 777 1\n\
           1: 0000000000000000FFFF00000100007F:1F90 0000000000000000FFFF00000100007F:C000 01 00000000:00000000 00:00000000 00000000  1000        0 778 1\n";
        let entries = parse(Proto::Tcp, tcp6);
        assert_eq!(entries[0].local, "[::1]:8080".parse().expect("literal"));
        assert_eq!(entries[0].uid, 1000);
        assert_eq!(entries[1].local, "[::ffff:127.0.0.1]:8080".parse().expect("literal"));
        assert_eq!(entries[1].state, "ESTAB");

        let udp = "header\n  1: 00000000:14E9 00000000:0000 07 00000000:00000000 00:00000000 00000000   101        0 555 2\n";
        assert_eq!(parse(Proto::Udp, udp)[0].state, "UNCONN");
    }

    #[test]
    fn garbage_lines_are_skipped() {
        assert!(parse(Proto::Tcp, "header\nnot a line\n 0: ZZ:1 00:0 0A\n").is_empty());
    }

    #[test]
    fn udp_drops_and_tcp_retransmits_are_read() {
        let udp = "header\n 1: 0100007F:14E9 00000000:0000 07 00000000:00000900 00:00000000 00000000 0 0 555 2 0000000000000000 12\n";
        let entry = &parse(Proto::Udp, udp)[0];
        assert_eq!((entry.recv_q, entry.drops), (0x900, Some(12)));
        let tcp = "header\n 0: 0100007F:FF98 0100007F:D2F6 01 00000010:00000000 01:00000030 00000003 0 0 9 1\n";
        let entry = &parse(Proto::Tcp, tcp)[0];
        assert_eq!((entry.send_q, entry.retransmits, entry.drops), (16, 3, None));
    }
}
