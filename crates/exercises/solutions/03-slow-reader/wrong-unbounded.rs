//! Exercise 03-slow-reader, a wrong answer: an outbox without a bound.
//!
//! Nobody waits any more, and nobody is dropped either: the slow member's queue grows with
//! everything the room says, in the server's memory.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;

/// The address used when none is given: chapter 03's port.
const DEFAULT_ADDR: &str = "127.0.0.1:7878";

/// The longest line relayed; a longer one ends its sender's connection.
const MAX_LINE: usize = 4 * 1024;

/// One member: its id, its outbox (a queue that its own writer thread empties), and
/// a handle on its socket, to shut it down when it is dropped.
struct Member {
    id: usize,
    outbox: Sender<Arc<[u8]>>,
    stream: TcpStream,
}

/// A member, from its accepted connection, with a writer thread of its own: a member that does
/// not read blocks that thread only, never the room.
fn join(conn: &TcpStream, id: usize) -> io::Result<Member> {
    let (outbox, queued) = channel::<Arc<[u8]>>();
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
    let outboxes: Vec<(usize, Sender<Arc<[u8]>>)> =
        lock(room).iter().filter(|m| m.id != from).map(|m| (m.id, m.outbox.clone())).collect();
    for (id, outbox) in outboxes {
        if !deliver(&outbox, &line) {
            eprintln!("member {id} reads too slowly: dropped");
            leave(room, id);
        }
    }
}

/// Puts `line` in `outbox`, which always has room; false when the member is gone.
fn deliver(outbox: &Sender<Arc<[u8]>>, line: &Arc<[u8]>) -> bool {
    outbox.send(Arc::clone(line)).is_ok()
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
