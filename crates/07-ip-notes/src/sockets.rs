//! `sockets`: the machine's socket table, as `netstat -an` and `ss -tuan` show it.
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
//! Other systems have no `/proc/net`: there the command says so and names the tool to use.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use anyhow::Result;
use serde::Serialize;

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
    // sl local rem st tx:rx tr:when retrnsmt uid timeout inode
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
    })
}

/// Reads the whole table: TCP and UDP, IPv4 and IPv6.
///
/// # Errors
/// On a system without `/proc/net` (anything but Linux), with the tool to use instead.
#[cfg(target_os = "linux")]
pub fn read_table() -> Result<Vec<Entry>> {
    use anyhow::Context;
    let mut all = Vec::new();
    for (proto, file) in [
        (Proto::Tcp, "/proc/net/tcp"),
        (Proto::Tcp, "/proc/net/tcp6"),
        (Proto::Udp, "/proc/net/udp"),
        (Proto::Udp, "/proc/net/udp6"),
    ] {
        match std::fs::read_to_string(file) {
            Ok(text) => all.extend(parse(proto, &text)),
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
    anyhow::bail!(
        "the socket table is read from /proc/net, which only Linux has; on macOS and the BSDs \
         run `netstat -an -p tcp` (or `lsof -i -n -P`), on Windows `netstat -ano`"
    )
}

/// What to keep from the table.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Keep sockets whose local or remote port is this.
    pub port: Option<u16>,
    /// Keep sockets in this state (`listen`, `time-wait`, `TIME_WAIT`, `established`, …).
    pub state: Option<String>,
    /// Keep only TCP, or only UDP.
    pub proto: Option<Proto>,
}

impl Filter {
    /// Does `entry` pass?
    pub fn keeps(&self, entry: &Entry) -> bool {
        let port_ok = self.port.is_none_or(|p| entry.local.port() == p || entry.remote.port() == p);
        let state_ok = self.state.as_deref().is_none_or(|s| normalize_state(s) == entry.state);
        let proto_ok = self.proto.is_none_or(|p| p == entry.proto);
        port_ok && state_ok && proto_ok
    }
}

/// Lets `--state` accept netstat's spelling (`TIME_WAIT`, `ESTABLISHED`) and ss's
/// (`time-wait`, `estab`).
pub fn normalize_state(text: &str) -> String {
    let upper = text.trim().to_ascii_uppercase().replace('_', "-");
    match upper.as_str() {
        "ESTABLISHED" => "ESTAB".to_owned(),
        "SYN-RECEIVED" => "SYN-RECV".to_owned(),
        _ => upper,
    }
}

/// Every state name `--state` accepts, for its error message.
pub const STATES: &[&str] = &[
    "ESTAB",
    "SYN-SENT",
    "SYN-RECV",
    "FIN-WAIT-1",
    "FIN-WAIT-2",
    "TIME-WAIT",
    "CLOSE",
    "CLOSE-WAIT",
    "LAST-ACK",
    "LISTEN",
    "CLOSING",
    "NEW-SYN-RECV",
    "UNCONN",
];

/// User names from `/etc/passwd`, for the owner column; the number when there is no name.
fn user_name(uid: u32, passwd: &str) -> String {
    passwd
        .lines()
        .find_map(|line| {
            let mut fields = line.split(':');
            let name = fields.next()?;
            let id: u32 = fields.nth(1)?.parse().ok()?;
            (id == uid).then(|| name.to_owned())
        })
        .unwrap_or_else(|| uid.to_string())
}

/// Which process holds each socket inode: `netstat -p`'s trick. Every `/proc/PID/fd/N` that
/// is a socket links to `socket:[INODE]`. Only our own processes are readable unless we are
/// root; others are left out.
#[cfg(target_os = "linux")]
pub fn owners() -> std::collections::HashMap<u64, String> {
    let mut map = std::collections::HashMap::new();
    let Ok(procs) = std::fs::read_dir("/proc") else { return map };
    for entry in procs.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else { continue };
        let name = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
        for fd in fds.flatten() {
            let Ok(target) = std::fs::read_link(fd.path()) else { continue };
            let target = target.to_string_lossy();
            if let Some(inode) = target.strip_prefix("socket:[").and_then(|t| t.strip_suffix(']')) {
                if let Ok(inode) = inode.parse() {
                    map.entry(inode).or_insert_with(|| format!("{pid}/{}", name.trim()));
                }
            }
        }
    }
    map
}

/// Which process holds each socket inode (Linux only).
#[cfg(not(target_os = "linux"))]
pub fn owners() -> std::collections::HashMap<u64, String> {
    std::collections::HashMap::new()
}

/// The table for people, in `ss -tuan`'s column order.
pub fn render(entries: &[Entry], processes: bool) -> String {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let owners = if processes { owners() } else { Default::default() };
    let mut header = ["proto", "state", "recv-q", "send-q", "local", "peer", "user", "inode"]
        .map(str::to_owned)
        .to_vec();
    if processes {
        header.push("process".to_owned());
    }
    let mut rows = vec![header];
    for e in entries {
        let proto = match e.proto {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        };
        let mut row = vec![
            proto.to_owned(),
            e.state.to_owned(),
            e.recv_q.to_string(),
            e.send_q.to_string(),
            e.local.to_string(),
            e.remote.to_string(),
            user_name(e.uid, &passwd),
            e.inode.to_string(),
        ];
        if processes {
            row.push(owners.get(&e.inode).cloned().unwrap_or_else(|| "-".to_owned()));
        }
        rows.push(row);
    }
    crate::columns(&rows)
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
    fn states_accept_both_spellings() {
        assert_eq!(normalize_state("time_wait"), "TIME-WAIT");
        assert_eq!(normalize_state("ESTABLISHED"), "ESTAB");
        assert_eq!(normalize_state("listen"), "LISTEN");
        for state in STATES {
            assert_eq!(normalize_state(state), *state);
        }
    }

    #[test]
    fn user_names_come_from_passwd() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/sh\n";
        assert_eq!(user_name(0, passwd), "root");
        assert_eq!(user_name(1000, passwd), "alice");
        assert_eq!(user_name(4242, passwd), "4242");
    }
}
