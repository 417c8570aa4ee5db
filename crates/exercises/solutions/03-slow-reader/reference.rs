//! Exercise 03-slow-reader, the reference: an outbox and a writer thread per member, bounded.
//!
//! Run: `cargo run -q -p exercise --bin ref-03-slow-reader -- 127.0.0.1:7878`

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

/// The address used when none is given: chapter 03's port.
const DEFAULT_ADDR: &str = "127.0.0.1:7878";

/// The longest line relayed; a longer one ends its sender's connection.
const MAX_LINE: usize = 4 * 1024;

/// Lines a member may have waiting before the room gives up on it: 1024 lines of at most
/// 4 KiB, a few MiB at worst, and far more than a member that reads ever has waiting.
const MAX_QUEUED_LINES: usize = 1024;

/// How long a line waits for room in a member's outbox before the member counts as gone.
const MAX_WAIT: Duration = Duration::from_secs(1);

/// One member: its id, its outbox (a bounded queue that its own writer thread empties), and
/// a handle on its socket, to shut it down when it is dropped.
struct Member {
    id: usize,
    outbox: SyncSender<Arc<[u8]>>,
    stream: TcpStream,
}

/// A member, from its accepted connection, with a writer thread of its own: a member that does
/// not read blocks that thread only, never the room.
fn join(conn: &TcpStream, id: usize) -> io::Result<Member> {
    let (outbox, queued) = sync_channel::<Arc<[u8]>>(MAX_QUEUED_LINES);
    let mut writer = conn.try_clone()?;
    thread::spawn(move || {
        for line in queued {
            if writer.write_all(&line).is_err() {
                return;
            }
        }
    });
    Ok(Member { id, outbox, stream: conn.try_clone()? })
}

/// Everyone in the room.
type Room = Arc<Mutex<Vec<Member>>>;

fn main() -> io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| DEFAULT_ADDR.to_owned());
    let listener = TcpListener::bind(&addr)?;
    println!("listening on {}", listener.local_addr()?);
    let room: Room = Arc::default();
    for (id, conn) in listener.incoming().enumerate() {
        let mut conn = match conn {
            Ok(conn) => conn,
            Err(e) => {
                eprintln!("accept failed: {e}");
                continue;
            }
        };
        let member = match join(&conn, id) {
            Ok(member) => member,
            Err(e) => {
                eprintln!("could not add a member: {e}");
                continue;
            }
        };
        lock(&room).push(member);
        // In the room before the greeting: a client that has read it will get every line.
        if conn.write_all(b"welcome\n").is_err() {
            continue;
        }
        let room = Arc::clone(&room);
        thread::spawn(move || {
            relay_lines(conn, id, &room);
            // Gone: out of the room, and the socket closed for good.
            leave(&room, id);
        });
    }
    Ok(())
}

/// Reads the member's lines and hands each one to everybody else.
fn relay_lines(conn: TcpStream, id: usize, room: &Room) {
    let mut reader = BufReader::new(conn);
    let mut line = Vec::new();
    loop {
        line.clear();
        match (&mut reader).take(MAX_LINE as u64 + 1).read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) if !line.ends_with(b"\n") => return,
            Ok(_) => broadcast(room, id, &line),
        }
    }
}

/// Hands `line` to every member but its sender. A member whose outbox stays full for MAX_WAIT
/// is too far behind for the room: it is dropped, and the others go on.
fn broadcast(room: &Room, from: usize, line: &[u8]) {
    let line: Arc<[u8]> = line.into();
    // The outboxes, copied out of the lock: waiting for one member's room holds up no one
    // else's join or leave.
    let outboxes: Vec<(usize, SyncSender<Arc<[u8]>>)> =
        lock(room).iter().filter(|m| m.id != from).map(|m| (m.id, m.outbox.clone())).collect();
    for (id, outbox) in outboxes {
        if !deliver(&outbox, &line) {
            eprintln!("member {id} reads too slowly: dropped");
            leave(room, id);
        }
    }
}

/// Puts `line` in `outbox`, waiting up to MAX_WAIT for room; false when the member is gone or
/// that far behind. The wait slows a fast sender down to the pace of the readers who keep up.
fn deliver(outbox: &SyncSender<Arc<[u8]>>, line: &Arc<[u8]>) -> bool {
    let deadline = Instant::now() + MAX_WAIT;
    let mut line = Arc::clone(line);
    loop {
        match outbox.try_send(line) {
            Ok(()) => return true,
            Err(TrySendError::Full(back)) if Instant::now() < deadline => {
                line = back;
                thread::sleep(Duration::from_millis(1));
            }
            Err(_) => return false,
        }
    }
}

/// Takes the member out of the room and closes its socket. Removing it is not enough: its
/// writer thread may be stuck in write_all and its reader in read, each holding a copy of the
/// socket; shutdown() ends both.
fn leave(room: &Room, id: usize) {
    let mut members = lock(room);
    if let Some(i) = members.iter().position(|m| m.id == id) {
        let _ = members[i].stream.shutdown(Shutdown::Both);
        members.remove(i);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
