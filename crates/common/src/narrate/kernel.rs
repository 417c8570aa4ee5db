//! `--kernel`: after each narrated call, one line with what the kernel holds for that socket.
//!
//! The ideas students get wrong live in the kernel, between the calls: the handshake completes
//! before `accept()` (the accept queue fills), bytes wait in the receive queue until `recv()`,
//! a half-close leaves the other side in CLOSE-WAIT, the side that closes first sits in
//! TIME-WAIT. This module looks the socket up in the kernel's socket table
//! ([`crate::socket_table`], `/proc/net/tcp` and friends) and says, in one line:
//!
//! ```text
//! [server]   kernel: LISTEN · accept queue 2 of backlog 128
//! [server]   kernel: CLOSE-WAIT (the peer sent FIN: it will send no more) · receive queue 0 · send queue 0
//! ```
//!
//! A socket is found by its inode (`/proc/self/fd/N -> socket:[INODE]`); after `close()` the
//! descriptor is gone, so a closed socket is found by its two addresses instead, which is how
//! a TIME-WAIT entry (owned by no process, inode 0) shows. Linux only: elsewhere
//! [`start`] says so.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use crate::socket_table::{self, Entry, Proto};

static ON: AtomicBool = AtomicBool::new(false);

/// The backlog each listening socket asked for, by inode: `/proc/net/tcp` shows a listener's
/// accept queue, not its limit, so [`note_backlog`] remembers the limit when `listen()` runs.
static BACKLOGS: Mutex<Option<HashMap<u64, i32>>> = Mutex::new(None);

/// The two addresses of each connected socket seen so far, by inode. Once the peer's FIN has
/// moved a connection to TIME-WAIT, `getpeername()` fails (the socket is no longer connected)
/// while the table still lists it under those addresses.
static PAIRS: Mutex<Option<HashMap<u64, (SocketAddr, SocketAddr)>>> = Mutex::new(None);

/// Turns the kernel view on.
///
/// # Errors
/// Off Linux: the view is read from `/proc/net`, which only Linux has.
pub fn start() -> Result<(), String> {
    if !cfg!(target_os = "linux") {
        return Err("--kernel reads the kernel's socket table from /proc/net, which only Linux \
                    has; elsewhere watch `netstat -an` in a second terminal"
            .to_owned());
    }
    ON.store(true, Ordering::Relaxed);
    Ok(())
}

/// Is the kernel view on?
#[inline]
pub fn is_on() -> bool {
    ON.load(Ordering::Relaxed)
}

/// What a socket is: TCP, UDP or a Unix socket, told apart by its type and address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Tcp,
    Udp,
    Unix,
}

/// Enough about one socket to find it in the table, now or after it is closed.
#[derive(Debug, Clone)]
pub struct Key {
    fd: String,
    kind: Option<Kind>,
    inode: Option<u64>,
    local: Option<SocketAddr>,
    peer: Option<SocketAddr>,
}

impl Key {
    /// Reads what identifies `socket`: its descriptor's inode and its two addresses.
    #[cfg(unix)]
    pub fn of<S: std::os::fd::AsFd + ?Sized>(socket: &S) -> Self {
        use std::os::fd::AsRawFd;
        let borrowed = socket.as_fd();
        let sock = socket2::SockRef::from(&borrowed);
        let local_addr = sock.local_addr().ok();
        let kind = match sock.r#type() {
            _ if local_addr.as_ref().is_some_and(|a| a.is_unix()) => Some(Kind::Unix),
            Ok(socket2::Type::STREAM) => Some(Kind::Tcp),
            Ok(socket2::Type::DGRAM) => Some(Kind::Udp),
            _ => None,
        };
        let fd = borrowed.as_raw_fd();
        let inode = socket_table::inode_of(fd);
        let mut local = local_addr.and_then(|a| a.as_socket());
        let mut peer = sock.peer_addr().ok().and_then(|a| a.as_socket());
        if let Some(inode) = inode {
            let mut pairs = PAIRS.lock().unwrap_or_else(PoisonError::into_inner);
            let pairs = pairs.get_or_insert_with(HashMap::new);
            match (local, peer) {
                (Some(l), Some(p)) => {
                    pairs.insert(inode, (l, p));
                }
                _ => {
                    if let Some(&(l, p)) = pairs.get(&inode) {
                        (local, peer) = (Some(l), Some(p));
                    }
                }
            }
        }
        Key { fd: format!("fd {fd}"), kind, inode, local, peer }
    }

    /// The descriptor, as narration names it: `fd 4`.
    pub fn fd(&self) -> &str {
        &self.fd
    }

    /// The same socket once it is closed: its descriptor (and inode) is gone, so it is looked
    /// up by its addresses.
    pub fn closed(self) -> Self {
        if let Some(inode) = self.inode {
            let mut pairs = PAIRS.lock().unwrap_or_else(PoisonError::into_inner);
            pairs.get_or_insert_with(HashMap::new).remove(&inode);
        }
        Key { inode: None, ..self }
    }
}

/// A socket whose kernel view `--kernel` can show: anything with a descriptor, and the
/// wrappers around one (chapter 01's byte-counting `Tally`) that pass it on.
pub trait Watch {
    /// What identifies the socket, or `None` when there is none to look up (a test double).
    fn key(&self) -> Option<Key>;
}

#[cfg(unix)]
impl<T: std::os::fd::AsFd + ?Sized> Watch for T {
    fn key(&self) -> Option<Key> {
        Some(Key::of(self))
    }
}

#[cfg(windows)]
impl<T: std::os::windows::io::AsRawSocket + ?Sized> Watch for T {
    fn key(&self) -> Option<Key> {
        let fd = format!("socket {}", self.as_raw_socket());
        Some(Key { fd, kind: None, inode: None, local: None, peer: None })
    }
}

/// Remembers the backlog `listen()` was given, for the LISTEN line's "of N".
#[cfg(unix)]
pub fn note_backlog<S: std::os::fd::AsFd>(socket: &S, backlog: i32) {
    use std::os::fd::AsRawFd;
    let inode = || socket_table::inode_of(socket.as_fd().as_raw_fd());
    if let Some(inode) = is_on().then(inode).flatten() {
        let mut map = BACKLOGS.lock().unwrap_or_else(PoisonError::into_inner);
        map.get_or_insert_with(HashMap::new).insert(inode, backlog);
    }
}

/// Remembers the backlog `listen()` was given (nothing to remember off Unix).
#[cfg(windows)]
pub fn note_backlog<S>(_socket: &S, _backlog: i32) {}

/// The one line for `keys` (several for a call like `accept()` that involves two sockets),
/// read from the table as it is now.
pub fn view(keys: &[Key]) -> String {
    // Only lines that can be ours are parsed: those naming one of the inodes, or one of the
    // local ports (` :1F90 ` as the kernel writes port 8080), for a socket in TIME-WAIT.
    let needles: Vec<String> = keys
        .iter()
        .flat_map(|k| {
            let inode = k.inode.map(|i| format!(" {i} "));
            let port = k.local.map(|a| format!(":{:04X} ", a.port()));
            inode.into_iter().chain(port)
        })
        .collect();
    let keep = |line: &str| needles.iter().any(|n| line.contains(n.as_str()));
    let table = socket_table::read_table_where(keep).unwrap_or_default();
    let unix = if keys.iter().any(|k| k.kind == Some(Kind::Unix)) {
        std::fs::read_to_string("/proc/net/unix").unwrap_or_default()
    } else {
        String::new()
    };
    let parts: Vec<String> = keys
        .iter()
        .map(|key| {
            let said = describe(key, &table, &unix);
            if keys.len() > 1 { format!("{}: {said}", key.fd) } else { said }
        })
        .collect();
    format!("  kernel: {}", parts.join(" | "))
}

/// One socket's state and queues, in words.
fn describe(key: &Key, table: &[Entry], unix: &str) -> String {
    if key.kind == Some(Kind::Unix) {
        return describe_unix(key, unix);
    }
    let by_inode = key.inode.and_then(|inode| table.iter().find(|e| e.inode == inode));
    // A connection in TIME-WAIT belongs to no socket any more (inode 0), even while the
    // program still holds the descriptor; after close() the descriptor is gone too. Either way
    // it lives on in the table under its two addresses.
    let by_addresses = || {
        let (local, peer) = (key.local?, key.peer?);
        table.iter().find(|e| e.proto == Proto::Tcp && e.local == local && e.remote == peer)
    };
    match by_inode.or_else(by_addresses) {
        Some(entry) => describe_entry(entry),
        None if key.inode.is_none() || key.peer.is_some() => {
            "CLOSED · gone from the table: nothing left to send or to wait for".to_owned()
        }
        None => match key.kind {
            Some(Kind::Tcp) => "not in /proc/net/tcp yet: a TCP socket is listed once it listens \
                                or connects"
                .to_owned(),
            _ => "not in /proc/net/udp yet: a UDP socket is listed once it has a port".to_owned(),
        },
    }
}

fn describe_entry(e: &Entry) -> String {
    if e.proto == Proto::Udp {
        let mut line = format!(
            "UDP {} · receive queue {} bytes · send queue {} bytes",
            if e.state == "ESTAB" { "connected" } else { "unconnected" },
            e.recv_q,
            e.send_q
        );
        if let Some(drops) = e.drops.filter(|&d| d > 0) {
            line.push_str(&format!(" · {drops} datagrams dropped (queue full)"));
        }
        return line;
    }
    if e.state == "LISTEN" {
        let backlog = BACKLOGS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .and_then(|m| m.get(&e.inode).copied());
        // The accept queue holds connections whose handshake is done, waiting for accept().
        let of = backlog.map(|b| format!(" of backlog {b}")).unwrap_or_default();
        return format!("LISTEN · accept queue {}{of}", e.recv_q);
    }
    let mut line = e.state.to_owned();
    if let Some(gloss) = gloss(e.state) {
        line.push_str(&format!(" ({gloss})"));
    }
    line.push_str(&format!(" · receive queue {} · send queue {}", e.recv_q, e.send_q));
    if e.retransmits > 0 {
        line.push_str(&format!(" · {} retransmissions", e.retransmits));
    }
    line
}

/// What a TCP state means for the program holding the socket, in a few words.
fn gloss(state: &str) -> Option<&'static str> {
    Some(match state {
        "SYN-SENT" => "SYN sent, waiting for SYN-ACK",
        "SYN-RECV" => "SYN-ACK sent, waiting for the ACK",
        "FIN-WAIT-1" => "our FIN sent, not yet acknowledged",
        "FIN-WAIT-2" => "our FIN acknowledged: waiting for the peer's",
        "CLOSE-WAIT" => "the peer sent FIN: it will send no more",
        "LAST-ACK" => "both FINs sent: waiting for the last ACK",
        "TIME-WAIT" => "this side closed first: the pair is kept 60 s",
        "CLOSING" => "both sides closed at once",
        _ => return None,
    })
}

/// `/proc/net/unix`: `Num RefCount Protocol Flags Type St Inode Path`; the flag 0x10000
/// marks a listener, St 03 a connected socket. No queue sizes are published for Unix sockets.
fn describe_unix(key: &Key, unix: &str) -> String {
    let line = key.inode.and_then(|inode| {
        unix.lines()
            .skip(1)
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .find(|f| f.get(6).and_then(|i| i.parse::<u64>().ok()) == Some(inode))
    });
    let Some(fields) = line else {
        return "a Unix socket, gone from /proc/net/unix".to_owned();
    };
    let listening =
        fields.get(3).and_then(|f| u32::from_str_radix(f, 16).ok()).unwrap_or(0) & 0x1_0000 != 0;
    let state = match (listening, fields.get(5).copied()) {
        (true, _) => "LISTEN",
        (_, Some("03")) => "CONNECTED",
        (_, Some("04")) => "DISCONNECTING",
        _ => "UNCONNECTED",
    };
    format!("Unix socket {state} (/proc/net/unix shows no queue sizes)")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(state: &'static str, recv_q: u32) -> Entry {
        Entry {
            proto: Proto::Tcp,
            local: "127.0.0.1:1".parse().expect("literal"),
            remote: "127.0.0.1:2".parse().expect("literal"),
            state,
            send_q: 0,
            recv_q,
            uid: 0,
            inode: 0,
            retransmits: 0,
            drops: None,
        }
    }

    #[test]
    fn states_are_glossed_with_their_queues() {
        assert_eq!(
            describe_entry(&entry("CLOSE-WAIT", 5)),
            "CLOSE-WAIT (the peer sent FIN: it will send no more) · receive queue 5 · send queue 0"
        );
        assert!(describe_entry(&entry("LISTEN", 2)).starts_with("LISTEN · accept queue 2"));
    }

    #[test]
    fn a_closed_socket_is_found_by_its_addresses() {
        let key = Key {
            fd: "fd 4".into(),
            kind: Some(Kind::Tcp),
            inode: None,
            local: "127.0.0.1:1".parse().ok(),
            peer: "127.0.0.1:2".parse().ok(),
        };
        let said = describe(&key, &[entry("TIME-WAIT", 0)], "");
        assert!(said.starts_with("TIME-WAIT (this side closed first"), "{said}");
        assert!(describe(&key, &[], "").starts_with("CLOSED"));
    }
}
