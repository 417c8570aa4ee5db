//! Exercise 03-slow-reader (fix it): a room whose broadcast waits for its slowest member.
//!
//! This chat room relays each line a member sends to every other member. It works while
//! everyone reads. One member that stops reading (a laptop that went to sleep, a client stuck
//! in a prompt) fills its socket buffers; then `write_all` to it blocks, inside `broadcast`,
//! while holding the room's lock, and nobody hears anybody any more. Make the room keep
//! serving the others, and drop (disconnect) a member that falls too far behind, so its
//! backlog stays bounded. Then: `cargo exercise check 03-slow-reader`.
//!
//! Try it by hand: `cargo run -q -p ex03-slow-reader`, a reader `nc 127.0.0.1 7878`, a client
//! that never reads (`python3 -c "import socket,time; s=socket.create_connection(('127.0.0.1',7878)); time.sleep(60)"`),
//! and a sender: `python3 -c "import socket; s=socket.create_connection(('127.0.0.1',7878)); s.sendall((b'x'*1023+b'\n')*8192)"`.
//! The book: docs/src/03-long-chat.md, "Fan-out: slow readers, stuck readers and floods".

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;

/// The address used when none is given: chapter 03's port.
const DEFAULT_ADDR: &str = "127.0.0.1:7878";

/// The longest line relayed; a longer one ends its sender's connection.
const MAX_LINE: usize = 4 * 1024;

/// One member: its id, and a handle on its socket to write to.
struct Member {
    id: usize,
    stream: TcpStream,
}

/// A member, from its accepted connection.
fn join(conn: &TcpStream, id: usize) -> io::Result<Member> {
    Ok(Member { id, stream: conn.try_clone()? })
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

/// Sends `line` to every member but its sender; a member whose socket fails is dropped.
fn broadcast(room: &Room, from: usize, line: &[u8]) {
    let mut members = lock(room);
    members.retain_mut(|m| m.id == from || m.stream.write_all(line).is_ok());
}

/// Takes the member out of the room and closes its socket.
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
