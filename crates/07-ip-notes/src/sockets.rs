//! `sockets`: the machine's socket table, as `netstat -an` and `ss -tuan` show it.
//!
//! On Linux the kernel publishes every TCP and UDP socket in four text files under
//! `/proc/net`, one line each; [`common::socket_table`] reads them (its page shows a line and
//! how to decode it). Other systems have no `/proc/net`: there the command says so and names
//! the tool to use.

// The table itself (the four files, their parser, the state names) is in `common`, because
// every chapter's `--kernel` reads it too; this command filters it and prints it.
pub use common::socket_table::{Entry, Proto, parse, read_table, tcp_state};

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
            if let Some(inode) = common::socket_table::socket_inode(&fd.path()) {
                map.entry(inode).or_insert_with(|| format!("{pid}/{}", name.trim()));
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
