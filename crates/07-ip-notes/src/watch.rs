//! `watch`: the socket table refreshed in place, like `watch ss -tan`, with what changed marked.
//!
//! The kernel moves a connection through its states on its own, between the program's calls:
//! the handshake completes before `accept()`, a half-close leaves the other side in CLOSE-WAIT,
//! the side that closed first waits in TIME-WAIT. `sockets` shows one moment of that; `watch`
//! reads the table again every half second and marks what moved, so in class it is the second
//! pane next to a server run with `--step --kernel`.
//!
//! Each refresh reads the whole table (the same `/proc/net` files as `sockets`), keeps the rows
//! the filter keeps, and compares them with the refresh before. A row is known by its protocol
//! and its two addresses, not by its inode: a connection keeps its address pair from SYN to
//! TIME-WAIT, while its inode becomes 0 the moment no process holds it any more.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Result;
use common::stop::Stop;

use crate::sockets::{self, Entry, Filter, Proto};

/// Twice a second. An Enter pressed at a `--step` prompt in the server's pane shows here before
/// the class has looked across, yet the screen stays readable and reading four small files
/// costs nothing measurable. (`watch`'s own 2 s feels like a lag while an instructor talks.)
/// States that last microseconds on loopback (SYN-SENT, FIN-WAIT-1, LAST-ACK) are missed at any
/// interval a person can follow; the ones the lessons are about (a LISTEN's queue, ESTAB,
/// CLOSE-WAIT, FIN-WAIT-2, TIME-WAIT's 60 s) last until somebody acts.
pub const DEFAULT_INTERVAL_SECS: &str = "0.5";
/// The shortest `--interval`: faster only burns CPU re-reading a table that has not moved.
pub const MIN_INTERVAL_SECS: f64 = 0.05;
/// The longest `--interval`: slower than a minute, TIME-WAIT comes and goes unseen.
pub const MAX_INTERVAL_SECS: f64 = 60.0;
/// The most refreshes `--count` asks for: almost six days at the default interval.
pub const MAX_REFRESHES: usize = 1_000_000;

/// What to watch and how often.
#[derive(Debug, Clone)]
pub struct Options {
    /// Which rows to keep (port, protocol); the state filter of `sockets` is not offered,
    /// since a state change is what this command is for.
    pub filter: Filter,
    /// Time between two refreshes.
    pub interval: Duration,
    /// Stop after this many refreshes; `None` runs until Ctrl-C.
    pub count: Option<usize>,
}

/// Refreshes the table until `--count` refreshes are done or Ctrl-C, which stops cleanly.
///
/// On a terminal every refresh redraws the screen in place; otherwise (piped, in a test) a
/// frame is printed only when the table changed, and the first, so a quiet socket does not
/// flood the pipe with identical frames.
///
/// # Errors
/// When the table cannot be read (off Linux: the same error as `sockets`).
pub fn run(options: &Options) -> Result<()> {
    let stop = Stop::new();
    stop.trigger_on_ctrl_c()?;
    // Ctrl-C wakes the pause between refreshes through this channel: no polling of the flag.
    let (wake, woken) = mpsc::channel();
    let _wake_on_stop = stop.watch(move || {
        let _ = wake.send(());
    });
    let terminal = std::io::stdout().is_terminal();
    let started = Instant::now();
    let (mut previous, mut frame, mut last_change) = (None, String::new(), started);
    let mut refreshes = 0;
    // ANCHOR: refresh
    while !stop.is_stopping() {
        let current = snapshot(&options.filter)?;
        refreshes += 1;
        let changed = previous.as_ref().is_none_or(|before| differs(before, &current));
        if changed {
            // The marks stay on screen until the next change, so a late look still sees them.
            frame = render(&compare(previous.as_ref(), &current), terminal);
            last_change = Instant::now();
        }
        let text = match (terminal, changed) {
            (true, _) => format!("{CLEAR}{}\n{frame}", header(options, last_change)),
            (false, true) => format!("at {:.2} s\n{frame}\n", started.elapsed().as_secs_f64()),
            (false, false) => String::new(),
        };
        if !show(&text)? {
            return Ok(()); // The reader went away (`| head`): it has what it wanted.
        }
        previous = Some(current);
        if options.count.is_some_and(|count| refreshes >= count) {
            break; // Done: no wait after the last refresh.
        }
        let _ = woken.recv_timeout(options.interval); // A refresh's wait, or Ctrl-C's wake-up.
    }
    // ANCHOR_END: refresh
    if stop.is_stopping() {
        let plural = if refreshes == 1 { "" } else { "es" };
        eprintln!("stopped after {refreshes} refresh{plural}");
    }
    Ok(())
}

/// One refresh: the rows to show, sorted by protocol and address so they stay in place.
type Table = BTreeMap<Key, Entry>;

/// What a row is known by from one refresh to the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    udp: bool,
    local: SocketAddr,
    remote: SocketAddr,
    /// 0, or 1, 2, … for sockets sharing an address pair (listeners with SO_REUSEPORT).
    twin: usize,
}

fn snapshot(filter: &Filter) -> Result<Table> {
    let mut table = Table::new();
    for entry in sockets::read_table()?.into_iter().filter(|e| filter.keeps(e)) {
        let udp = entry.proto == Proto::Udp;
        let mut key = Key { udp, local: entry.local, remote: entry.remote, twin: 0 };
        while table.contains_key(&key) {
            key.twin += 1;
        }
        table.insert(key, entry);
    }
    Ok(table)
}

/// Did anything a reader sees change: a row, a state, a queue?
fn differs(before: &Table, now: &Table) -> bool {
    let seen = |(key, e): (&Key, &Entry)| (*key, e.state, e.recv_q, e.send_q);
    !before.iter().map(seen).eq(now.iter().map(seen))
}

/// What happened to a row since the refresh before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    /// Same state as before (its queues may have moved).
    Same,
    /// Not there before: a new listener, a connection the handshake just made.
    New,
    /// There before in another state: ESTAB to CLOSE-WAIT after the peer's FIN, say.
    Changed,
    /// There before, gone now: the kernel freed it (after LAST-ACK, or TIME-WAIT's end).
    Gone,
}

/// The state a gone TCP row shows, once: every TCP socket's life ends in CLOSED.
const GONE: &str = "CLOSED (gone)";
/// A UDP socket has no states to end in (`ss` calls every one UNCONN or ESTAB): it is gone.
const GONE_UDP: &str = "(gone)";

// ANCHOR: compare
/// Marks each row of `now` against `before` (nothing is marked on the first refresh) and adds
/// the rows that went away.
fn compare(before: Option<&Table>, now: &Table) -> Vec<(Mark, Entry)> {
    let Some(before) = before else {
        return now.values().map(|e| (Mark::Same, e.clone())).collect();
    };
    let mut rows: BTreeMap<&Key, (Mark, Entry)> = BTreeMap::new();
    for (key, entry) in now {
        let mark = match before.get(key) {
            None => Mark::New,
            Some(old) if old.state != entry.state => Mark::Changed,
            Some(_) => Mark::Same,
        };
        rows.insert(key, (mark, entry.clone()));
    }
    for (key, old) in before.iter().filter(|(key, _)| !now.contains_key(key)) {
        let state = if key.udp { GONE_UDP } else { GONE };
        rows.insert(key, (Mark::Gone, Entry { state, ..old.clone() }));
    }
    rows.into_values().collect()
}
// ANCHOR_END: compare

/// ANSI: cursor home, then clear the screen; a redraw in place, as `watch` and `top` do.
const CLEAR: &str = "\x1b[H\x1b[2J";
/// ANSI: reverse video for a new or changed row, dim for a gone one, and back to normal.
const REVERSE: &str = "\x1b[7m";
const DIM: &str = "\x1b[2m";
const NORMAL: &str = "\x1b[0m";

/// The table as `sockets` prints it, with a first column for the mark (`+`, `*`, `-`).
fn render(rows: &[(Mark, Entry)], terminal: bool) -> String {
    let entries: Vec<Entry> = rows.iter().map(|(_, e)| e.clone()).collect();
    let table = sockets::render(&entries, false);
    let mut lines = table.lines();
    let mut out = format!("  {}\n", lines.next().unwrap_or_default());
    if rows.is_empty() {
        out.push_str("  (no socket matches: nothing listens or connects there yet)\n");
    }
    for ((mark, _), line) in rows.iter().zip(lines) {
        let (symbol, style) = match mark {
            Mark::Same => (' ', ""),
            Mark::New => ('+', REVERSE),
            Mark::Changed => ('*', REVERSE),
            Mark::Gone => ('-', DIM),
        };
        if terminal && !style.is_empty() {
            out.push_str(&format!("{style}{symbol} {line}{NORMAL}\n"));
        } else {
            out.push_str(&format!("{symbol} {line}\n"));
        }
    }
    out
}

/// The terminal's header, two lines: what is watched, the clock and the last change; the marks.
fn header(options: &Options, last_change: Instant) -> String {
    let port = options.filter.port.map_or("all ports".to_owned(), |p| format!("port {p}"));
    let proto = match options.filter.proto {
        Some(Proto::Tcp) => "tcp",
        Some(Proto::Udp) => "udp",
        None => "tcp+udp",
    };
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) % 86_400;
    format!(
        "watch {port}, {proto}, every {} s   {:02}:{:02}:{:02} UTC, last change {:.1} s ago\n\
         + new   * state changed   - gone            Ctrl-C stops",
        options.interval.as_secs_f64(),
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        last_change.elapsed().as_secs_f64(),
    )
}

/// Writes `text` to stdout at once (one write, so a redraw does not flicker). `false` when
/// stdout's reader has closed it.
fn show(text: &str) -> Result<bool> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// `watch --help`'s lesson: what the columns mean, and the three-pane recipe for class.
pub const HELP: &str = "\
The columns (as in `ss -tan`):
  first    + new since the last change, * its state changed, - gone (shown once: CLOSED for TCP)
  state    TCP: LISTEN, SYN-SENT, ESTAB, FIN-WAIT-1/2, CLOSE-WAIT, LAST-ACK, TIME-WAIT, ...
           UDP: UNCONN, or ESTAB after connect()
  recv-q   bytes that arrived and wait for the program's recv(); for a LISTEN socket, the
           connections whose handshake is done and that wait for accept(): the accept queue
  send-q   bytes sent and not yet acknowledged by the peer (0 for LISTEN here; ss shows the
           backlog there, which /proc/net does not publish)
  local    this socket's address; peer: the other end's (0.0.0.0:0 when there is none)
  user     the owner; inode: the socket's number in /proc/PID/fd (0 in TIME-WAIT: no process
           holds the socket any more, the kernel keeps it alone)

On a terminal the table is redrawn in place, new and changed rows in reverse video, and the
marks stay until the next change. Piped or redirected, it prints a frame only when something
changed (and the first), each headed by `at SECONDS s`, with no escape codes.

In class, three panes:
  1  01-echo server --step --kernel      each socket call waits for Enter, then shows its state
  2  01-echo client                      or the tutorial's echo-client.py
  3  07-ip-notes watch --port 65432      this: the kernel's whole table for that port

Linux only: it reads /proc/net, as `sockets` does.";

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(local: &str, remote: &str, state: &'static str) -> Entry {
        Entry {
            proto: Proto::Tcp,
            local: local.parse().expect("literal"),
            remote: remote.parse().expect("literal"),
            state,
            send_q: 0,
            recv_q: 0,
            uid: 0,
            inode: 1,
            retransmits: 0,
            drops: None,
        }
    }

    fn table(entries: &[Entry]) -> Table {
        let mut table = Table::new();
        for e in entries {
            let key = Key { udp: false, local: e.local, remote: e.remote, twin: 0 };
            table.insert(key, e.clone());
        }
        table
    }

    #[test]
    fn new_changed_and_gone_rows_are_marked() {
        let listen = entry("127.0.0.1:9000", "0.0.0.0:0", "LISTEN");
        let server = entry("127.0.0.1:9000", "127.0.0.1:40000", "ESTAB");
        let client = entry("127.0.0.1:40000", "127.0.0.1:9000", "ESTAB");
        let first = table(&[listen.clone(), server.clone(), client.clone()]);
        assert!(compare(None, &first).iter().all(|(mark, _)| *mark == Mark::Same));

        let closing = Entry { state: "TIME-WAIT", inode: 0, ..client };
        let second = table(&[listen, closing]);
        let rows = compare(Some(&first), &second);
        let marks: Vec<(Mark, &str)> = rows.iter().map(|(m, e)| (*m, e.state)).collect();
        assert_eq!(
            marks,
            [(Mark::Same, "LISTEN"), (Mark::Gone, GONE), (Mark::Changed, "TIME-WAIT")]
        );
        assert!(differs(&first, &second) && !differs(&second, &second));
        let queued = table(&[Entry { recv_q: 5, ..server }]);
        assert!(differs(&table(&[entry("127.0.0.1:9000", "127.0.0.1:40000", "ESTAB")]), &queued));
    }

    #[test]
    fn a_gone_udp_socket_is_not_called_closed() {
        let bound = Entry { proto: Proto::Udp, ..entry("127.0.0.1:5005", "0.0.0.0:0", "UNCONN") };
        let mut before = Table::new();
        before.insert(Key { udp: true, local: bound.local, remote: bound.remote, twin: 0 }, bound);
        let rows = compare(Some(&before), &Table::new());
        assert_eq!(
            rows.iter().map(|(m, e)| (*m, e.state)).collect::<Vec<_>>(),
            [(Mark::Gone, GONE_UDP)]
        );
    }

    #[test]
    fn piped_frames_have_no_escape_codes_and_terminal_ones_do() {
        let rows = [
            (Mark::Same, entry("127.0.0.1:9000", "0.0.0.0:0", "LISTEN")),
            (Mark::New, entry("127.0.0.1:9000", "127.0.0.1:40000", "ESTAB")),
        ];
        let piped = render(&rows, false);
        assert!(!piped.contains('\x1b'), "{piped}");
        let lines: Vec<&str> = piped.lines().collect();
        assert!(lines[0].starts_with("  proto  state"), "{piped}");
        assert!(lines[1].starts_with("  tcp    LISTEN"), "{piped}");
        assert!(lines[2].starts_with("+ tcp    ESTAB"), "{piped}");
        assert!(render(&rows, true).contains(&format!("{REVERSE}+ tcp")));
    }
}
